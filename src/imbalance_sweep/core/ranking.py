"""Threshold-free metrics of a cell's float32 scores (ROC AUC, average precision, precision at a
recall), accumulated chunk by chunk in memory bounded by a capacity, not by the cell's size.

These metrics rank every positive against every negative, so they need the scores themselves, not
counts at one threshold. Non-negative float32 values order exactly as their bit patterns read as
uint32, so :class:`ScoreCounts` keeps a table of the distinct bit patterns with the count of each
class at each one, built with sorts and run lengths (no Python loop per value): exact, ties
included. Where the distinct values outnumber the capacity it coarsens the table into bins of
2**k ulps (the k low bits dropped, the smallest k that fits); the metrics of a binned table are
approximate, and :func:`ranking_bounds` gives intervals sure to hold the exact values.

The definitions are scikit-learn's, computed in float64 from per-class weights (counts, or the
re-weighted counts of a cell drawn from a file) at distinct ascending score values, with tied
scores grouped: ``roc_auc`` is P(positive > negative) + P(tie) / 2 (``roc_auc_score``);
``average_precision`` is sum_n (R_n - R_{n-1}) P_n over thresholds at the distinct values,
descending (``average_precision_score``); ``precision_at_recall`` is the highest precision among
those thresholds whose recall is >= the target (TensorFlow's PrecisionAtRecall over the thresholds
of ``precision_recall_curve``). A score >= a threshold predicts positive. As in metrics.py, a
value whose denominator is zero is 0.0, no NaN, no warning: without positives all three are 0.0,
without negatives ``roc_auc`` is 0.0 (average precision and precision at recall are then 1.0, as
scikit-learn gives), and an empty table gives 0.0 throughout.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .checks import InvalidValue, fraction, labelled_scores, whole_number
from .simulator import DEFAULT_CHUNK_SIZE
from .vocabulary import metric_names

RANKING_NAMES = metric_names(lambda metric: metric.kind == "ranking")

MIN_BUFFER = 1 << 16  # tagged scores held before a merge, at least; more when the capacity is larger


class ScoreCounts:
    """Per-class counts of a cell's scores at each distinct float32 value, or bin of values.

    A score's key is its bit pattern shifted right by ``resolution_bits``; it waits in a buffer as
    a tag, ``key << 1 | label``: one uint32 that sorts by value, then class (a non-negative
    float32's pattern is below 2**31; the shift drops the sign bit, so -0.0 is 0.0). A full buffer
    is sorted, run-length counted and merged into the table, which keeps at most ``capacity`` rows:
    memory is 4 bytes a buffered score and 20 a row (a merge briefly needs a few times that). The
    final table is the exact one coarsened by the smallest k that fits, so it does not depend on
    how the scores were chunked or in which order they came. Counts are float64, exact below 2**53.
    """

    def __init__(self, capacity: int, *, buffer: int | None = None):
        """At most ``capacity`` rows; ``buffer`` scores (by default ``max(capacity, MIN_BUFFER)``)
        wait before each merge."""
        self.capacity = whole_number("capacity", capacity, minimum=1)
        if buffer is None:
            buffer = max(self.capacity, MIN_BUFFER)
        self.resolution_bits = 0  # a row holds 2**resolution_bits consecutive float32 values
        self._keys: np.ndarray = np.empty(0, dtype=np.uint32)  # ascending, distinct
        self._counts = (np.empty(0), np.empty(0))  # of class 0 and of class 1, per row
        self._buffer = np.empty(whole_number("buffer", buffer, minimum=1), dtype=np.uint32)
        self._buffered = 0

    def add(self, label: int, scores: np.ndarray) -> None:
        """Fold in a 1-D chunk of float32 scores >= 0 whose true class is ``label``; they are
        copied, so the caller may reuse the chunk."""
        scores = _checked_chunk(label, scores)
        if scores.size > self._buffer.size - self._buffered:
            self._fold_buffer()
        if scores.size > self._buffer.size:
            self._fold(self._tag(label, scores, np.empty(scores.size, dtype=np.uint32)))
            return
        end = self._buffered + scores.size
        self._tag(label, scores, self._buffer[self._buffered : end])
        self._buffered = end

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """``(values, weights_0, weights_1, resolution_bits)``: the distinct values ascending (when
        binned, each bin's lowest value) and each class's count there, float64 (the counts
        read-only), and 0 bits if exact."""
        self._fold_buffer()
        edges = self._keys << self.resolution_bits if self.resolution_bits else self._keys
        weights_0, weights_1 = (counts.view() for counts in self._counts)
        weights_0.flags.writeable = weights_1.flags.writeable = False
        return edges.view(np.float32).astype(np.float64), weights_0, weights_1, self.resolution_bits

    def result(self, *, recall: float) -> dict[str, float]:
        """:func:`ranking_metrics` of the table (approximate if ``resolution_bits`` > 0)."""
        values, weights_0, weights_1, _ = self.table()
        return ranking_metrics(values, weights_0, weights_1, recall=recall)

    def _tag(self, label: int, scores: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write the scores' tags into ``out``."""
        np.left_shift(scores.view(np.uint32), 1, out=out)
        if self.resolution_bits:
            np.right_shift(out, self.resolution_bits + 1, out=out)
            np.left_shift(out, 1, out=out)
        np.bitwise_or(out, np.uint32(label), out=out)
        return out

    def _fold_buffer(self) -> None:
        if self._buffered:
            self._fold(self._buffer[: self._buffered])
            self._buffered = 0

    def _fold(self, tags: np.ndarray) -> None:
        """Sort ``tags`` (in place), count them into the table, coarsen it if it overflows."""
        tags.sort()
        keys, counts = _counted_tags(tags)
        if self._keys.size:
            keys, counts = _merged(self._keys, self._counts, keys, counts)
        self._keys, self._counts = keys, counts
        if self._keys.size > self.capacity:
            self._coarsen()

    def _coarsen(self) -> None:
        """Drop the fewest further low bits of the keys that leave at most ``capacity`` rows."""
        extra = 1
        while _distinct_sorted(self._keys >> extra) > self.capacity:
            extra += 1  # ends by 31 - resolution_bits, where every key is 0
        keys = self._keys >> extra
        starts = np.flatnonzero(run_starts(keys))
        self._keys = keys[starts]
        self._counts = (np.add.reduceat(self._counts[0], starts), np.add.reduceat(self._counts[1], starts))
        self.resolution_bits += extra


def _checked_chunk(label: int, scores: np.ndarray) -> np.ndarray:
    if label not in (0, 1):
        raise InvalidValue(f"label={label!r} is not 0 or 1")
    scores = np.asarray(scores)
    if scores.dtype != np.float32 or scores.ndim != 1:
        raise InvalidValue(f"scores must be 1-D float32; got {scores.ndim}-D {scores.dtype}")
    if scores.size and not scores.min() >= 0:
        raise InvalidValue("scores must be >= 0 (no NaN)")
    return scores


def run_starts(ordered: np.ndarray) -> np.ndarray:
    """True where a sorted array's element differs from the one before it (and at index 0)."""
    starts = np.empty(ordered.size, dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return starts


def _distinct_sorted(ordered: np.ndarray) -> int:
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + min(ordered.size, 1)


def _counted_tags(tags: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The distinct keys of sorted, non-empty tags and each class's count at each key."""
    new_key = np.empty(tags.size, dtype=bool)
    new_key[0] = True
    np.greater(tags[1:] ^ tags[:-1], 1, out=new_key[1:])  # the tags differ above the label bit
    starts = np.flatnonzero(new_key)
    keys = tags[starts]
    keys >>= 1
    counts_1 = np.add.reduceat(tags & 1, starts, dtype=np.float64)
    counts_0 = np.empty(starts.size)
    np.subtract(starts[1:], starts[:-1], out=counts_0[:-1])
    counts_0[-1] = tags.size - starts[-1]
    counts_0 -= counts_1
    return keys, (counts_0, counts_1)


def _merged(
    keys: np.ndarray,
    counts: tuple[np.ndarray, np.ndarray],
    more_keys: np.ndarray,
    more_counts: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Two tables (ascending distinct keys, and per class the counts at them) as one."""
    at = np.searchsorted(keys, more_keys)
    found = at < keys.size
    found[found] = keys[at[found]] == more_keys[found]
    merged = []
    for these, more in zip(counts, more_counts, strict=True):
        these = these.copy()
        these[at[found]] += more[found]
        merged.append(np.insert(these, at[~found], more[~found]))
    return np.insert(keys, at[~found], more_keys[~found]), (merged[0], merged[1])


class _Curve(NamedTuple):
    """The rows of a table that hold positives, from the highest value down: their weights, the
    negatives strictly below each, and the running totals through each (the weights of the scores
    >= its value, which a threshold there predicts positive). The other rows add nothing to a
    metric or a bound: such a row's threshold has the recall of the positive row above it and no
    better precision, and it ranks no positive.
    """

    positives: np.ndarray
    negatives: np.ndarray
    below: np.ndarray
    tp: np.ndarray
    total_0: float
    total_1: float

    @property
    def fp(self) -> np.ndarray:
        return self.total_0 - self.below


def _checked_weights(
    values: ArrayLike, weights_0: ArrayLike, weights_1: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """A table's weights as float64, once the table is checked: 1-D, one length, values strictly
    ascending, weights finite and >= 0."""
    values = np.asarray(values, dtype=np.float64)
    weights_0 = np.asarray(weights_0, dtype=np.float64)
    weights_1 = np.asarray(weights_1, dtype=np.float64)
    if values.ndim != 1 or not values.shape == weights_0.shape == weights_1.shape:
        raise InvalidValue(
            f"values, weights_0 and weights_1 must be 1-D of one length; got shapes "
            f"{values.shape}, {weights_0.shape} and {weights_1.shape}"
        )
    if not np.all(values[1:] > values[:-1]):
        raise InvalidValue("values must be strictly ascending (distinct, no NaN)")
    if values.size and not (
        weights_0.min() >= 0 and weights_1.min() >= 0 and np.isfinite(weights_0.sum() + weights_1.sum())
    ):
        raise InvalidValue("weights must be finite and >= 0")
    return weights_0, weights_1


def _curve(values: ArrayLike, weights_0: ArrayLike, weights_1: ArrayLike) -> _Curve:
    """Check a table and read its positive rows from the top (one pass over the other rows)."""
    weights_0, weights_1 = _checked_weights(values, weights_0, weights_1)
    total_0 = float(weights_0.sum())
    rows = np.flatnonzero(weights_1 > 0)
    if rows.size == 0:
        nothing = np.empty(0)
        return _Curve(nothing, nothing, nothing, nothing, total_0, 0.0)
    between = np.add.reduceat(weights_0, rows)  # from each positive row up to the next one
    below = np.empty(rows.size)
    below[0] = weights_0[: rows[0]].sum()
    np.cumsum(between[:-1], out=below[1:])
    below[1:] += below[0]
    positives = weights_1[rows][::-1]
    tp = np.cumsum(positives)
    return _Curve(positives, weights_0[rows][::-1], below[::-1], tp, total_0, float(tp[-1]))


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """Elementwise numerator / denominator, 0.0 where the denominator is 0."""
    ratios: np.ndarray = np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )
    return ratios


def _roc_auc(curve: _Curve) -> float:
    if curve.total_0 == 0 or curve.total_1 == 0:
        return 0.0
    below_and_half_tied = curve.below + 0.5 * curve.negatives
    return float(np.dot(curve.positives, below_and_half_tied) / (curve.total_0 * curve.total_1))


def _average_precision(curve: _Curve) -> float:
    if curve.total_1 == 0:
        return 0.0
    precision = _ratios(curve.tp, curve.tp + curve.fp)
    return float(np.dot(curve.positives, precision) / curve.total_1)


def _precision_at_recall(curve: _Curve, recall: float) -> float:
    if curve.total_1 == 0:
        return 0.0
    reached = curve.tp / curve.total_1 >= recall  # the last threshold's recall is 1.0
    return float(_ratios(curve.tp, curve.tp + curve.fp)[reached].max())


def ranking_metrics(
    values: ArrayLike, weights_0: ArrayLike, weights_1: ArrayLike, *, recall: float
) -> dict[str, float]:
    """:data:`RANKING_NAMES` of per-class weights at distinct ascending score values (a
    :meth:`ScoreCounts.table`, or re-weighted counts): scikit-learn's definitions with ties
    grouped, 0.0 where a denominator is zero (see the module docstring)."""
    recall = fraction("recall", recall)
    curve = _curve(values, weights_0, weights_1)
    return {
        "roc_auc": _roc_auc(curve),
        "average_precision": _average_precision(curve),
        "precision_at_recall": _precision_at_recall(curve, recall),
    }


def ranking_of_slots(
    positives: np.ndarray, negatives_per_slot: np.ndarray, *, recall: float
) -> dict[str, float]:
    """:func:`ranking_metrics` of a table given as the positives' weights at their distinct values
    and the negatives' weights per slot around them (below the first value, on it, between the
    first two, ..., above the last: ``2 * len(positives) + 1`` slots, as ``partition`` counts them)."""
    weights_1 = np.zeros(negatives_per_slot.size)
    weights_1[1::2] = positives
    positions = np.arange(negatives_per_slot.size, dtype=np.float64)  # the slots' order is the scores'
    return ranking_metrics(positions, negatives_per_slot, weights_1, recall=recall)


def _worst_case_precision_sums(curve: _Curve) -> np.ndarray:
    """Per row, a lower bound on its positives' summed precision, their order in it unknown.

    With t positives above the row, a of its own and F negatives through it, the positive j-th
    in the row (by score, weight through it c_j) has precision >= (t + c_j) / (t + c_j + F), which
    grows with c_j; the sum is >= the integral of (t + x) / (t + x + F) over [0, a], which is
    a - F log(1 + a / (t + F)) (a itself where t + F = 0).
    """
    above = curve.tp - curve.positives
    scale = above + curve.fp
    ratio = _ratios(curve.positives, scale)
    return np.where(scale > 0, curve.positives - curve.fp * np.log1p(ratio), curve.positives)


def ranking_bounds(
    values: ArrayLike, weights_0: ArrayLike, weights_1: ArrayLike, *, recall: float
) -> dict[str, tuple[float, float]]:
    """For each of :data:`RANKING_NAMES`, ``(low, high)`` sure to hold its value on the unbinned
    samples when each row of the table is a bin whose samples' order within it is unknown.

    Bins are disjoint intervals, so only pairs within a bin can be misordered. ``roc_auc`` counts
    them as ties, worth 1/2 each; truly they are worth 0 to 1, so it is within
    +- sum_b w0_b w1_b / (2 W0 W1). ``average_precision``: a positive's precision is at most the
    one with every positive of its bin at or above it and the bin's negatives below, (t + a) /
    (t + a + f) (t, f: weights above the bin; a: the bin's positives), so ``high`` puts each bin's
    positives first, tied; it is at least the one with the bin's negatives above it and the
    positives before it only, so ``low`` puts them last, one by one (see
    :func:`_worst_case_precision_sums`). ``precision_at_recall``: each bin's lowest value is a
    threshold of the unbinned samples with the bin's totals, so the binned value is ``low``;
    a threshold in bin b has precision <= (t + a) / (t + a + f) and recall <= (t + a) / W1, so
    ``high`` is the best of those over the bins where (t + a) / W1 reaches the target.
    """
    recall = fraction("recall", recall)
    curve = _curve(values, weights_0, weights_1)
    auc = _roc_auc(curve)
    total_0, total_1 = curve.total_0, curve.total_1
    if total_0 == 0 or total_1 == 0:
        auc_bounds = (auc, auc)
    else:
        half_tied = float(np.dot(curve.negatives, curve.positives)) / (2.0 * total_0 * total_1)
        auc_bounds = (auc - half_tied, auc + half_tied)
    if total_1 == 0:
        return {"roc_auc": auc_bounds, "average_precision": (0.0, 0.0), "precision_at_recall": (0.0, 0.0)}
    best_precision = _ratios(curve.tp, curve.tp + curve.fp - curve.negatives)
    reached = curve.tp / total_1 >= recall
    return {
        "roc_auc": auc_bounds,
        "average_precision": (
            float(_worst_case_precision_sums(curve).sum() / total_1),
            float(np.dot(curve.positives, best_precision) / total_1),
        ),
        "precision_at_recall": (_precision_at_recall(curve, recall), float(best_precision[reached].max())),
    }


def ranking_of(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    recall: float = 0.9,
    capacity: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, float]:
    """:data:`RANKING_NAMES` of binary labels and probability scores (cast to float32, as Keras
    does), fed through :class:`ScoreCounts` in chunks; exact unless ``capacity`` (by default the
    number of samples) is below the number of distinct scores."""
    chunk_size = whole_number("chunk_size", chunk_size, minimum=1)
    negatives, positives = labelled_scores(y_true, y_pred, caller="ranking_of")
    counts = ScoreCounts(negatives.size + positives.size if capacity is None else capacity)
    for label, scores in ((0, negatives), (1, positives)):
        for start in range(0, scores.size, chunk_size):
            counts.add(label, scores[start : start + chunk_size])
    return counts.result(recall=recall)
