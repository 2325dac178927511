"""The negatives of a cell counted by part of the score axis (``core.partition``): the same counts
as sorting or searching every score, so the same metrics, bit for bit where they are counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from imbalance_sweep.core import evaluation
from imbalance_sweep.core.calibration import CalibrationBins, inner_edges
from imbalance_sweep.core.evaluation import Accumulator
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms
from imbalance_sweep.core.partition import PartCounts, ScorePartition
from imbalance_sweep.core.ranking import ScoreCounts, ranking_of_slots


def searched_slots(negatives, points):
    """Each negative's ranking slot by a plain binary search: 2 * (points below) + (tied)."""
    scores, values = negatives.astype(np.float64), points.astype(np.float64)
    return 2 * np.searchsorted(values, scores) + np.isin(scores, values)


def counted(negatives, points, *, bins=15, threshold=0.5, chunk_size=4096):
    partition = ScorePartition(
        points, {"calibration": inner_edges(bins), "threshold": np.array([np.float32(threshold)])}
    )
    counts = PartCounts(partition)
    for start in range(0, negatives.size, chunk_size):
        counts.add(negatives[start : start + chunk_size])
    return counts


def post_like_cell():
    """300,000 negatives, 3,000 positives, ties across the classes, scores next to a positive, on
    every calibration edge, on the threshold, 0 and 1."""
    rng = np.random.default_rng(8)
    negatives = (rng.random(300_000, dtype=np.float32) * np.float32(0.6)).astype(np.float32)
    positives = rng.random(3_000, dtype=np.float32)
    negatives[:500] = positives[rng.integers(0, 3_000, 500)]
    negatives[500:600] = np.nextafter(positives[:100], np.float32(0))
    negatives[600:700] = np.nextafter(positives[:100], np.float32(1))
    negatives[700:714] = inner_edges(15).astype(np.float32)
    negatives[714:717] = (0.5, 0.0, 1.0)
    positives[:10] = 1.0
    return negatives, positives


