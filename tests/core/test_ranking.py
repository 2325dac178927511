"""Ranking metrics (ROC AUC, average precision, precision at recall) against scikit-learn: exact
tables fed in chunks in any order, ties, empty classes, weights, and the bounds of binned tables."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.ranking import (
    RANKING_NAMES,
    ScoreCounts,
    ranking_bounds,
    ranking_metrics,
    ranking_of,
)


def sklearn_ranking(y_true, y_pred, *, recall, sample_weight=None) -> dict[str, float]:
    """The same metrics from scikit-learn; 0.0 where a class is missing (it warns or raises there).
    Precision at recall: the best precision over precision_recall_curve's thresholds (its last
    point, recall 0 and precision 1, has none) whose recall reaches the target."""
    y_true = np.asarray(y_true)
    if sample_weight is not None:
        kept = np.asarray(sample_weight) > 0  # scikit-learn drops zero-weight samples too
        y_true, y_pred, sample_weight = (
            y_true[kept],
            np.asarray(y_pred)[kept],
            np.asarray(sample_weight)[kept],
        )
    if not np.any(y_true == 1):
        return dict.fromkeys(RANKING_NAMES, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class: sklearn warns; the values are what we compare
        both = np.any(y_true == 0)
        auc = skm.roc_auc_score(y_true, y_pred, sample_weight=sample_weight) if both else 0.0
        precision, recalls, _ = skm.precision_recall_curve(y_true, y_pred, sample_weight=sample_weight)
        return {
            "roc_auc": auc,
            "average_precision": skm.average_precision_score(y_true, y_pred, sample_weight=sample_weight),
            "precision_at_recall": precision[:-1][recalls[:-1] >= recall].max(),
        }


def counts_of(y_true, y_pred, *, capacity, chunk_size, buffer=None, order_seed=None) -> ScoreCounts:
    """Feed both classes' scores in chunks (shuffled if ``order_seed`` is given) through one
    scratch array that is overwritten after each add, as a simulator's chunk buffer is."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    chunks = [
        (label, scores[start : start + chunk_size])
        for label in (0, 1)
        for scores in [y_pred[np.asarray(y_true) == label]]
        for start in range(0, scores.size, chunk_size)
    ]
    if order_seed is not None:
        chunks = [chunks[i] for i in np.random.default_rng(order_seed).permutation(len(chunks))]
    counts = ScoreCounts(capacity, buffer=buffer)
    scratch = np.empty(chunk_size, dtype=np.float32)
    for label, chunk in chunks:
        scratch[: chunk.size] = chunk
        counts.add(label, scratch[: chunk.size])
        scratch.fill(np.float32(0.123))
    return counts


def assert_close(ours: dict[str, float], theirs: dict[str, float], rel=1e-9) -> None:
    assert set(ours) == set(RANKING_NAMES)
    for name in RANKING_NAMES:
        assert ours[name] == pytest.approx(theirs[name], rel=rel, abs=1e-15), name


