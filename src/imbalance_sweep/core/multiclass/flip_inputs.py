"""A K-class model of the uniform score model (per-class accuracies, an error spread, training counts)
as what ``prior_flip`` compares (:class:`prior_flip.ClassValues`): for each loss the exact expected
term l_k of each true class (``expected_terms``, the exact expected mode's moments) and its class
weight w_k (``losses.class_weights``, from the training counts), and the confusion rates
(a_k on the diagonal, (1 - a_k) r_kc off it, ``expected_metrics.expected_confusion``).

The loss under a validation prior pi is then ``sum_k pi_k w_k l_k``, the exact expected mode's
``loss/<name>`` at counts proportional to pi: the terms do not depend on the validation counts, only
on the model and its training counts, which is what lets the flip move the prior alone.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, names_from, shown
from ..vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME
from .expected import class_accuracies, error_spread
from .expected_metrics import expected_confusion
from .expected_terms import term_moments
from .labelled import checked_classes, per_class
from .loss_settings import class_tables, of_the_training_prior
from .losses import class_weights
from .prior_flip import ClassValues, class_values
from .profiles import ERROR_RULES
from .profiles import error_spread as rule_spread

Floats = NDArray[np.float64]


def model_class_values(
    name: str,
    accuracies: Any,
    errors: Any,
    training_counts: Any,
    *,
    losses: Any = MULTICLASS_LOSS_NAMES,
    **loss_settings: Any,
) -> ClassValues:
    """Public API: model ``name``'s class-conditional values for ``prior_flip``. ``accuracies`` (K,)
    in [0, 1]; ``errors`` a rule of ``profiles.ERROR_RULES`` or the K x K error spread (zero
    diagonal, rows summing to 1); ``training_counts`` (K,) the training set's counts (> 0 where a
    loss of ``losses`` takes their prior); ``losses`` may be [] (the confusion rates alone);
    ``loss_settings`` as ``loss_settings.class_tables`` takes them (``alpha``, ``gamma``, ``beta``,
    ``tau``, ``max_margin``, ``scale``)."""
    if np.ndim(accuracies) != 1:
        raise InvalidValue(f"accuracies={shown(accuracies)} is not a list of K accuracies, one a class")
    classes = checked_classes(len(accuracies))
    checked_accuracies = class_accuracies(accuracies, classes)
    names = (
        ()
        if isinstance(losses, (list, tuple)) and not losses
        else names_from("losses", losses, MULTICLASS_LOSS_NAMES)
    )
    needs_prior = bool(of_the_training_prior(names))
    training = per_class("training_counts", training_counts, classes, positive=needs_prior)
    spread = _spread(errors, training)
    tables = class_tables(classes, names, training_counts=training, **loss_settings)
    moments = term_moments(
        sorted({MULTICLASS_LOSSES_BY_NAME[loss].term for loss in names}), checked_accuracies, spread, tables
    )
    terms = {loss: moments[MULTICLASS_LOSSES_BY_NAME[loss].term][0] for loss in names}
    weights = {loss: class_weights(loss, tables) for loss in names}
    confusion = expected_confusion(np.ones(classes), checked_accuracies, spread)
    return class_values(name, confusion, terms, weights)


def _spread(errors: Any, training: Floats) -> Floats:
    """The K x K spread of a rule (of the training counts) or as given, checked."""
    if isinstance(errors, str):
        if errors not in ERROR_RULES:
            raise InvalidValue(
                f"errors={errors!r} is not one of: {', '.join(ERROR_RULES)}, or a K x K error spread"
            )
        # the rules take counts as floats too (the training counts may be expected ones)
        return rule_spread(errors, cast("NDArray[np.int64]", training))
    return error_spread(errors, training.size)
