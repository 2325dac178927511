"""Exact expected mode for K classes (issue 26, point 5): a K-class cell's population values under the
K-class uniform model, with no sampling, under the keys a sampled cell logs.

The cell is given by plain values: class counts n (whole, >= 0, at least one row), per-class accuracies
a in [0, 1], the error spread r (K x K, r_kc the share of class k's errors that go to c: zero
diagonal, rows summing to 1) and the training counts m (the losses' prior and the bands; default n).
A row of class k has one confuser c ~ r_k and the binary uniform model's score with accuracy a_k
between them (``expected_terms``, ``expected_metrics``: the model and each value's derivation).

Values: ``loss/<name>`` for each loss, the mean of its per-sample term weighted per class,
sum_k n_k w_k E_k / N, and ``stderr/loss/<name>``, the standard error of a sampled cell of these
counts, sqrt(sum_k n_k w_k**2 Var_k) / N (classes of fixed size, rows independent; Var_k includes the
spread between confusers), as the binary ``expectations`` logs them; every metric of
``multiclass_metrics`` with its training counts, at its population value (confusion metrics at the
expected counts, as the binary mode takes them; no standard errors for the metrics yet).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, fraction, is_number, names_from, shown, whole_number
from ..metrics import DEFAULT_ECE_BINS
from ..vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME, loss_key
from .cell import MulticlassCell
from .confusion import DEFAULT_FEW_BELOW, DEFAULT_MANY_ABOVE
from .expected_metrics import metric_values
from .expected_terms import term_moments
from .labelled import per_class
from .loss_settings import class_tables, of_the_training_prior, prior_counts_of
from .losses import class_weights
from .metrics import DEFAULT_TOP_K, multiclass_settings

Floats = NDArray[np.float64]

SPREAD_ROW_TOLERANCE = 1e-9  # a row of the error spread sums to 1 within this


def class_counts(counts: Any) -> Floats:
    """The validation counts: K >= 2 whole numbers >= 0, at least one row in all."""
    if np.ndim(counts) != 1:
        raise InvalidValue(f"counts has shape {np.shape(counts)}; allowed: (K,), one count a class, K >= 2")
    values = list(counts)
    if len(values) < 2:
        raise InvalidValue(f"counts={shown(values)} has K={len(values)} classes; allowed: K >= 2")
    whole = [whole_number(f"counts[{index}]", value) for index, value in enumerate(values)]
    if sum(whole) < 1:
        raise InvalidValue(f"counts={whole} has no row; allowed: counts summing to at least 1")
    return np.array(whole, dtype=np.float64)


def class_accuracies(accuracies: Any, classes: int) -> Floats:
    """One accuracy in [0, 1] a class."""
    if np.shape(accuracies) != (classes,):
        raise InvalidValue(
            f"accuracies has shape {np.shape(accuracies)}; allowed: ({classes},), one accuracy a class"
        )
    return np.array([fraction(f"accuracies[{index}]", value) for index, value in enumerate(list(accuracies))])


def error_spread(spread: Any, classes: int) -> Floats:
    """The K x K error spread: finite shares >= 0, a zero diagonal, rows summing to 1."""
    if np.shape(spread) != (classes, classes):
        raise InvalidValue(
            f"error_spread has shape {np.shape(spread)}; allowed: ({classes}, {classes}), "
            "row k the shares of class k's errors over the classes"
        )
    array = np.asarray(spread)
    if array.dtype.kind not in "iuf":  # strings, bools, objects: the first that is not a number
        for (k, c), value in np.ndenumerate(np.asarray(spread, dtype=object)):
            if not is_number(value):
                raise InvalidValue(f"error_spread[{k}][{c}]={shown(value)} is not a finite share >= 0")
    shares = array.astype(np.float64)
    bad = ~(np.isfinite(shares) & (shares >= 0))
    if bad.any():
        k, c = np.argwhere(bad)[0].tolist()
        raise InvalidValue(f"error_spread[{k}][{c}]={shown(array[k, c])} is not a finite share >= 0")
    diagonal = np.flatnonzero(np.diag(shares))
    if diagonal.size:
        k = int(diagonal[0])
        raise InvalidValue(
            f"error_spread[{k}][{k}]={shown(array[k, k])}: allowed 0, an error goes to another class"
        )
    sums = shares.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > SPREAD_ROW_TOLERANCE)
    if off.size:
        k = int(off[0])
        raise InvalidValue(
            f"error_spread[{k}] sums to {sums[k]:.10g}; allowed: rows summing to 1 within {SPREAD_ROW_TOLERANCE:g}"
        )
    return shares


def expected_losses(
    counts: Floats,
    accuracies: Floats,
    spread: Floats,
    losses: tuple[str, ...],
    tables_settings: dict[str, Any],
) -> dict[str, float]:
    """``loss/<name>`` and ``stderr/loss/<name>`` of each loss of ``losses``. The training counts are
    the tables' only where a loss takes the training prior (a count of 0 is allowed otherwise)."""
    training = prior_counts_of(losses, tables_settings.get("training_counts"))
    tables = class_tables(counts.size, losses, **{**tables_settings, "training_counts": training})
    terms = {MULTICLASS_LOSSES_BY_NAME[name].term for name in losses}
    moments = term_moments(sorted(terms), accuracies, spread, tables)
    total = float(counts.sum())
    values = {}
    for name in losses:
        first, second = moments[MULTICLASS_LOSSES_BY_NAME[name].term]
        weights = class_weights(name, tables)
        variance = np.maximum(second - first**2, 0.0)
        values[loss_key(name)] = float(counts @ (weights * first) / total)
        values[f"stderr/{loss_key(name)}"] = math.sqrt(float(counts @ (weights**2 * variance))) / total
    return values


