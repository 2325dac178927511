"""A cell's negatives counted into the parts of the score axis that its metrics tell apart, with one
table lookup per score instead of a sort or a search.

Once a cell's positives are in (they come first, and in the imbalanced cells this project is about
they are few), every metric but the losses needs, of the many negatives, only how many lie in each
part of [0, 1] cut at a few boundaries, and the sum of their scores there:

* the ranking metrics (``ranking``): how many fall strictly between two adjacent distinct positive
  scores, and how many tie with each (a *point* boundary: below, equal, above);
* the calibration bins (``calibration``): how many, and their score sum, in each bin (an *edge*: a
  score equal to an inner edge is in the bin below, as scikit-learn's ``searchsorted`` has it);
* the confusion counts at a fixed threshold: how many are <= it (an edge too).

A score's part is ``2 * #(points < s) + [s is a point] + #(edges < s)``: each of its three readings
(its ranking slot, its bin, its side of the threshold) grows with the score, so their sum tells
them apart. :class:`ScorePartition` finds it through a table over equal-width buckets of [0, 1]:
a float32 score times 2**18 is exact, so its bucket is ``floor(s * 2**18)``, and in a bucket that
holds no boundary every score has the part the table says. Only the scores in the few buckets that
hold a boundary are placed by a binary search. The counts are exact, so every ranking metric and
every confusion count equals the one a sort of all the scores gives, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .ranking import run_starts

LOOKUP_BUCKETS = 1 << 18  # equal-width buckets of [0, 1]: the table is 2 MB
LOOKUP_MIN_NEGATIVES = 1 << 17  # fewer negatives than this: the table costs more than it saves
MAX_BOUNDARIES = LOOKUP_BUCKETS // 16  # more: too many scores would need a comparison


class ScorePartition:
    """The parts of [0, 1] cut at distinct float32 ``points`` and at named families of ``edges``.

    ``slot_of_part`` is the ranking slot of each part (0: below every point, 1: on the first, 2:
    between the first two, ..., ``2 * len(points)``: above every point); ``below_of_part[name]`` how
    many edges of that family lie below the part (a bin's index, or 1 above a threshold).

    The bucket table holds a part for a bucket without a boundary, and for one with a boundary
    ``-1 - j``, j the bucket's row among those with one, whose arrays hold the part of its scores
    below the boundary and the boundary itself, which a score then passes once (an edge) or twice
    (a point: once on it, once above it). A bucket with several boundaries (rare: they lie within
    2**-18 of each other) is searched.
    """

    def __init__(self, points: np.ndarray, edges: Mapping[str, np.ndarray]):
        points = np.asarray(points, dtype=np.float32).astype(np.float64)
        families = {name: np.sort(np.asarray(values, dtype=np.float64)) for name, values in edges.items()}
        # a score s passes a point v once where v <= s and once more where v < s, an edge e where e < s
        self._passed_at_or_below = points
        self._passed_below = np.sort(np.concatenate([points, *families.values()]))
        self.size = 2 * points.size + sum(values.size for values in families.values()) + 1
        self.slot_of_part, self.below_of_part = self._readings(points, families)
        self._build_table(points, np.concatenate([np.empty(0), *families.values()]))
        self._scaled = np.empty(0, dtype=np.float32)  # scratch space of parts_of, reused
        self._indices = np.empty((2, 0), dtype=np.intp)

    def _readings(
        self, points: np.ndarray, families: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each part's ranking slot and, per family, the edges below it: the boundaries' crossings in
        ascending order (a point's "equal" before every crossing at "above" its value)."""
        values = [points, points, *families.values()]
        after = [np.zeros(points.size), np.ones(points.size), *(np.ones(v.size) for v in families.values())]
        kinds = [np.full(v.size, kind) for kind, v in enumerate(values)]  # 0, 1: the points; 2...: families
        order = np.lexsort((np.concatenate(after), np.concatenate(values)))
        kind = np.concatenate(kinds)[order]

        def readings(crossed: np.ndarray) -> np.ndarray:
            return np.concatenate([[0], np.cumsum(crossed)])

        slots = readings(kind <= 1)
        below = {name: readings(kind == 2 + index) for index, name in enumerate(families)}
        return slots, below

    def _build_table(self, points: np.ndarray, edges: np.ndarray) -> None:
        """The bucket table, as runs of one value between the buckets that hold a boundary."""
        crossings = np.concatenate([np.full(points.size, 2), np.ones(edges.size, dtype=np.intp)])
        boundaries = np.concatenate([points, edges])
        holding = np.clip(np.floor(boundaries * LOOKUP_BUCKETS), 0, LOOKUP_BUCKETS).astype(np.intp)
        order = np.argsort(holding, kind="stable")
        holding, boundaries, crossings = holding[order], boundaries[order], crossings[order]
        starts = np.flatnonzero(run_starts(holding))
        rows = holding[starts]  # the buckets that hold a boundary, ascending
        crossed = np.add.reduceat(crossings, starts) if starts.size else np.empty(0, dtype=np.intp)
        self._row_below = np.cumsum(crossed) - crossed  # every boundary in a lower bucket is passed
        # the buckets from one row's bucket to the next (the first: from bucket 0) hold its value
        run_values = np.concatenate([[0], self._row_below + crossed])
        run_lengths = np.diff(np.concatenate([[0], rows, [LOOKUP_BUCKETS + 1]]))
        self._table = np.repeat(run_values, run_lengths)
        self._table[rows] = -1 - np.arange(rows.size)
        alone = np.diff(np.concatenate([starts, [holding.size]])) == 1
        # a score passes a row's boundary once where it is above it, and a point once more where it
        # is on it: a row's "above" and "on" values (NaN, never passed: a row with several, searched)
        self._row_above = np.where(alone, boundaries[starts], np.nan)
        self._row_on = np.where(alone & (crossings[starts] == 2), boundaries[starts], np.inf)
        self._row_on[~alone] = np.nan

    def parts_of(self, scores: np.ndarray) -> np.ndarray:
        """Each float32 score's part (scores in [0, 1], as every caller has checked), in a buffer
        that the next call reuses."""
        if self._scaled.size < scores.size:
            self._scaled = np.empty(scores.size, dtype=np.float32)
            self._indices = np.empty((2, scores.size), dtype=np.intp)
        scaled = self._scaled[: scores.size]
        parts: np.ndarray
        buckets, parts = self._indices[:, : scores.size]
        np.multiply(scores, np.float32(LOOKUP_BUCKETS), out=scaled)  # exact: a power of two
        np.copyto(buckets, scaled, casting="unsafe")  # truncation: the floor of a score >= 0
        np.take(self._table, buckets, out=parts, mode="wrap")  # in range; "raise" would buffer
        searched = np.flatnonzero(parts < 0)
        if searched.size:
            rows = -1 - parts[searched]
            near = scores[searched]  # compared with float64 boundaries in float64: exact
            above = self._row_above[rows]
            found = self._row_below[rows] + (near > above) + (near >= self._row_on[rows])
            several = np.flatnonzero(np.isnan(above))
            if several.size:
                found[several] = self._exact_parts(near[several])
            parts[searched] = found
        return parts

    def _exact_parts(self, scores: np.ndarray) -> np.ndarray:
        """The parts of scores, by binary searches (in float64)."""
        passed = np.searchsorted(self._passed_at_or_below, scores, side="right")
        passed += np.searchsorted(self._passed_below, scores)
        return passed


class PartCounts:
    """Per part of a :class:`ScorePartition`: how many scores, and the float64 sum of them."""

    def __init__(self, partition: ScorePartition):
        self.partition = partition
        self.counts = np.zeros(partition.size, dtype=np.int64)
        self.sums = np.zeros(partition.size)

    def add(self, scores: np.ndarray) -> None:
        parts = self.partition.parts_of(scores)
        self.counts += np.bincount(parts, minlength=self.partition.size)
        self.sums += np.bincount(parts, weights=scores, minlength=self.partition.size)

    def per_slot(self) -> np.ndarray:
        """The counts per ranking slot (float64)."""
        slots = self.partition.slot_of_part
        return np.bincount(slots, weights=self.counts, minlength=int(slots[-1]) + 1)

    def per_family_part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The counts (int64) and score sums (float64) per part of the edges of family ``name``."""
        below = self.partition.below_of_part[name]
        parts = int(below[-1]) + 1
        counts = np.bincount(below, weights=self.counts, minlength=parts)
        return counts.astype(np.int64), np.bincount(below, weights=self.sums, minlength=parts)
