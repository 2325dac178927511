"""K-class labels and scores, and per-class counts, checked: one line naming the parameter, the value
and what is allowed (core.checks' style).

Scores are an (n, K) array of probabilities, float32 (the simulation's format) or float64, each row
summing to 1 within :data:`ROW_SUM_TOLERANCE`, ``sqrt(eps)`` of float32 (3.5e-4: the tolerance
scikit-learn's ``log_loss`` warns at for float32; here a row outside it is refused). One tolerance
for both dtypes, so that float32 rows cast to float64 pass too. The row sums are taken in the
scores' own dtype (a matrix product: a rounding of about K eps, far inside it).
Labels are an integer array of shape (n,) in 0..K-1; K >= 2.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import NOT_A_PROBABILITY, InvalidValue, first_non_probability, is_number, shown

Scores = NDArray[np.float32] | NDArray[np.float64]
Labels = NDArray[np.intp]


ROW_SUM_TOLERANCE = math.sqrt(float(np.finfo(np.float32).eps))  # how far from 1 a row may sum


def checked_classes(name: str, classes: Any) -> int:
    """K, the number of classes: a whole number >= 2."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool) and classes >= 2:
        return int(classes)
    raise InvalidValue(f"{name}={shown(classes)} is not a number of classes >= 2")


def labelled_class_scores(labels: Any, scores: Any, *, classes: int | None = None) -> tuple[Labels, Scores]:
    """Labels as intp and scores as given (float32 or float64), checked; ``classes``: the K they must
    have (an accumulator's), or None to take it from the scores' columns. n = 0 is allowed."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    if scores.dtype not in (np.float32, np.float64):
        raise InvalidValue(f"scores has dtype {scores.dtype}; allowed: float32 or float64")
    if scores.ndim != 2:
        raise InvalidValue(
            f"scores has shape {scores.shape}; allowed: (n, K), one row of K probabilities a sample"
        )
    width = scores.shape[1]
    if classes is None:
        if width < 2:
            raise InvalidValue(f"scores has K={width} columns; allowed: K >= 2 classes")
    elif width != classes:
        raise InvalidValue(f"scores has K={width} columns; allowed: {classes}, the number of classes")
    if labels.ndim != 1 or labels.shape[0] != scores.shape[0]:
        raise InvalidValue(
            f"labels has shape {labels.shape}; allowed: ({scores.shape[0]},), one label a row of scores"
        )
    if labels.size == 0:
        return labels.astype(np.intp), scores
    if labels.dtype.kind not in "iu":
        raise InvalidValue(f"labels has dtype {labels.dtype}; allowed: integers 0..{width - 1}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= width:
        bad = low if low < 0 else high
        raise InvalidValue(f"labels holds {bad}; allowed: class labels 0..{width - 1} (K={width})")
    bad_flat = first_non_probability(scores)
    if bad_flat is not None:
        row, column = divmod(bad_flat, width)
        raise InvalidValue(f"scores[{row}, {column}]={shown(scores[row, column])} {NOT_A_PROBABILITY}")
    sums = scores @ np.ones(width, dtype=scores.dtype)
    off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise InvalidValue(
            f"scores[{row}] sums to {float(sums[row])!r}; allowed: rows summing to 1 within {ROW_SUM_TOLERANCE:.2g}"
        )
    return labels.astype(np.intp, copy=False), scores


def class_counts(name: str, counts: Any, classes: int) -> NDArray[np.float64]:
    """A length-K array of finite counts >= 0 (a prior's samples per class: whole or expected)."""
    values = np.asarray(counts, dtype=object) if not isinstance(counts, np.ndarray) else counts
    if values.ndim != 1 or values.shape[0] != classes:
        raise InvalidValue(f"{name} has shape {np.shape(counts)}; allowed: ({classes},), one count a class")
    for index, value in enumerate(values.tolist()):
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise InvalidValue(f"{name}[{index}]={shown(value)} is not a finite count >= 0")
    return np.asarray(values.tolist(), dtype=np.float64)