def assert_same_table(a, b) -> None:
    """Bit for bit: the same values, counts and resolution."""
    assert a[3] == b[3]
    for x, y in zip(a[:3], b[:3], strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


# --- by hand ---------------------------------------------------------------------------------


def test_four_samples_with_a_tie_by_hand():
    """Negatives 0.2, 0.6; positives 0.6, 0.9.
    ROC AUC: the 4 (positive, negative) pairs score 1 (0.6 > 0.2), 1/2 (0.6 = 0.6), 1, 1: 3.5/4.
    Thresholds descending: 0.9 gives TP 1, FP 0 (precision 1, recall 1/2); 0.6 gives TP 2, FP 1
    (precision 2/3, recall 1); 0.2 gives TP 2, FP 2 (precision 1/2, recall 1).
    AP = 1/2 * 1 + 1/2 * 2/3 + 0 * 1/2 = 5/6. Precision at recall 0.9: max(2/3, 1/2) = 2/3; at
    recall 0.5: 1."""
    y_true, y_pred = [0, 1, 0, 1], [0.2, 0.6, 0.6, 0.9]
    values = ranking_of(y_true, y_pred, recall=0.9)
    assert values == {
        "roc_auc": 0.875,
        "average_precision": pytest.approx(5 / 6, rel=1e-15),
        "precision_at_recall": pytest.approx(2 / 3, rel=1e-15),
    }
    assert ranking_of(y_true, y_pred, recall=0.5)["precision_at_recall"] == 1.0
    assert_close(values, sklearn_ranking(y_true, y_pred, recall=0.9), rel=1e-15)


def test_one_bin_bounds_by_hand():
    """Capacity 1: the four samples above in one bin (2 negatives, 2 positives).
    Binned: AUC 1/2 (all tied), AP = 2/2 * 2/4 = 1/2, precision at recall 0.9 = 1/2.
    AUC bound: 1/2 +- (2*2)/(2*2*2) = [0, 1]. AP high: the positives first and tied, precision 1.
    AP low: (2 - 2 ln(1 + 2/2)) / 2 = 1 - ln 2 (the positives after both negatives, one by one,
    give (1/3 + 2/4)/2 = 5/12 >= 1 - ln 2 = 0.307). Precision at recall high: 2 / (2 + 0) = 1."""
    counts = counts_of([0, 1, 0, 1], [0.2, 0.6, 0.6, 0.9], capacity=1, chunk_size=1)
    values, weights_0, weights_1, bits = counts.table()
    assert bits > 0 and list(weights_0) == [2.0] and list(weights_1) == [2.0]
    assert ranking_metrics(values, weights_0, weights_1, recall=0.9) == {
        "roc_auc": 0.5,
        "average_precision": 0.5,
        "precision_at_recall": 0.5,
    }
    bounds = ranking_bounds(values, weights_0, weights_1, recall=0.9)
    assert bounds["roc_auc"] == (0.0, 1.0)
    assert bounds["average_precision"] == (pytest.approx(1 - math.log(2), rel=1e-15), 1.0)
    assert bounds["precision_at_recall"] == (0.5, 1.0)


# --- against scikit-learn ----------------------------------------------------------------------


def test_a_million_samples_match_scikit_learn_whatever_the_chunks():
    """10^6 samples, 1% positives, uniform scores (the positives' shifted up): equal to sklearn,
    and the table is the same bit for bit for other chunk sizes, orders and buffer sizes."""
    rng = np.random.default_rng(20240611)
    y_true = (rng.random(1_000_000) < 0.01).astype(np.int8)
    y_pred = np.clip(rng.random(1_000_000, dtype=np.float32) + 0.3 * y_true, 0, 1).astype(np.float32)
    counts = counts_of(y_true, y_pred, capacity=1 << 20, chunk_size=65_536)
    table = counts.table()
    assert table[3] == 0
    assert table[1].sum() + table[2].sum() == 1_000_000 and table[2].sum() == y_true.sum()
    assert_close(counts.result(recall=0.9), sklearn_ranking(y_true, y_pred, recall=0.9))
    for chunk_size, buffer, order_seed in ((100_003, None, 1), (7_919, 50_000, 2)):
        other = counts_of(
            y_true, y_pred, capacity=1 << 20, chunk_size=chunk_size, buffer=buffer, order_seed=order_seed
        )
        assert_same_table(other.table(), table)


scores = st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))


@settings(deadline=None, max_examples=60)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), scores), min_size=1, max_size=300),
    recall=st.floats(0, 1),
    chunk_size=st.integers(1, 40),
)
def test_arbitrary_samples_match_scikit_learn(data, recall, chunk_size):
    """Labels and scores in [0, 1], ties and lone classes included, in any chunks."""
    y_true = np.array([label for label, _ in data])
    y_pred = np.array([score for _, score in data], dtype=np.float32)
    counts = counts_of(y_true, y_pred, capacity=len(data), chunk_size=chunk_size, buffer=17, order_seed=0)
    assert counts.table()[3] == 0
    assert_close(counts.result(recall=recall), sklearn_ranking(y_true, y_pred, recall=recall))


