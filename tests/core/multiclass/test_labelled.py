"""Bad K-class labels and scores get one line naming the parameter, the value and what is allowed:
the same line from the metrics and the losses (one checker, core.multiclass.labelled), each with its
own row-sum tolerance."""

import numpy as np
import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.labelled import (
    LOSSES_ROW_SUM_TOLERANCE,
    METRICS_ROW_SUM_TOLERANCE,
    labelled_class_scores,
)
from imbalance_sweep.core.multiclass.losses import multiclass_losses
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics

GOOD = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]], dtype=np.float32)


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        (
            [0, 1],
            np.array([[-0.5, 1.0, 0.5], [0.0, 0.0, 1.0]]),
            "scores[0, 0]=-0.5 is not a probability in [0, 1]",
        ),
        (
            [0, 1],
            np.array([[0.5, 0.5, 0.0], [0.0, np.nan, 1.0]]),
            "scores[1, 1]=nan is not a probability in [0, 1]",
        ),
        ([0, 3], GOOD, "labels[1]=3 is not a class index in 0..2 (K=3)"),
        ([-1, 0], GOOD, "labels[0]=-1 is not a class index in 0..2 (K=3)"),
        ([0.0, 1.0], GOOD, "labels has dtype float64; allowed: integers 0..2"),
        ([0, 1, 2], GOOD, "labels has shape (3,); allowed: (2,), one label a row of scores"),
        ([0], np.array([[1.0]]), "scores has K=1 columns; allowed: K >= 2 classes"),
        (
            [0, 1],
            np.array([0.5, 0.5]),
            "scores has shape (2,); allowed: (n, K), one row of K probabilities a sample",
        ),
        ([0, 1], np.array([[1, 0], [0, 1]]), "scores has dtype int64; allowed: float32 or float64"),
    ],
)
def test_bad_labels_and_scores_get_the_same_one_line_from_metrics_and_losses(labels, scores, message):
    for door in (multiclass_metrics, multiclass_losses):
        with pytest.raises(InvalidValue) as raised:
            door(labels, scores, ("cce",)) if door is multiclass_losses else door(labels, scores)
        assert str(raised.value) == message, door.__name__
    assert "\n" not in message


def test_each_caller_keeps_its_documented_row_sum_tolerance():
    assert round(METRICS_ROW_SUM_TOLERANCE, 6) == 3.45e-4 and LOSSES_ROW_SUM_TOLERANCE == 1e-4
    between = np.array([[0.5, 0.25, 0.2502]])  # off by 2e-4: inside the metrics', outside the losses'
    assert multiclass_metrics([0], between)["accuracy"] == 1.0
    with pytest.raises(InvalidValue) as raised:
        multiclass_losses([0], between, ("cce",))
    assert str(raised.value) == "scores[0] sums to 1.0002; allowed: rows summing to 1 within 0.0001"
    far = np.array([[0.5, 0.5, 0.5], [0.0, 0.0, 1.0]])
    with pytest.raises(InvalidValue) as raised:
        multiclass_metrics([0, 1], far)
    assert str(raised.value) == "scores[0] sums to 1.5; allowed: rows summing to 1 within 0.00035"


def test_rows_within_the_tolerance_pass_and_float32_rows_cast_to_float64_too():
    rng = np.random.default_rng(0)
    weights = rng.random((1000, 1000), dtype=np.float32)
    scores = weights / weights.sum(axis=1, keepdims=True)
    for given in (scores, scores.astype(np.float64)):
        labels, checked = labelled_class_scores(np.zeros(1000, dtype=np.int8), given)
        assert checked is given and labels.dtype == np.intp
        assert np.isfinite(multiclass_losses(labels, given, ("cce",))["cce"])
    off = np.array([[0.5, 0.5 + 2 * METRICS_ROW_SUM_TOLERANCE]])
    with pytest.raises(InvalidValue, match=r"^scores\[0\] sums to 1\.0006"):
        labelled_class_scores([0], off)
