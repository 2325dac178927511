"""The uniform score model: per-class accuracies, intervals, chunking and seeding."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep import InvalidValue, simulate
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.score_models.uniform import score_chunks, score_interval
from imbalance_sweep.core.simulator import cell_score_chunks

accuracies = st.floats(0.0, 1.0)


def correct_fraction(label, scores):
    return np.mean(scores <= 0.5) if label == 0 else np.mean(scores > 0.5)


@given(acc_0s=accuracies, acc_1s=accuracies, seed=st.integers(0, 2**32))
def test_class_accuracies_match_the_requested_ones(acc_0s, acc_1s, seed):
    """The fraction of each class on its correct side is acc, within 5 binomial standard errors."""
    n = 20_000
    y_true, y_pred = simulate(n, acc_0s, n, acc_1s, seed=seed)
    for label, acc in ((0, acc_0s), (1, acc_1s)):
        observed = correct_fraction(label, y_pred[y_true == label])
        standard_error = math.sqrt(acc * (1 - acc) / n) + 1e-12
        assert abs(observed - acc) <= 5 * standard_error + 1e-6


@pytest.mark.parametrize("acc", [0.0, 1.0])
def test_extreme_accuracies_are_exact(acc):
    """acc = 1 puts every sample right (no score lands on 0.5 for positives); acc = 0, none."""
    y_true, y_pred = simulate(200_000, acc, 200_000, acc, seed=3)
    for label in (0, 1):
        assert correct_fraction(label, y_pred[y_true == label]) == acc


@pytest.mark.parametrize(
    "label, acc, low, high",
    [
        (0, 0.999, 0.0, 0.5 / 0.999),  # the post's negatives
        (1, 0.5, 0.0, 1.0),  # the post's positives at 50 % recall
        (1, 0.9, 1 - 0.5 / 0.9, 1.0),
        (1, 0.3, 0.0, 0.5 / 0.7),  # below 0.5 the interval moves to the wrong side
        (0, 0.2, 1 - 0.5 / 0.8, 1.0),
        (0, 1.0, 0.0, 0.5),
        (1, 1.0, 0.5, 1.0),
    ],
)
def test_scores_fill_the_specified_interval(label, acc, low, high):
    """Scores lie in the interval the issue specifies and fill it uniformly."""
    scores = np.concatenate(
        list(c.copy() for c in score_chunks(np.random.default_rng(1), 100_000, label, acc, 4096))
    )
    assert scores.dtype == np.float32
    assert low - 1e-6 <= scores.min() < low + 1e-3
    assert high - 1e-3 < scores.max() <= high + 1e-6
    # uniform: the mean sits in the middle and the variance is width^2 / 12
    assert scores.mean() == pytest.approx((low + high) / 2, abs=5 * (high - low) / math.sqrt(12 * 100_000))
    assert scores.var() == pytest.approx((high - low) ** 2 / 12, rel=0.02)


def test_score_interval_matches_the_post_formula_above_one_half():
    assert score_interval(0, 0.98) == (True, pytest.approx(0.5 / 0.98))
    assert score_interval(1, 0.9) == (False, pytest.approx(0.5 / 0.9))


@given(chunk_size=st.integers(1, 5000), n0=st.integers(0, 3000), n1=st.integers(0, 3000))
def test_chunking_does_not_change_the_draw(chunk_size, n0, n1):
    """Drawing in chunks of any size yields exactly the scores of one big draw."""
    if n0 + n1 == 0:
        return
    cell = Cell(n0, n1, 0.8, 0.6)
    chunks = [(label, scores.copy()) for label, scores in cell_score_chunks(cell, 7, chunk_size)]
    assert all(scores.size <= chunk_size for _, scores in chunks)
    y_true, y_pred = simulate(n0, 0.8, n1, 0.6, seed=7)
    np.testing.assert_array_equal(np.concatenate([s for _, s in chunks] or [np.empty(0, np.float32)]), y_pred)
    np.testing.assert_array_equal(
        np.concatenate([np.full(s.size, label, np.float32) for label, s in chunks]), y_true
    )


def test_simulate_layout_and_dtypes():
    y_true, y_pred = simulate(1e3, 0.9, 10.0, 0.6, seed=0)
    assert y_true.dtype == y_pred.dtype == np.float32
    assert y_true.shape == y_pred.shape == (1010,)
    assert (y_true[:1000] == 0).all() and (y_true[1000:] == 1).all()


def test_seed_and_cell_values_determine_the_draw():
    """Same cell and seed: same numbers; another seed, replicate or cell value: other numbers."""
    base = simulate(500, 0.9, 50, 0.6, seed=1)[1]
    np.testing.assert_array_equal(base, simulate(500, 0.9, 50, 0.6, seed=1)[1])
    assert not np.array_equal(base, simulate(500, 0.9, 50, 0.6, seed=2)[1])
    assert not np.array_equal(base, simulate(500, 0.9, 50, 0.6, seed=1, replicate=1)[1])
    assert not np.array_equal(base, simulate(500, 0.9, 50, 0.61, seed=1)[1])


@pytest.mark.parametrize(
    "args, message",
    [
        ((100.5, 0.9, 10, 0.5), "num_0s=100.5 is not a whole number >= 0"),
        ((100, 0.9, -1, 0.5), "num_1s=-1 is not a whole number >= 0"),
        ((100, 0.9, 10, 1.5), "acc_1s=1.5 is outside [0, 1]"),
        ((100, float("nan"), 10, 0.5), "acc_0s=nan is not a number in [0, 1]"),
        ((0, 0.9, 0, 0.5), "num_0s + num_1s >= 1"),
        ((100, 0.9, 10, True), "acc_1s=True is not a number"),
    ],
)
def test_bad_cells_are_refused_with_the_parameter_named(args, message):
    with pytest.raises(InvalidValue, match=message.replace("[", r"\[").replace("+", r"\+")):
        simulate(*args, seed=0)


def test_bad_seed_is_refused():
    with pytest.raises(InvalidValue, match="seed=-1 is not a whole number >= 0"):
        simulate(10, 0.9, 10, 0.5, seed=-1)