def expected_multiclass(
    counts: Any,
    accuracies: Any,
    spread: Any,
    *,
    training_counts: Any = None,
    losses: Any = MULTICLASS_LOSS_NAMES,
    top_k: Any = DEFAULT_TOP_K,
    ece_bins: Any = DEFAULT_ECE_BINS,
    many_above: Any = DEFAULT_MANY_ABOVE,
    few_below: Any = DEFAULT_FEW_BELOW,
    **loss_settings: Any,
) -> dict[str, float]:
    """Public API: a K-class cell's exact population values: ``loss/<name>``, ``stderr/loss/<name>``
    and every metric (``<name>/class_003``, ``recall/<band>`` included).

    ``counts`` (K,), ``accuracies`` (K,) and ``spread`` (K, K) as the module says; ``training_counts``
    (K,) the training set's class counts (default ``counts``); ``losses`` and ``loss_settings``
    (``alpha``, ``gamma``, ``beta``, ``tau``, ``max_margin``, ``scale``) as
    :class:`losses.MulticlassLosses` takes them, the metric settings as ``multiclass_metrics``.
    """
    counts = class_counts(counts)
    classes = counts.size
    accuracies = class_accuracies(accuracies, classes)
    spread = error_spread(spread, classes)
    losses = names_from("losses", losses, MULTICLASS_LOSS_NAMES)
    training = training_or_validation_counts(training_counts, counts, losses)
    settings = multiclass_settings(top_k, ece_bins, many_above, few_below)
    values = expected_losses(
        counts, accuracies, spread, losses, {"training_counts": training, **loss_settings}
    )
    return values | metric_values(counts, accuracies, spread, training, settings)


def cell_spread(cell: MulticlassCell) -> Floats:
    """The cell's error spread as this module takes it: row k its errors' shares over the other classes
    (the cell's exact weights, each share rounded once)."""
    spread = np.zeros((cell.classes, cell.classes))
    for label in range(cell.classes):
        weights = cell.error_weights(label)
        total = sum(weights)
        others = [c for c in range(cell.classes) if c != label]
        spread[label, others] = [float(weight / total) for weight in weights]
    return spread


def expected_of_cell(cell: MulticlassCell, **settings: Any) -> dict[str, float]:
    """:func:`expected_multiclass` of a K-class cell (its counts, accuracies, spread and training
    counts); ``settings`` as that function takes them (losses, metric and loss settings)."""
    return expected_multiclass(
        cell.counts, cell.accuracies, cell_spread(cell), training_counts=cell.training_counts, **settings
    )


def training_or_validation_counts(training_counts: Any, counts: Floats, losses: tuple[str, ...]) -> Floats:
    """The training counts, checked (>= 0; > 0 where a loss of ``losses`` takes their prior), or the
    validation ``counts`` in their place."""
    needing = of_the_training_prior(losses)
    if training_counts is None:
        if needing and not (counts > 0).all():
            empty = int(np.argmin(counts))
            raise InvalidValue(
                f"training_counts=None takes the counts, and counts[{empty}]=0: {', '.join(needing)} need "
                "training counts > 0 for every class"
            )
        return counts
    return per_class("training_counts", training_counts, counts.size, positive=bool(needing))
