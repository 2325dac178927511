"""The numpy backend against Keras: the keras backend, and Keras's own reductions (Keras 3, or
Keras 2 where the tests run in the tfa environment)."""

import numpy as np
import pytest

from imbalance_sweep import LOSS_NAMES, evaluate, simulate

keras = pytest.importorskip("keras")

CELLS = [
    (1_000_000, 0.999, 10_000, 0.5),  # the post's cells
    (1_000_000, 0.98, 10_000, 0.9),
    (10_000, 0.999, 10_000, 0.5),
    (10_000, 0.98, 10_000, 0.9),
    (50_000, 0.0, 5_000, 0.0),  # everything wrong: scores up to exactly 1 for negatives
    (50_000, 1.0, 5_000, 1.0),  # everything right: positives scored up to exactly 1
    (50_000, 0.5, 5_000, 0.5),  # coin flips over the whole [0, 1]
    (50_000, 0.3, 5_000, 0.7),
    (30_000, 0.9, 0, 0.5),  # no positives
    (0, 0.9, 30_000, 0.6),  # no negatives
]


def keras_reference(y_true, y_pred, alpha=0.25, gamma=2.0):
    """Each loss as a Keras user would compute it on the whole arrays, with Keras's own reductions."""
    losses = keras.losses
    column_true, column_pred = y_true[:, None], y_pred[:, None]
    labels = y_true.astype(int)
    counts = np.bincount(labels, minlength=2)
    balanced_weights = y_true.size / (np.count_nonzero(counts) * counts[labels])  # sklearn "balanced"
    focal_balanced = dict(apply_class_balancing=True, alpha=alpha, gamma=gamma)
    values = {
        "bce": losses.BinaryCrossentropy()(y_true, y_pred),
        "focal_tfa": losses.BinaryFocalCrossentropy(**focal_balanced, reduction="sum")(
            column_true, column_pred
        ),
        "focal_balanced": losses.BinaryFocalCrossentropy(**focal_balanced)(column_true, column_pred),
        "focal": losses.BinaryFocalCrossentropy(gamma=gamma)(column_true, column_pred),
        "balanced_bce": losses.BinaryCrossentropy()(column_true, column_pred, sample_weight=balanced_weights),
        "brier": losses.MeanSquaredError()(y_true, y_pred),
    }
    return {f"loss/{name}": float(np.asarray(value)) for name, value in values.items()}


@pytest.mark.parametrize("n0, a0, n1, a1", CELLS)
def test_numpy_backend_agrees_with_keras(n0, a0, n1, a1):
    """Within 1e-5 relative: the keras backend (chunked, per-sample Keras values) and Keras's
    own reductions over the whole arrays. Metrics do not depend on the backend at all."""
    y_true, y_pred = simulate(n0, a0, n1, a1, seed=11)
    ours = evaluate(y_true, y_pred)
    through_keras = evaluate(y_true, y_pred, backend="keras")
    reference = keras_reference(y_true, y_pred)
    for name in LOSS_NAMES:
        key = f"loss/{name}"
        assert through_keras[key] == pytest.approx(ours[key], rel=1e-5), key
        assert reference[key] == pytest.approx(ours[key], rel=1e-5), key
    # the skill scores are of the losses; no other metric depends on the backend at all
    skills = ("log_loss_skill", "brier_skill")
    for key in skills:  # 1 - skill is the loss over a constant: as close as the losses are
        assert 1 - through_keras[key] == pytest.approx(1 - ours[key], rel=1e-5), key
    assert {k: v for k, v in through_keras.items() if not k.startswith("loss/") and k not in skills} == {
        k: v for k, v in ours.items() if not k.startswith("loss/") and k not in skills
    }


def test_alpha_and_gamma_reach_keras():
    y_true, y_pred = simulate(20_000, 0.9, 2_000, 0.7, seed=2)
    ours = evaluate(y_true, y_pred, alpha=0.6, gamma=3.5)
    reference = keras_reference(y_true, y_pred, alpha=0.6, gamma=3.5)
    for name in ("focal_tfa", "focal_balanced", "focal"):
        assert reference[f"loss/{name}"] == pytest.approx(ours[f"loss/{name}"], rel=1e-5)


def keras_areas(y_true, y_pred, curve: str) -> dict[str, float]:
    """Keras's thresholded area under the ROC or PR curve (20,001 thresholds), by each summation."""
    areas = {}
    for method in ("interpolation", "minoring", "majoring"):
        metric = keras.metrics.AUC(num_thresholds=20_001, curve=curve, summation_method=method)
        metric.update_state(y_true, y_pred)
        areas[method] = float(metric.result())
    return areas


@pytest.mark.slow  # six Keras metrics of 20,001 thresholds per case: several seconds
@pytest.mark.parametrize(
    "n0, a0, n1, a1", [(100_000, 0.98, 2_000, 0.9), (50_000, 0.7, 5_000, 0.6), (20_000, 0.999, 200, 0.5)]
)
def test_ranking_metrics_agree_with_keras_auc_within_its_approximation(n0, a0, n1, a1):
    """keras.metrics.AUC approximates the curves on a grid of thresholds: its minoring and majoring
    Riemann sums bracket the ROC area, and their gap is how far its PR area may be from the exact
    one. Our exact values (the keras backend's run) must fall within that."""
    y_true, y_pred = simulate(n0, a0, n1, a1, seed=1)
    ours = evaluate(y_true, y_pred, backend="keras")
    roc = keras_areas(y_true, y_pred, "ROC")
    slack = 1e-6  # Keras accumulates in float32
    assert roc["minoring"] - slack <= ours["roc_auc"] <= roc["majoring"] + slack
    assert ours["roc_auc"] == pytest.approx(roc["interpolation"], abs=roc["majoring"] - roc["minoring"])
    pr = keras_areas(y_true, y_pred, "PR")
    gap = pr["majoring"] - pr["minoring"]
    assert abs(ours["average_precision"] - pr["interpolation"]) <= gap
    assert pr["minoring"] - slack <= ours["average_precision"]
