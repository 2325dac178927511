"""K-class labels and scores, K, and per-class numbers, checked for the losses and the metrics alike:
one line naming the parameter, the value and what is allowed (core.checks' style).

Scores are an (n, K) array of probabilities, float32 (the simulation's format) or float64, every
value in [0, 1] (no nan) and each row summing to 1 within a tolerance; labels an integer array of
shape (n,) in 0..K-1; K >= 2. n = 0 is allowed here (the accumulators refuse no samples at the end).

The tolerance is the caller's, as each is documented (docs/background/k-classes.md and
k-class-losses.md) and tested:

* the metrics, :data:`METRICS_ROW_SUM_TOLERANCE`: ``sqrt(eps)`` of float32 (3.5e-4, where
  scikit-learn's ``log_loss`` warns for float32), the sums taken in the scores' own dtype (a
  rounding of about K eps, far inside it), so that float32 rows cast to float64 pass too;
* the losses, :data:`LOSSES_ROW_SUM_TOLERANCE`: 1e-4, the sums taken in float64. The losses do not
  renormalise the rows as Keras does, so a row summing to 1 + d moves a log term by about d; 1e-4
  still admits a float32 softmax of any K and values written with five or more decimals.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import NOT_A_PROBABILITY, InvalidValue, first_non_probability, is_number, shown, whole_number

Scores = NDArray[np.float32] | NDArray[np.float64]
Labels = NDArray[np.intp]

METRICS_ROW_SUM_TOLERANCE = math.sqrt(float(np.finfo(np.float32).eps))
LOSSES_ROW_SUM_TOLERANCE = 1e-4


def checked_classes(classes: Any) -> int:
    """K, the number of classes: a whole number >= 2 (one class leaves nothing to classify)."""
    return whole_number("classes", classes, minimum=2)


def class_scores(scores: Any, *, classes: int | None = None) -> Scores:
    """``scores`` as an array of dtype float32 or float64 (as given) and shape (n, K), ``classes``
    the K it must have (an accumulator's) or None to take K >= 2 from its columns. Its values are
    checked by :func:`check_probabilities` and :func:`check_row_sums`."""
    array = np.asarray(scores)
    if array.dtype not in (np.float32, np.float64):
        raise InvalidValue(f"scores has dtype {array.dtype}; allowed: float32 or float64")
    if array.ndim != 2:
        raise InvalidValue(
            f"scores has shape {array.shape}; allowed: (n, K), one row of K probabilities a sample"
        )
    width = array.shape[1]
    if classes is None:
        if width < 2:
            raise InvalidValue(f"scores has K={width} columns; allowed: K >= 2 classes")
    elif width != classes:
        raise InvalidValue(f"scores has K={width} columns; allowed: {classes}, the number of classes")
    return array


def class_labels(labels: Any, samples: int, classes: int) -> Labels:
    """``labels`` as a 1-D intp array of ``samples`` class indices in 0..classes-1."""
    array = np.asarray(labels)
    if array.shape != (samples,):
        raise InvalidValue(
            f"labels has shape {array.shape}; allowed: ({samples},), one label a row of scores"
        )
    if array.size == 0:
        return np.empty(0, dtype=np.intp)
    if array.dtype.kind not in "iu":
        raise InvalidValue(f"labels has dtype {array.dtype}; allowed: integers 0..{classes - 1}")
    if array.min() < 0 or array.max() >= classes:
        index = int(np.argmax((array < 0) | (array >= classes)))
        raise InvalidValue(
            f"labels[{index}]={shown(array[index])} is not a class index in 0..{classes - 1} (K={classes})"
        )
    return array.astype(np.intp, copy=False)


def check_probabilities(scores: Scores) -> None:
    """Every score is a probability, in [0, 1] (nan is not one)."""
    bad = first_non_probability(scores)
    if bad is not None:
        row, column = divmod(bad, scores.shape[1])
        raise InvalidValue(f"scores[{row}, {column}]={shown(scores[row, column])} {NOT_A_PROBABILITY}")


def check_row_sums(row_sums: NDArray[np.floating[Any]], tolerance: float, *, first_row: int = 0) -> None:
    """Each row's sum is 1 within ``tolerance``; ``first_row``: the index of the first sum's row."""
    off = np.abs(row_sums - 1) > tolerance
    if off.any():
        index = int(np.argmax(off))
        raise InvalidValue(
            f"scores[{first_row + index}] sums to {float(row_sums[index]):.7g}; "
            f"allowed: rows summing to 1 within {tolerance:.2g}"
        )


def labelled_class_scores(labels: Any, scores: Any, *, classes: int | None = None) -> tuple[Labels, Scores]:
    """Labels as intp and scores as given, all checked, row sums in the scores' dtype within
    :data:`METRICS_ROW_SUM_TOLERANCE` (the metrics' check); ``classes`` as :func:`class_scores`."""
    checked_scores = class_scores(scores, classes=classes)
    width = checked_scores.shape[1]
    checked_labels = class_labels(labels, checked_scores.shape[0], width)
    if checked_labels.size == 0:
        return checked_labels, checked_scores
    check_probabilities(checked_scores)
    check_row_sums(checked_scores @ np.ones(width, dtype=checked_scores.dtype), METRICS_ROW_SUM_TOLERANCE)
    return checked_labels, checked_scores


def per_class(name: str, values: Any, classes: int, *, positive: bool) -> NDArray[np.float64]:
    """A length-``classes`` float64 array of finite numbers > 0 (``positive``) or >= 0: a prior's
    samples per class (whole or expected), a weight per class."""
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.shape != (classes,):
        raise InvalidValue(f"{name} has shape {np.shape(values)}; allowed: ({classes},), one number a class")
    allowed = "> 0" if positive else ">= 0"
    for index, value in enumerate(array.tolist()):
        if not is_number(value) or not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise InvalidValue(f"{name}[{index}]={shown(value)} is not a finite number {allowed}")
    return np.asarray(array.tolist(), dtype=np.float64)
