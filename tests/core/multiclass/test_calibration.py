"""Top-label and class-wise ECE: golden values derived by hand (no scikit-learn counterpart)."""

import numpy as np
import pytest

from imbalance_sweep.core.multiclass.metrics import multiclass_metrics

# label, scores; argmax 0 (right), 0 (wrong), 2 (right), 1 (right)
LABELS = np.array([0, 1, 2, 1])
SCORES = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]])


def test_golden_values_by_hand_with_four_bins():
    """Bins (0, .25], (.25, .5], (.5, .75], (.75, 1].
    Top label: confidences .7, .6, .6 in bin 2 (2 right, sum 1.9), .8 in bin 3 (1 right):
    (|2 - 1.9| + |1 - .8|) / 4 = .075.
    Class 0: scores .7, .6 in bin 2 (1 row of class 0, sum 1.3), .2, .1 in bin 0 (none, sum .3): .6 / 4.
    Class 1: .2, .2 in bin 0 (none, .4), .3 in bin 1 (1, .3), .8 in bin 3 (1, .8): 1.3 / 4.
    Class 2: .1, .1, .1 in bin 0 (none, .3), .6 in bin 2 (1, .6): .7 / 4."""
    values = multiclass_metrics(LABELS, SCORES, ece_bins=4)
    assert values["ece_top_label"] == pytest.approx(0.075, abs=1e-15)
    for label, ece in enumerate((0.15, 0.325, 0.175)):
        assert values[f"ece/class_00{label}"] == pytest.approx(ece, abs=1e-15)
    assert values["ece_classwise"] == pytest.approx(0.65 / 3, abs=1e-15)


def test_a_score_on_an_inner_edge_is_in_the_bin_below():
    """Two bins, edge .5. Class 0's scores .5 (a row of class 0) and .4 (not) share the lower bin:
    |1 - .9| / 2 = .05 (with .5 in the upper bin it would be (|1 - .5| + |0 - .4|) / 2 = .45)."""
    values = multiclass_metrics(
        np.array([0, 1]), np.array([[0.5, 0.5], [0.4, 0.6]], dtype=np.float32), ece_bins=2
    )
    assert values["ece/class_000"] == pytest.approx(0.05, abs=1e-8)


def test_float32_and_float64_scores_bin_alike():
    rng = np.random.default_rng(5)
    weights = rng.random((2000, 4), dtype=np.float32)
    scores = weights / weights.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 2000)
    narrow = multiclass_metrics(labels, scores)
    wide = multiclass_metrics(labels, scores.astype(np.float64))
    for name in ("ece_top_label", "ece_classwise"):
        assert narrow[name] == wide[name], name
