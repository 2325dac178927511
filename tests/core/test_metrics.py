"""Metrics against scikit-learn, at 10^9-sample counts, and where denominators are zero."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

from imbalance_sweep import METRIC_NAMES, evaluate
from imbalance_sweep.core.metrics import confusion_metrics


def sklearn_metrics(y_true, y_hat):
    """The same metrics from scikit-learn, zero_division=0 where it applies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on one-class inputs; the values are what we compare
        tn, fp, fn, tp = skm.confusion_matrix(y_true, y_hat, labels=[0, 1]).ravel()
        return {
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
            "precision": skm.precision_score(y_true, y_hat, zero_division=0),
            "recall": skm.recall_score(y_true, y_hat, zero_division=0),
            "f1": skm.f1_score(y_true, y_hat, zero_division=0),
            "accuracy": skm.accuracy_score(y_true, y_hat),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_hat),
            "specificity": skm.recall_score(y_true, y_hat, pos_label=0, zero_division=0),
            "mcc": skm.matthews_corrcoef(y_true, y_hat),
        }


@given(
    data=st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1, width=32)), min_size=1, max_size=200),
)
def test_metrics_match_scikit_learn(data):
    """On arbitrary labels and scores (ties at 0.5 included), every metric equals sklearn's."""
    y_true = np.array([label for label, _ in data])
    y_pred = np.array([score for _, score in data], dtype=np.float32)
    ours = evaluate(y_true, y_pred, losses=["bce"], chunk_size=7)
    theirs = sklearn_metrics(y_true, (y_pred > 0.5).astype(int))
    assert set(METRIC_NAMES) <= set(ours)
    for name in theirs:  # newer metrics: their own tests (test_metrics_no_ranking.py, test_ranking.py)
        assert ours[name] == pytest.approx(theirs[name], rel=1e-12, abs=1e-12), name


def test_metrics_at_a_billion_samples_are_exact():
    """Counts near 10^9 neither overflow nor lose precision (checked with exact fractions)."""
    tp, fp, tn, fn = 987_654_321, 123_456_789, 999_999_937, 1_000_000_007
    values = confusion_metrics(tp=tp, fp=fp, tn=tn, fn=fn)
    assert values["precision"] == float(Fraction(tp, tp + fp))
    assert values["recall"] == float(Fraction(tp, tp + fn))
    assert values["f1"] == float(Fraction(2 * tp, 2 * tp + fp + fn))
    exact_mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert values["mcc"] == pytest.approx(exact_mcc, rel=1e-15)
    assert values["tn"] == float(tn)


@pytest.mark.parametrize(
    "counts, expected",
    [
        # only negatives, all right: nothing predicted or actually positive
        (
            dict(tp=0, fp=0, tn=10, fn=0),
            dict(precision=0, recall=0, f1=0, mcc=0, specificity=1, balanced_accuracy=1),
        ),
        # only positives, all predicted negative
        (
            dict(tp=0, fp=0, tn=0, fn=5),
            dict(precision=0, recall=0, f1=0, mcc=0, specificity=0, balanced_accuracy=0),
        ),
        # everything predicted positive
        (
            dict(tp=3, fp=7, tn=0, fn=0),
            dict(precision=0.3, recall=1, mcc=0, specificity=0, balanced_accuracy=0.5),
        ),
    ],
)
def test_zero_denominators_give_documented_values_without_warnings(counts, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = confusion_metrics(**counts)
    for name, value in expected.items():
        assert values[name] == value, name
    assert all(math.isfinite(v) for v in values.values())


def test_expected_counts_may_be_fractional():
    """Expected confusion counts are real numbers; MCC must not round them."""
    values = confusion_metrics(tp=0.5, fp=0.25, tn=0.5, fn=0.25)
    assert values["mcc"] == pytest.approx((0.25 - 0.0625) / 0.5625, rel=1e-15)
    assert values["precision"] == pytest.approx(2 / 3)