def test_a_post_like_cells_counts_equal_a_search_and_its_metrics_the_sorted_tables():
    negatives, positives = post_like_cell()
    counts = counted(negatives, np.unique(positives))
    points, weights = np.unique(positives, return_counts=True)
    expected_slots = np.bincount(searched_slots(negatives, points), minlength=2 * points.size + 1)
    assert np.array_equal(counts.per_slot(), expected_slots)

    table = ScoreCounts(1 << 20)
    table.add(1, positives)
    table.add(0, negatives)
    for recall in (0.3, 0.9, 1.0):
        by_slots = ranking_of_slots(weights.astype(np.float64), counts.per_slot(), recall=recall)
        assert by_slots == table.result(recall=recall)
    y_true = np.r_[np.zeros(negatives.size), np.ones(positives.size)]
    y_pred = np.r_[negatives, positives]
    by_slots = ranking_of_slots(weights.astype(np.float64), counts.per_slot(), recall=0.9)
    assert by_slots["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, y_pred), rel=1e-12)
    assert by_slots["average_precision"] == pytest.approx(
        skm.average_precision_score(y_true, y_pred), rel=1e-12
    )

    bins = CalibrationBins(15)
    bins.add(0, negatives)
    per_bin, sums = counts.per_family_part("calibration")
    assert np.array_equal(per_bin, bins.counts[0])
    np.testing.assert_allclose(sums, bins.score_sums[0], rtol=1e-12)
    sides, _ = counts.per_family_part("threshold")
    assert list(sides) == [np.count_nonzero(negatives <= np.float32(0.5)), np.count_nonzero(negatives > 0.5)]


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.floats(0, 1, width=32), max_size=300),
    st.lists(st.floats(0, 1, width=32), max_size=60),
    st.integers(1, 40),
    st.floats(0, 1, width=32),
    st.integers(1, 97),
)
def test_any_scores_land_in_the_part_a_search_gives(negatives, positives, bins, threshold, chunk_size):
    """Hypothesis' scores: ties, 0 and 1, scores on a point, an edge or the threshold."""
    points = np.unique(np.array(positives, dtype=np.float32))
    edges = inner_edges(bins)
    negatives = np.array(
        negatives
        + positives[: len(positives) // 2]
        + [float(np.float32(e)) for e in edges[:3]]
        + [threshold],
        dtype=np.float32,
    )
    counts = counted(negatives, points, bins=bins, threshold=threshold, chunk_size=chunk_size)
    expected_slots = np.bincount(searched_slots(negatives, points), minlength=2 * points.size + 1)
    assert np.array_equal(counts.per_slot(), expected_slots)
    expected_bins = np.bincount(np.searchsorted(edges, negatives.astype(np.float64)), minlength=bins)
    assert np.array_equal(counts.per_family_part("calibration")[0], expected_bins)
    below = np.count_nonzero(negatives <= np.float32(threshold))
    assert list(counts.per_family_part("threshold")[0]) == [below, negatives.size - below]


def test_boundaries_crowded_into_one_bucket_are_searched():
    """Points and an edge within 2**-18 of each other (one bucket holds them all), and scores on,
    between and around each."""
    points = np.array(
        [0.0, 1e-30, 1e-10, 2e-7, 3e-6, 0.5, np.nextafter(np.float32(0.5), np.float32(1))], np.float32
    )
    around = [np.nextafter(points, np.float32(0)), points, np.nextafter(points, np.float32(1))]
    negatives = np.concatenate([*around, np.float32([1.5e-6, 0.25, 0.75, 1.0])]).astype(np.float32)
    counts = counted(negatives, points, bins=2, threshold=0.5)
    assert np.isnan(counts.partition._row_above).any()  # a bucket with several boundaries
    expected = np.bincount(searched_slots(negatives, points), minlength=2 * points.size + 1)
    assert np.array_equal(counts.per_slot(), expected)
    below = np.count_nonzero(negatives <= np.float32(0.5))
    assert list(counts.per_family_part("threshold")[0]) == [below, negatives.size - below]
    assert list(counts.per_family_part("calibration")[0]) == [below, negatives.size - below]  # edge 0.5


def accumulated(negatives, positives, *, partitioned, chunk_size=1 << 16, threshold=0.5):
    accumulator = Accumulator(
        make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0),
        chunk_size=chunk_size,
        negatives=negatives.size,
        threshold=threshold,
    )
    accumulator.partition_pays = partitioned
    for label, scores in ((1, positives), (0, negatives)):
        for start in range(0, scores.size, chunk_size):
            accumulator.add(label, scores[start : start + chunk_size])
    assert (accumulator.negatives is not None) == partitioned
    values = accumulator.result(LOSS_NAMES)
    assert accumulator.result(LOSS_NAMES) == values  # reading the result changes nothing
    return values


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.0, 1.0])
def test_a_cell_partitioned_gives_the_values_of_one_that_is_not(threshold):
    """Counts and the metrics made of them bit for bit; the ECE's score sums, added per part then
    per bin, within float64 rounding."""
    negatives, positives = post_like_cell()
    partitioned = accumulated(negatives, positives, partitioned=True, threshold=threshold)
    plain = accumulated(negatives, positives, partitioned=False, threshold=threshold)
    assert partitioned.keys() == plain.keys()
    assert partitioned.pop("ece") == pytest.approx(plain.pop("ece"), rel=1e-12)
    assert partitioned == plain


def test_a_cell_without_positives_partitioned_gives_the_values_of_one_that_is_not():
    negatives, _ = post_like_cell()
    none = np.empty(0, dtype=np.float32)
    partitioned = accumulated(negatives, none, partitioned=True)
    plain = accumulated(negatives, none, partitioned=False)
    assert partitioned.pop("ece") == pytest.approx(plain.pop("ece"), rel=1e-12)
    assert partitioned == plain and partitioned["roc_auc"] == 0.0


def test_a_large_cell_is_partitioned_unless_its_positives_are_too_many_or_the_threshold_is_chosen():
    rng = np.random.default_rng(1)
    negatives = rng.random(evaluation.LOOKUP_MIN_NEGATIVES, dtype=np.float32)
    few = rng.random(1_000, dtype=np.float32)
    many = rng.random(evaluation.MAX_BOUNDARIES, dtype=np.float32)
    for positives, threshold, partitioned in (
        (few, 0.5, True),
        (many, 0.5, False),
        (few, "best:f1", False),
    ):
        accumulator = Accumulator(
            make_terms("numpy", ("bce",), alpha=0.25, gamma=2.0),
            chunk_size=1 << 16,
            negatives=negatives.size,
            threshold=threshold,
        )
        accumulator.add(1, positives)
        accumulator.add(0, negatives[:10])
        assert (accumulator.negatives is not None) == partitioned


def test_a_positive_after_a_negative_is_a_programming_error():
    accumulator = Accumulator(make_terms("numpy", ("bce",), alpha=0.25, gamma=2.0), chunk_size=8, negatives=1)
    accumulator.add(0, np.array([0.1], dtype=np.float32))
    with pytest.raises(RuntimeError, match="all positives before any negative"):
        accumulator.add(1, np.array([0.9], dtype=np.float32))
