"""The K-class cell's faster paths give what the plain definitions give, on scores that are not the
model's too: exact sums into one group, the losses of rows known to be good, a loss computed once
for two names, the ranking counts that skip a column's zeros, the calibration bins that skip zero
scores and top-k that ranks only the rows the argmax misses."""

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imbalance_sweep.core.calibration import inner_edges
from imbalance_sweep.core.multiclass.calibration import CalibrationCounts
from imbalance_sweep.core.multiclass.confusion import predicted_classes
from imbalance_sweep.core.multiclass.exact_sums import ExactSums
from imbalance_sweep.core.multiclass.losses import MulticlassLosses, multiclass_losses
from imbalance_sweep.core.multiclass.metrics import top_k_hits
from imbalance_sweep.core.multiclass.ranking import lower_pair_counts
from imbalance_sweep.core.multiclass.simulator import simulate


@given(
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 4),
    st.data(),
)
def test_one_group_for_all_values_sums_as_an_array_of_that_group(dtype, group, data):
    values = data.draw(
        arrays(dtype, st.integers(0, 60), elements=st.floats(width=np.dtype(dtype).itemsize * 8))
    )
    by_array, by_number = ExactSums(5), ExactSums(5)
    by_array.add(np.full(values.size, group, dtype=np.intp), values)
    by_number.add(group, values)
    exact = [sum((Fraction(float(v)) for v in values if math.isfinite(v)), Fraction(0))]
    assert repr(by_number.exact_totals()) == repr(by_array.exact_totals())
    if np.isfinite(values).all():
        assert by_number.exact_totals()[group] == exact[0]


def test_float64_sums_near_the_largest_float_stay_exact():
    values = np.array([1.7e308, -1.6e308, 2**-1074, 1.0, 1e300, -1e300, 3.0 * 2**970])
    sums = ExactSums(1)
    sums.add(0, values)
    assert sums.exact_totals() == [sum((Fraction(float(v)) for v in values), Fraction(0))]


def good_scores(rng, labels, classes, zeros=0.4, right=0.0):
    """Float32 probability rows with a share ``zeros`` of exact zeros (mostly zeros as in a K-class
    cell, or few as in a softmax), ties and repeated rows; a share ``right`` of rows has its highest
    score on its label."""
    rows = labels.size
    scores = rng.dirichlet(np.full(classes, 0.5), size=rows)
    scores[rng.random((rows, classes)) < zeros] = 0.0
    scores[: rows // 4] = np.round(scores[: rows // 4] * 4) / 4  # ties among a row and across rows
    boosted = rng.random(rows) < right
    scores[boosted, labels[boosted]] += scores[boosted].sum(axis=1) + 0.1
    scores[scores.sum(axis=1) == 0, 0] = 1.0
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


SHARES = st.sampled_from([0.0, 0.4, 0.8])


@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 120))
def test_the_losses_of_rows_known_good_are_those_of_checked_rows(seed, classes, rows):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    scores = good_scores(rng, labels, classes)
    training = rng.integers(1, 500, classes)
    checked, trusted = (
        MulticlassLosses(classes, training_counts=training),
        MulticlassLosses(classes, training_counts=training),
    )
    checked.add(labels, scores)
    trusted.add_checked(labels.astype(np.intp), scores)
    assert repr(trusted.values()) == repr(checked.values())


def test_a_loss_computed_once_for_two_names_is_each_one_alone():
    labels, scores = simulate([300, 60, 9], [0.9, 0.7, 0.4], spread="frequency", seed=4)
    training = [1000, 100, 10]
    for tau in (1.0, 0.5):
        together = multiclass_losses(labels, scores, training_counts=training, tau=tau)
        for name in ("logit_adjusted", "balanced_softmax"):
            alone = multiclass_losses(labels, scores, [name], training_counts=training, tau=tau)
            assert alone[name] == together[name], (tau, name)
    assert together["logit_adjusted"] != together["balanced_softmax"]  # tau = 0.5


def pair_counts_by_definition(labels, scores):
    """2 x (class-j rows scoring lower than a class-k row in column j) + ties, pair by pair."""
    classes = scores.shape[1]
    counts = np.zeros((classes, classes))
    for j in range(classes):
        own = scores[labels == j, j].astype(np.float64)
        for k in range(classes):
            other = scores[labels == k, j].astype(np.float64)
            counts[j, k] = 2 * (own[:, None] < other).sum() + (own[:, None] == other).sum()
    return counts


@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 5),
    st.integers(1, 80),
    st.sampled_from([np.float32, np.float64]),
    SHARES,
)
def test_ranking_counts_skipping_zeros_are_the_pair_counts(seed, classes, rows, dtype, zeros):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    scores = good_scores(rng, labels, classes, zeros).astype(dtype)
    scores[scores == 0] = rng.choice([0.0, -0.0], size=int((scores == 0).sum()))  # -0.0 ties 0.0
    expected = pair_counts_by_definition(labels, scores)
    assert np.array_equal(lower_pair_counts(labels, scores), expected)
    by_columns = np.ascontiguousarray(scores.T).T  # held column by column, as the evaluation keeps them
    assert np.array_equal(lower_pair_counts(labels, by_columns), expected)


@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 5),
    st.integers(1, 80),
    st.sampled_from([np.float32, np.float64]),
    SHARES,
)
def test_calibration_bins_skipping_zero_scores_are_the_bins_of_every_score(seed, classes, rows, dtype, zeros):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    scores = good_scores(rng, labels, classes, zeros).astype(dtype)
    scores[scores == 0] = rng.choice([0.0, -0.0], size=int((scores == 0).sum()))
    bins = 7
    counts = CalibrationCounts(classes, bins)
    counts.add(labels, scores, predicted_classes(scores))
    in_class = np.zeros((classes, bins), dtype=np.int64)
    score_sums = [[Fraction(0)] * bins for _ in range(classes)]
    for row in range(rows):
        for k in range(classes):
            b = int(np.searchsorted(inner_edges(bins), float(scores[row, k])))  # scikit-learn's rule
            in_class[k, b] += labels[row] == k
            score_sums[k][b] += Fraction(float(scores[row, k]))
    assert np.array_equal(counts.in_class.reshape(classes, bins), in_class)
    assert counts.class_scores.exact_totals() == [total for sums in score_sums for total in sums]


@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 80), st.integers(1, 7), SHARES, SHARES)
def test_top_k_ranking_only_the_missed_rows_counts_every_hit(seed, classes, rows, k, zeros, right):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    scores = good_scores(rng, labels, classes, zeros, right + 0.2)
    hits = 0
    for row in range(rows):
        own = scores[row, labels[row]]
        ahead = sum(
            score > own or (score == own and column < labels[row]) for column, score in enumerate(scores[row])
        )
        hits += ahead < k
    assert top_k_hits(labels, scores, predicted_classes(scores), k) == hits
