"""A K-class predictions file as what ``prior_flip`` compares (:class:`prior_flip.ClassValues`), beside
``flip_inputs.model_class_values`` for a model of the uniform score model: for each loss, the mean of
its per-sample term over the file's rows of each class k (l_k, exact sums rounded once) and its
class weight w_k (from the training counts), and the file's confusion rates (row k: the share of
class k's rows predicted as each class).

Under a validation prior pi the loss is then ``sum_k pi_k w_k l_k``: the file's set re-weighted to pi
(``reweighting.reweighted_losses``, to rounding), so the flips along a path are exact for the
file's empirical distribution. Every class needs rows: a path gives every class a share.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..checks import InvalidValue, names_from
from ..vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME
from .confusion import confusion_counts, predicted_classes
from .exact_sums import ExactSums, rounded
from .file_model import ClassFileModel
from .loss_settings import prior_counts_of
from .losses import MulticlassLosses, class_weights, sample_terms
from .prior_flip import ClassValues, class_values


def file_class_values(
    name: str,
    model: ClassFileModel,
    *,
    training_counts: Sequence[int] | None = None,
    losses: Any = MULTICLASS_LOSS_NAMES,
    **loss_settings: Any,
) -> ClassValues:
    """Public API: the class-conditional values of the file ``model`` (named ``name`` in messages)
    for ``prior_flip``; ``training_counts`` default to the file's class counts; ``losses`` may be []
    (the confusion rates alone); ``loss_settings`` as ``loss_settings.class_tables`` takes them."""
    counts = model.class_counts
    empty = [k for k, count in enumerate(counts) if count == 0]
    if empty:
        raise InvalidValue(
            f"{name}: the predictions file {model.path!r} has no rows of class {empty[0]}; allowed: a "
            "file with rows of every class (a path of priors gives every class a share)"
        )
    names = (
        ()
        if isinstance(losses, (list, tuple)) and not losses
        else names_from("losses", losses, MULTICLASS_LOSS_NAMES)
    )
    training = counts if training_counts is None else tuple(training_counts)
    prior = prior_counts_of(names, training)
    terms: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    if names:
        chosen = MulticlassLosses(model.classes, list(names), training_counts=prior, **loss_settings)
        class_means = {}
        for term, values in sample_terms(
            model.labels, model.scores, chosen.losses, training_counts=prior, **loss_settings
        ).items():
            sums = ExactSums(model.classes)
            sums.add(model.labels, values)
            class_means[term] = np.array(
                [_mean(total, count) for total, count in zip(sums.exact_totals(), counts, strict=True)]
            )
        for loss in chosen.losses:
            terms[loss] = class_means[MULTICLASS_LOSSES_BY_NAME[loss].term]
            weights[loss] = class_weights(loss, chosen.tables)
    confusion = confusion_counts(model.labels, predicted_classes(model.scores), model.classes)
    rates = confusion / np.array(counts, dtype=np.float64)[:, None]
    return class_values(name, rates, terms, weights)


def _mean(total: Fraction | float, count: int) -> float:
    """A class's sum over its ``count`` rows as a mean, rounded once where the sum is exact."""
    return total / count if isinstance(total, float) else rounded(total / count)
