"""OvR and OvO ROC AUC where a class has no rows: left out of the means (scikit-learn raises)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from imbalance_sweep.core.multiclass.metrics import multiclass_metrics


def test_a_class_without_rows_is_left_out_of_the_means():
    rng = np.random.default_rng(7)
    weights = rng.random((300, 4), dtype=np.float32)
    scores = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float64)
    labels = rng.integers(0, 3, 300)  # class 3 has no rows
    values = multiclass_metrics(labels, scores)
    per_class = [skm.roc_auc_score(labels == k, scores[:, k]) for k in range(3)]
    rows = np.bincount(labels)
    assert values["roc_auc_ovr"] == pytest.approx(np.mean(per_class), abs=1e-12)
    assert values["roc_auc_ovr_weighted"] == pytest.approx(np.average(per_class, weights=rows), abs=1e-12)
    pairs = []
    for j in range(3):
        for k in range(j + 1, 3):
            kept = (labels == j) | (labels == k)
            pairs.append(
                (
                    skm.roc_auc_score(labels[kept] == j, scores[kept, j])
                    + skm.roc_auc_score(labels[kept] == k, scores[kept, k])
                )
                / 2
            )
    assert values["roc_auc_ovo"] == pytest.approx(np.mean(pairs), abs=1e-12)


def test_hand_golden_with_ties():
    """Class 0's column: rows of class 0 at .5 and .4, of class 1 at .5 and .1: pairs (.5 v .5) tie,
    (.5 v .1) win, (.4 v .5) lose, (.4 v .1) win: A(0|1) = 2.5 / 4. Class 1's column is 1 - that:
    A(1|0) = 2.5 / 4 too. Two classes: OvR and OvO are both .625."""
    labels = np.array([0, 0, 1, 1])
    scores = np.array([[0.5, 0.5], [0.4, 0.6], [0.5, 0.5], [0.1, 0.9]])
    values = multiclass_metrics(labels, scores)
    assert values["roc_auc_ovr"] == values["roc_auc_ovo"] == values["roc_auc_ovr_weighted"] == 0.625