@settings(deadline=None, max_examples=30)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1, width=32)), min_size=1, max_size=400),
    capacity=st.integers(1, 50),
    buffer=st.integers(1, 64),
    chunk_sizes=st.tuples(st.integers(1, 64), st.integers(1, 64)),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_the_table_does_not_depend_on_chunks_order_or_buffer(data, capacity, buffer, chunk_sizes, order_seed):
    """Coarsened or not, merged once or many times: the same table bit for bit, at the smallest
    resolution that fits the capacity."""
    y_true = [label for label, _ in data]
    y_pred = [score for _, score in data]
    once = counts_of(y_true, y_pred, capacity=capacity, chunk_size=len(data), buffer=len(data)).table()
    many = counts_of(
        y_true, y_pred, capacity=capacity, chunk_size=chunk_sizes[0], buffer=buffer, order_seed=order_seed
    )
    assert_same_table(many.table(), once)
    bits = np.asarray(y_pred, dtype=np.float32).view(np.uint32)
    assert len(once[0]) == len(np.unique(bits >> once[3])) <= capacity
    if once[3]:
        assert len(np.unique(bits >> (once[3] - 1))) > capacity
    again = counts_of(y_true, y_pred, capacity=capacity, chunk_size=chunk_sizes[1], order_seed=order_seed + 1)
    assert_same_table(again.table(), once)


def test_heavy_ties_match_scikit_learn():
    """Scores rounded to one decimal: 11 values shared by 20,000 samples."""
    rng = np.random.default_rng(3)
    y_true = (rng.random(20_000) < 0.2).astype(int)
    y_pred = np.round(np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1), 1).astype(np.float32)
    counts = counts_of(y_true, y_pred, capacity=11, chunk_size=999)
    assert counts.table()[3] == 0 and len(counts.table()[0]) == 11
    for recall in (0.0, 0.3, 0.9, 1.0):
        assert_close(counts.result(recall=recall), sklearn_ranking(y_true, y_pred, recall=recall))


def test_all_scores_equal():
    """One value for all: AUC 1/2 (all pairs tied), AP and precision at any recall = P / (P + N)."""
    y_true = [0, 0, 0, 1, 1]
    values = ranking_of(y_true, [0.7] * 5, recall=0.9)
    assert values == {"roc_auc": 0.5, "average_precision": 0.4, "precision_at_recall": 0.4}
    assert_close(values, sklearn_ranking(y_true, [0.7] * 5, recall=0.9))


def test_scores_exactly_zero_and_one():
    """0.0 and 1.0 are values like any other; -0.0 counts as 0.0 (a tie with it)."""
    y_true = [0, 1, 0, 1, 1, 0]
    y_pred = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    values = ranking_of(y_true, y_pred, recall=0.5)
    # pairs: the positive at 0.0 ties two negatives at 0.0 and loses to the one at 1.0 (1/2 + 1/2 + 0);
    # each positive at 1.0 beats both 0.0 negatives and ties the 1.0 one (2.5 each): 6/9
    assert values["roc_auc"] == pytest.approx(6 / 9, rel=1e-15)
    assert_close(values, sklearn_ranking(y_true, y_pred, recall=0.5))
    counts = ScoreCounts(4)
    counts.add(0, np.array([-0.0, 0.0], dtype=np.float32))
    counts.add(1, np.array([0.0, 1.0], dtype=np.float32))
    values, weights_0, weights_1, bits = counts.table()
    assert (list(values), list(weights_0), list(weights_1), bits) == ([0.0, 1.0], [2.0, 0.0], [1.0, 1.0], 0)


