"""Classification metrics: the decision rule that turns scores into predictions, and the metrics
of the confusion counts it gives, in float64, with explicit zero-division values.

A score predicts the positive class iff it is > 0.5 (:func:`on_correct_side`); a class's accuracy is
the share of its scores on their correct side of that threshold.
Counts arrive as Python ints, so 10**9 samples neither overflow nor lose precision before the
float64 arithmetic. Where a denominator is zero the metric is 0.0, as scikit-learn gives with
``zero_division=0`` (and as it gives for MCC); balanced accuracy averages the recalls of the classes
present, as scikit-learn does. No NaN, no warning.
"""

from __future__ import annotations

import math

import numpy as np

THRESHOLD = np.float32(0.5)  # a score > THRESHOLD predicts 1; float32, as the scores are

METRIC_NAMES = (
    "tp",
    "fp",
    "tn",
    "fn",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "balanced_accuracy",
    "specificity",
    "mcc",
)


def on_correct_side(label: int, scores: np.ndarray) -> np.ndarray:
    """Which of a class's scores predict that class: > 0.5 for positives, <= 0.5 for negatives."""
    return scores > THRESHOLD if label == 1 else scores <= THRESHOLD


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def confusion_metrics(*, tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    """All of :data:`METRIC_NAMES` from the four confusion counts (whole or expected)."""
    # Before the float conversion: with Python ints (sampled counts) the MCC numerator is exact,
    # though tp*tn and fp*fn can be ~1e18 and nearly cancel; expected counts are floats already.
    mcc_numerator = tp * tn - fp * fn
    tp, fp, tn, fn = (float(x) for x in (tp, fp, tn, fn))
    positives, negatives = tp + fn, tn + fp
    recall = _ratio(tp, positives)
    specificity = _ratio(tn, negatives)
    present = [rate for rate, support in ((recall, positives), (specificity, negatives)) if support]
    mcc_denominator = math.sqrt((tp + fp) * positives * negatives * (tn + fn))
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": recall,
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, positives + negatives),
        "balanced_accuracy": sum(present) / len(present) if present else 0.0,
        "specificity": specificity,
        "mcc": _ratio(mcc_numerator, mcc_denominator),
    }
