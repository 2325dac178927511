"""Parity with tensorflow-addons itself, inside the legacy environment (requirements-tfa.txt).

Skipped, with the reason, where tensorflow-addons does not import (the default environment:
tensorflow >= 2.16). ``test_tfa_environment.py`` builds the legacy environment and runs these
tests inside it, so every CI run proves parity.
"""

import os
import warnings

import numpy as np
import pytest

from imbalance_sweep import LOSS_NAMES, evaluate, simulate

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow_addons")
    try:
        import tensorflow as tf
        import tensorflow_addons as tfa
    except ImportError as error:
        pytest.skip(
            f"tensorflow-addons does not import here ({error}); these tests run in the environment "
            "of requirements-tfa.txt (see test_tfa_environment.py)",
            allow_module_level=True,
        )

CELLS = [
    (1_000_000, 0.999, 10_000, 0.5),  # the post's six numbers come from these four cells
    (1_000_000, 0.98, 10_000, 0.9),
    (10_000, 0.999, 10_000, 0.5),
    (10_000, 0.98, 10_000, 0.9),
    (50_000, 0.0, 5_000, 0.0),  # scores up to exactly 1 on the wrong side
    (50_000, 1.0, 5_000, 1.0),  # scores of exactly 0 and 1 on the right side
    (50_000, 0.5, 5_000, 0.5),
    (30_000, 0.9, 0, 0.5),  # one class empty
    (0, 0.9, 30_000, 0.6),
]


def tfa_as_the_post_called_it(y_true, y_pred):
    """The post's calls: tfa's loss on 1-D arrays (a sum over all samples) and tf.keras BCE."""
    focal_tfa = tfa.losses.SigmoidFocalCrossEntropy()(y_true, y_pred)
    per_sample = tfa.losses.SigmoidFocalCrossEntropy()(y_true[:, None], y_pred[:, None])
    return {
        "loss/focal_tfa": float(focal_tfa),
        "loss/focal_balanced": float(np.mean(per_sample.numpy(), dtype=np.float64)),
        "loss/bce": float(tf.keras.losses.BinaryCrossentropy()(y_true, y_pred)),
    }


@pytest.mark.parametrize("n0, a0, n1, a1", CELLS)
def test_numpy_backend_equals_tfa(n0, a0, n1, a1):
    y_true, y_pred = simulate(n0, a0, n1, a1, seed=0)
    ours = evaluate(y_true, y_pred)
    for name, value in tfa_as_the_post_called_it(y_true, y_pred).items():
        assert ours[name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize("n0, a0, n1, a1", CELLS[::2])
def test_tfa_backend_equals_numpy_backend(n0, a0, n1, a1):
    y_true, y_pred = simulate(n0, a0, n1, a1, seed=1)
    ours, through_tfa = evaluate(y_true, y_pred), evaluate(y_true, y_pred, backend="tfa")
    for name in LOSS_NAMES:
        assert through_tfa[f"loss/{name}"] == pytest.approx(ours[f"loss/{name}"], rel=1e-5), name


def test_tfa_backend_passes_alpha_and_gamma():
    y_true, y_pred = simulate(20_000, 0.9, 2_000, 0.7, seed=2)
    ours = evaluate(y_true, y_pred, losses=["focal_tfa"], alpha=0.6, gamma=3.5)
    through_tfa = evaluate(y_true, y_pred, losses=["focal_tfa"], alpha=0.6, gamma=3.5, backend="tfa")
    assert through_tfa["loss/focal_tfa"] == pytest.approx(ours["loss/focal_tfa"], rel=1e-5)