def test_a_missing_class_gives_zero_where_a_denominator_is_zero():
    """No positives: every metric divides by them, 0.0. No negatives: ROC AUC 0.0; every threshold
    has precision 1, so AP and precision at recall are 1.0 (as sklearn gives). No warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ranking_of([0, 0, 0], [0.1, 0.5, 0.9]) == dict.fromkeys(RANKING_NAMES, 0.0)
        assert ranking_of([1, 1, 1], [0.1, 0.5, 0.9]) == {
            "roc_auc": 0.0,
            "average_precision": 1.0,
            "precision_at_recall": 1.0,
        }
        empty = np.empty(0)
        assert ranking_metrics(empty, empty, empty, recall=0.5) == dict.fromkeys(RANKING_NAMES, 0.0)
        assert ScoreCounts(3).result(recall=0.5) == dict.fromkeys(RANKING_NAMES, 0.0)


@pytest.mark.parametrize("label", [0, 1])
@pytest.mark.parametrize("score", [0.0, 0.3, 1.0])
def test_a_single_sample(label, score):
    expected = {"roc_auc": 0.0, "average_precision": float(label), "precision_at_recall": float(label)}
    assert ranking_of([label], [score], recall=1.0) == expected
    assert_close(ranking_of([label], [score], recall=1.0), sklearn_ranking([label], [score], recall=1.0))


def test_one_positive_one_negative():
    assert ranking_of([0, 1], [0.2, 0.8]) == {
        "roc_auc": 1.0,
        "average_precision": 1.0,
        "precision_at_recall": 1.0,
    }
    assert ranking_of([1, 0], [0.2, 0.8]) == {
        "roc_auc": 0.0,
        "average_precision": 0.5,
        "precision_at_recall": 0.5,
    }


# --- weights ---------------------------------------------------------------------------------


def weighted_table(y_true, y_pred, weights):
    """Per-class summed weights at each distinct float32 score, ascending."""
    values, row = np.unique(np.asarray(y_pred, dtype=np.float32), return_inverse=True)
    y_true, weights = np.asarray(y_true), np.asarray(weights, dtype=np.float64)
    weights_0 = np.bincount(row, weights=weights * (y_true == 0), minlength=values.size)
    weights_1 = np.bincount(row, weights=weights * (y_true == 1), minlength=values.size)
    return values.astype(np.float64), weights_0, weights_1


@settings(deadline=None, max_examples=40)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 1), scores, st.integers(0, 5)),
        min_size=1,
        max_size=100,
    ),
    recall=st.floats(0, 1),
)
def test_integer_weights_equal_repeated_samples(data, recall):
    """Weight w at a sample = the sample w times (0: absent), against sklearn on the repeated
    arrays and with sample_weight."""
    y_true = np.array([label for label, _, _ in data])
    y_pred = np.array([score for _, score, _ in data], dtype=np.float32)
    weights = np.array([weight for _, _, weight in data])
    ours = ranking_metrics(*weighted_table(y_true, y_pred, weights), recall=recall)
    if weights.sum():  # the same table, so the same values bit for bit
        assert ours == ranking_of(np.repeat(y_true, weights), np.repeat(y_pred, weights), recall=recall)
    else:
        assert ours == dict.fromkeys(RANKING_NAMES, 0.0)
    assert_close(ours, sklearn_ranking(np.repeat(y_true, weights), np.repeat(y_pred, weights), recall=recall))
    assert_close(ours, sklearn_ranking(y_true, y_pred, recall=recall, sample_weight=weights))


def test_scaling_a_class_keeps_roc_auc_and_moves_average_precision():
    """Negatives weighted 7.3 (a cell drawn from a file, re-weighted to another balance): the same
    ROC AUC, a lower AP and precision at recall, both equal to sklearn's with those sample weights."""
    rng = np.random.default_rng(11)
    y_true = (rng.random(5_000) < 0.3).astype(int)
    y_pred = np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1).astype(np.float32)
    values, weights_0, weights_1 = weighted_table(y_true, y_pred, np.ones(y_true.size))
    plain = ranking_metrics(values, weights_0, weights_1, recall=0.8)
    scaled = ranking_metrics(values, 7.3 * weights_0, weights_1, recall=0.8)
    assert scaled["roc_auc"] == pytest.approx(plain["roc_auc"], rel=1e-14)
    assert 0.0 < scaled["average_precision"] < plain["average_precision"] < 1.0
    assert scaled["precision_at_recall"] < plain["precision_at_recall"]
    assert_close(
        scaled, sklearn_ranking(y_true, y_pred, recall=0.8, sample_weight=np.where(y_true, 1.0, 7.3))
    )
    both_scaled = ranking_metrics(values, 2.5 * weights_0, 2.5 * weights_1, recall=0.8)
    assert_close(both_scaled, plain, rel=1e-14)


# --- binned tables ---------------------------------------------------------------------------


