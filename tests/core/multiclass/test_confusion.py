"""MCC (R_K) and Cohen's kappa: a hand-derived golden, and 10^9-row counts without overflow."""

import math
from fractions import Fraction

import numpy as np
import pytest

from imbalance_sweep.core.multiclass.confusion import confusion_metrics


def test_hand_golden():
    """Counts [[5, 1, 0], [2, 3, 1], [0, 0, 4]]: s = 16, c = 12, rows t = (6, 6, 4), predictions
    p = (7, 4, 5), sum p t = 42 + 24 + 20 = 86. MCC = (12 * 16 - 86) / sqrt((256 - 90)(256 - 88))
    = 106 / sqrt(166 * 168); kappa = (12 * 16 - 86) / (256 - 86) = 106 / 170."""
    values = confusion_metrics(np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]]))
    assert values["mcc"] == pytest.approx(106 / math.sqrt(166 * 168), rel=1e-15)
    assert values["cohen_kappa"] == pytest.approx(106 / 170, rel=1e-15)
    assert values["accuracy"] == 0.75
    assert values["balanced_accuracy"] == pytest.approx((5 / 6 + 3 / 6 + 1) / 3, rel=1e-15)
    assert values["precision/class_000"] == 5 / 7 and values["f1/class_002"] == 8 / 9


def test_counts_of_a_billion_rows_stay_exact():
    """Nearly cancelling products (~1e36) are exact integers before the one division."""
    confusion = np.array([[10**9, 3], [5, 10**9 - 1]], dtype=np.int64)
    values = confusion_metrics(confusion)
    s, c = int(confusion.sum()), 2 * 10**9 - 1
    t, p = [10**9 + 3, 10**9 + 4], [10**9 + 5, 10**9 + 2]
    covariance = c * s - sum(a * b for a, b in zip(p, t, strict=True))
    assert values["cohen_kappa"] == float(
        Fraction(covariance, s * s - sum(a * b for a, b in zip(p, t, strict=True)))
    )
    spread = (s * s - sum(a * a for a in p)) * (s * s - sum(b * b for b in t))
    assert values["mcc"] == pytest.approx(covariance / math.isqrt(spread), rel=1e-15)
