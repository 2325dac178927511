"""The checks of what the K-class losses are given: labelled scores, training class counts and the
losses' settings. Each raises :class:`~imbalance_sweep.core.checks.InvalidValue` with one line that
names the parameter, the value and what is allowed.

Scores are a float array of shape (n, K), each row a probability distribution: every value in
[0, 1] (no nan) and each row summing to 1 within :data:`ROW_SUM_TOLERANCE`, its sum taken in
float64. That tolerance admits a float32 softmax of any K (its rounding moves a row's sum by at most
about 6e-8) and values written with five or more decimals; Keras divides by the row sum, these
losses do not (so a binary score p and the row (1 - p, p) give the same terms), so a row summing
to 1 + d moves a log term by at most about d.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import NOT_A_PROBABILITY, InvalidValue, first_non_probability, is_number, shown, whole_number

ROW_SUM_TOLERANCE = 1e-4


def classes_count(value: Any) -> int:
    """The number of classes K: a whole number >= 2 (one class leaves nothing to classify)."""
    return whole_number("classes", value, minimum=2)


def checked_labels(labels: Any, classes: int) -> NDArray[np.intp]:
    """``labels`` as a 1-D intp array of class indices in 0..classes-1."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise InvalidValue(f"labels must be 1-D (one class index a sample); got shape {array.shape}")
    if array.size == 0:
        return np.empty(0, dtype=np.intp)
    if array.dtype.kind not in "iu":
        raise InvalidValue(f"labels must be integers in 0..{classes - 1}; got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= classes):
        index = int(np.argmax((array < 0) | (array >= classes)))
        raise InvalidValue(f"labels[{index}]={shown(array[index])} is not a class index in 0..{classes - 1}")
    return array.astype(np.intp, copy=False)


def checked_scores(scores: Any, samples: int, classes: int) -> NDArray[np.float32]:
    """``scores`` as a float32 array of shape (samples, classes) whose values are probabilities;
    float64 scores are rounded to float32, as Keras and the binary core compute. Row sums are
    checked where the rows are read (:func:`check_row_sums`)."""
    array = np.asarray(scores)
    if array.ndim != 2 or array.shape != (samples, classes):
        raise InvalidValue(
            f"scores must have shape (n, K) = ({samples}, {classes}), one row of K class probabilities "
            f"a label; got shape {array.shape}"
        )
    if array.dtype.kind != "f":
        raise InvalidValue(f"scores must be floats (float32 or float64); got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = first_non_probability(array)
    if bad is not None:
        row, column = divmod(bad, classes)
        raise InvalidValue(f"scores[{row}, {column}]={shown(array[row, column])} {NOT_A_PROBABILITY}")
    return array


def check_row_sums(row_sums: NDArray[np.float64], first_row: int) -> None:
    """Each row's sum (taken in float64) is 1 within :data:`ROW_SUM_TOLERANCE`."""
    off = np.abs(row_sums - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        index = int(np.argmax(off))
        raise InvalidValue(
            f"scores[{first_row + index}] sums to {float(row_sums[index]):.7g}: each row must sum to 1 "
            f"within {ROW_SUM_TOLERANCE}"
        )


def per_class(name: str, values: Any, classes: int, *, positive: bool) -> NDArray[np.float64]:
    """A length-``classes`` float64 array of finite numbers > 0 (``positive``) or >= 0."""
    if isinstance(values, (str, bytes)):
        raise InvalidValue(f"{name}={shown(values)} is not a list of {classes} numbers")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name}={shown(values)} is not a list of {classes} numbers") from None
    if array.ndim != 1 or array.size != classes:
        raise InvalidValue(f"{name} must hold one number per class, {classes}; got shape {array.shape}")
    allowed = "> 0" if positive else ">= 0"
    bad = ~np.isfinite(array) | ((array <= 0) if positive else (array < 0))
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidValue(f"{name}[{index}]={shown(array[index])} is not a finite number {allowed}")
    return array


def finite_at_least(name: str, value: Any, minimum: float, *, strict: bool = False) -> float:
    """``value`` as a float, finite and >= ``minimum`` (> with ``strict``)."""
    if not is_number(value) or not math.isfinite(value) or value < minimum or (strict and value == minimum):
        allowed = f"{'>' if strict else '>='} {minimum:g}"
        raise InvalidValue(f"{name}={shown(value)} is not a finite number {allowed}")
    return float(value)


def effective_number_beta(value: Any) -> float:
    """Cui et al.'s beta: a number in [0, 1) (0: every class weighs the same)."""
    if not is_number(value) or not math.isfinite(value) or not 0.0 <= value < 1.0:
        raise InvalidValue(f"beta={shown(value)} is not a number in [0, 1)")
    return float(value)
