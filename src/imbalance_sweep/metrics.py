"""Classification metrics from confusion counts, in float64, with explicit zero-division values.

Counts arrive as Python ints, so 10**9 samples neither overflow nor lose precision before the
float64 arithmetic. Where a denominator is zero the metric is 0.0, as scikit-learn gives with
``zero_division=0`` (and as it gives for MCC); balanced accuracy averages the recalls of the classes
present, as scikit-learn does. No NaN, no warning.
"""

from __future__ import annotations

import math

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