@settings(deadline=None, max_examples=60)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), scores), min_size=2, max_size=300),
    capacity=st.integers(1, 12),
    recall=st.floats(0, 1),
    chunk_size=st.integers(1, 50),
)
def test_bounds_of_a_binned_table_hold_the_exact_values(data, capacity, recall, chunk_size):
    """Forced to coarsen by a small capacity, the binned metrics and the exact (sklearn) ones both
    lie in the bounds."""
    y_true = np.array([label for label, _ in data])
    y_pred = np.array([score for _, score in data], dtype=np.float32)
    counts = counts_of(y_true, y_pred, capacity=capacity, chunk_size=chunk_size, buffer=13)
    values, weights_0, weights_1, bits = counts.table()
    assert (bits > 0) == (len(np.unique(y_pred)) > capacity)
    binned = ranking_metrics(values, weights_0, weights_1, recall=recall)
    exact = sklearn_ranking(y_true, y_pred, recall=recall)
    bounds = ranking_bounds(values, weights_0, weights_1, recall=recall)
    for name in RANKING_NAMES:
        low, high = bounds[name]
        assert low - 1e-12 <= exact[name] <= high + 1e-12, name
        assert low - 1e-12 <= binned[name] <= high + 1e-12, name


def test_bounds_on_a_coarsened_million():
    """10^6 uniform scores into 4,096 rows: the bounds hold sklearn's values and are narrow."""
    rng = np.random.default_rng(5)
    y_true = (rng.random(1_000_000) < 0.01).astype(np.int8)
    y_pred = np.clip(rng.random(1_000_000, dtype=np.float32) + 0.3 * y_true, 0, 1).astype(np.float32)
    counts = counts_of(y_true, y_pred, capacity=4_096, chunk_size=65_536)
    values, weights_0, weights_1, bits = counts.table()
    assert bits > 0 and len(values) <= 4_096
    exact = sklearn_ranking(y_true, y_pred, recall=0.9)
    bounds = ranking_bounds(values, weights_0, weights_1, recall=0.9)
    for name in RANKING_NAMES:
        low, high = bounds[name]
        assert low <= exact[name] <= high, name
        assert high - low < 0.01 * exact[name], name


def test_a_large_capacity_keeps_the_table_exact():
    rng = np.random.default_rng(8)
    y_pred = rng.random(50_000, dtype=np.float32)
    y_true = (rng.random(50_000) < 0.5).astype(int)
    counts = counts_of(y_true, y_pred, capacity=50_000, chunk_size=4_096, buffer=10_000, order_seed=3)
    values, weights_0, weights_1, bits = counts.table()
    assert bits == 0
    assert np.array_equal(values, np.unique(y_pred).astype(np.float64))
    assert weights_0.sum() == (y_true == 0).sum() and weights_1.sum() == (y_true == 1).sum()


# --- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, scores",
    [
        (2, np.array([0.5], dtype=np.float32)),
        (1, np.array([0.5], dtype=np.float64)),
        (1, np.array([[0.5]], dtype=np.float32)),
        (0, np.array([0.5, -0.25], dtype=np.float32)),
        (0, np.array([np.nan], dtype=np.float32)),
    ],
)
def test_add_refuses_what_is_not_a_chunk_of_scores(label, scores):
    with pytest.raises(InvalidValue):
        ScoreCounts(4).add(label, scores)


@pytest.mark.parametrize(
    "values, weights_0, weights_1, recall",
    [
        ([0.1, 0.1], [1, 1], [0, 1], 0.5),
        ([0.2, 0.1], [1, 1], [0, 1], 0.5),
        ([0.1, 0.2], [1, -1], [0, 1], 0.5),
        ([0.1, 0.2], [1, 1], [0, np.inf], 0.5),
        ([0.1, 0.2], [1, 1], [0], 0.5),
        ([0.1, 0.2], [1, 1], [0, 1], 1.5),
    ],
)
def test_ranking_metrics_refuses_what_is_not_a_table(values, weights_0, weights_1, recall):
    for function in (ranking_metrics, ranking_bounds):
        with pytest.raises(InvalidValue):
            function(values, weights_0, weights_1, recall=recall)


def test_ranking_of_refuses_what_evaluate_refuses():
    for y_true, y_pred in (([0, 2], [0.1, 0.2]), ([0, 1], [0.1, 1.2]), ([], []), ([0, 1], [0.1])):
        with pytest.raises(InvalidValue):
            ranking_of(y_true, y_pred)
    with pytest.raises(InvalidValue):
        ScoreCounts(0)
