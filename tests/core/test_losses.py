"""Losses: hand-derived values, properties, and agreement with the real Keras loss objects."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep import LOSS_NAMES, InvalidValue, evaluate, simulate

TINY = ([0, 0, 1], [0.2, 0.4, 0.6])


def hand_losses(alpha=0.25, gamma=2.0):
    """The six losses of TINY, written out term by term in float64."""
    bce = [-math.log(0.8), -math.log(0.6), -math.log(0.6)]
    distance = [0.2, 0.4, 0.4]  # |p - y| = 1 - p_t
    weight = [1 - alpha, 1 - alpha, alpha]
    focal = [d**gamma * b for d, b in zip(distance, bce, strict=False)]
    balanced = [w * f for w, f in zip(weight, focal, strict=False)]
    return {
        "loss/bce": sum(bce) / 3,
        "loss/focal_tfa": sum(balanced),
        "loss/focal_balanced": sum(balanced) / 3,
        "loss/focal": sum(focal) / 3,
        "loss/balanced_bce": ((bce[0] + bce[1]) / 2 + bce[2]) / 2,
        "loss/brier": sum(d * d for d in distance) / 3,
    }


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.6, 0.0), (0.25, 1.5), (1.0, 3.0)])
def test_losses_equal_hand_derived_values(alpha, gamma):
    values = evaluate(*TINY, alpha=alpha, gamma=gamma)
    for name, expected in hand_losses(alpha, gamma).items():
        assert values[name] == pytest.approx(expected, rel=1e-6), name


def test_predictions_of_exactly_0_and_1_are_clipped_as_keras_does():
    """Scores are clipped to [1e-7, 1 - 1e-7] in float32 before the log, as Keras does: a confident
    miss costs ~16, a confident hit ~1e-7, never inf or NaN. In float32, 1 - 1e-7 rounds to
    1 - 2**-23, so a negative scored 1 costs -log(2**-23), a positive scored 0 costs -log(1e-7)."""
    values = evaluate([0, 1, 0, 1], [1.0, 0.0, 0.0, 1.0], losses=["bce", "focal", "brier"])
    upper = 1 - 2**-23  # float32(1 - float32(1e-7))
    negative_miss, positive_miss = -math.log(1 - upper), -math.log(float(np.float32(1e-7)))
    hit = -math.log(upper)
    assert values["loss/bce"] == pytest.approx((negative_miss + positive_miss + 2 * hit) / 4, rel=1e-6)
    assert values["loss/focal"] == pytest.approx((negative_miss + positive_miss) / 4, rel=1e-6)
    assert values["loss/brier"] == 0.5


def test_one_empty_class():
    """With no positives, balanced_bce is plain bce (sklearn's balanced weights over the classes present)."""
    values = evaluate(*simulate(5000, 0.8, 0, 0.5, seed=0))
    assert values["loss/balanced_bce"] == pytest.approx(values["loss/bce"], rel=1e-12)
    assert values["tp"] == values["fn"] == 0


@given(
    acc_0s=st.floats(0, 1),
    acc_1s=st.floats(0, 1),
    n0=st.integers(0, 3000),
    n1=st.integers(1, 3000),
    chunk_size=st.integers(1, 4000),
    gamma=st.sampled_from([0.0, 1.0, 2.0, 2.5]),
)
def test_loss_properties(acc_0s, acc_1s, n0, n1, chunk_size, gamma):
    """Focal <= bce (the focal factor is <= 1), brier in [0, 1], focal_tfa = N * focal_balanced,
    and the chunk size changes the values by float rounding only."""
    y_true, y_pred = simulate(n0, acc_0s, n1, acc_1s, seed=5)
    whole = evaluate(y_true, y_pred, gamma=gamma, chunk_size=10**6)
    chunked = evaluate(y_true, y_pred, gamma=gamma, chunk_size=chunk_size)
    for name in LOSS_NAMES:
        assert chunked[f"loss/{name}"] == pytest.approx(whole[f"loss/{name}"], rel=1e-6, abs=1e-12)
    assert whole["loss/focal"] <= whole["loss/bce"] * (1 + 1e-6)
    assert 0 <= whole["loss/brier"] <= 1
    assert whole["loss/focal_tfa"] == pytest.approx(whole["loss/focal_balanced"] * (n0 + n1), rel=1e-12)
    if gamma == 0:
        assert whole["loss/focal"] == pytest.approx(whole["loss/bce"], rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"losses": ["bce", "hinge"]}, "losses[1]='hinge' is not one of: bce, focal_tfa"),
        ({"losses": []}, "losses=[] is empty"),
        ({"backend": "torch"}, "backend='torch' is not one of: numpy, keras"),
        ({"alpha": 1.5}, "focal.alpha=1.5 is outside [0, 1]"),
        ({"gamma": -1}, "focal.gamma=-1 is not a finite number >= 0"),
        ({"chunk_size": 0}, "chunk_size=0 is not a whole number in [1, 1048576]"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(InvalidValue) as error:
        evaluate(*TINY, **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "y_true, y_pred, message",
    [
        ([0, 2], [0.1, 0.2], "y_true must hold only 0 and 1"),
        ([0, 1], [0.1, 1.2], "y_pred must hold probabilities in [0, 1]"),
        ([0, 1], [0.1, float("nan")], "y_pred must hold probabilities in [0, 1]"),
        ([0, 1], [0.1], "must be 1-D of one length"),
        ([], [], "y_true is empty"),
    ],
)
def test_bad_arrays_are_refused(y_true, y_pred, message):
    with pytest.raises(InvalidValue) as error:
        evaluate(y_true, y_pred)
    assert message in str(error.value)
