"""One-vs-rest and one-vs-one ROC AUC of K-class scores (scikit-learn's ``roc_auc_score`` with
``multi_class="ovr"`` and ``"ovo"``), from every score at once: they rank scores, so they sort.

For each column j one sort of (score, label) (of the scores that are not 0: zeros are the column's
lowest tie group, counted per class) gives, for every class k, the Mann-Whitney count
A(j|k) = P(s_j of a row of class j > s_j of a row of class k) + P(tie) / 2 (midranks, as
scikit-learn's trapezoids give). From those:

* OvR AUC of class j: the same with every other class as the negatives; ``roc_auc_ovr`` is the
  plain mean over classes, ``roc_auc_ovr_weighted`` the mean weighted by each class's rows;
* OvO (Hand & Till, 2001): the mean over class pairs of (A(j|k) + A(k|j)) / 2.

scikit-learn raises where a class has no rows. Here a class with no rows, or holding every row, has
no OvR AUC and a pair with an absent class no OvO AUC: they are left out of the means, and a mean
of nothing (every row of one class) is 0.0, the binary ``roc_auc``'s value without negatives.
Memory: a few arrays of n per column (not chunked: a sort needs them all). Counts are summed in
float64, exact below some 10^8 rows.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import NDArray

from .labelled import Labels, Scores

# the two 32-bit words of a uint64 key, by position in memory: the low word holds the label
_LOW, _HIGH = (0, 1) if sys.byteorder == "little" else (1, 0)


def _sorted_by_score(
    column: NDArray[np.float32] | NDArray[np.float64], labels: Labels
) -> tuple[NDArray[np.generic], NDArray[np.integer]]:
    """The column's values (as sortable keys) and the labels, in ascending order of the scores."""
    if column.dtype == np.float32:
        # a non-negative float32 orders as its bit pattern; one sort of pattern << 32 | label
        # (much faster than an argsort), written and read as 32-bit words in place; the sign bit
        # dropped, so -0.0 is 0.0
        keys = np.empty(column.size, dtype=np.uint64)
        words = keys.view(np.uint32)
        np.bitwise_and(column.view(np.uint32), np.uint32(0x7FFFFFFF), out=words[_HIGH::2])
        words[_LOW::2] = labels
        keys.sort()
        return words[_HIGH::2], words[_LOW::2]
    order = np.argsort(column + 0.0, kind="stable")
    return column[order] + 0.0, labels[order]


def lower_pair_counts(labels: Labels, scores: Scores) -> NDArray[np.float64]:
    """``counts[j, k]``: twice the number of (row of class k, row of class j) pairs whose column-j
    score is lower for the class-j row, ties counting 1 (not 2).

    Scores are probabilities, so a column's zeros (0.0 and -0.0) are its lowest tie group: they are
    counted per class, not sorted, and only the other scores are (a K-class cell's rows hold two
    scores that are not 0). Columns are read in place: contiguous for scores held column by
    column, as the evaluation keeps them, strided (no copy) otherwise. The counts are whole
    numbers, exact in float64 below 2^53."""
    classes = scores.shape[1]
    counts = np.zeros((classes, classes))
    if labels.size == 0:
        return counts
    rows = np.bincount(labels, minlength=classes)
    columns = scores.T  # a view: each column contiguous where the scores are held column by column
    for j in range(classes):
        column, column_labels = columns[j], labels
        if np.count_nonzero(column) < column.size:
            nonzero = np.flatnonzero(column != 0)
            column, column_labels = column[nonzero], labels[nonzero]
        zeros = rows - np.bincount(column_labels, minlength=classes)  # each class's rows scoring 0
        # the zeros' tie group: no class-j row below it, zeros[j] within it
        counts[j] = zeros * zeros[j]
        if column.size:
            values, sorted_labels = _sorted_by_score(column, column_labels)
            weight = _row_weights(values, sorted_labels == j, zeros[j])
            counts[j] += np.bincount(sorted_labels, weights=weight, minlength=classes)
    return counts


def _row_weights(values: NDArray[np.generic], is_j: NDArray[np.bool_], below_all: int) -> NDArray[np.int64]:
    """Per sorted row: 2 x (class-j rows below its value) + (class-j rows of its value), with
    ``below_all`` class-j rows below every value. Without a tie that is 2 x (class-j rows before
    it) + (1 if it is of class j); the rows of a tie group are worked out again as a group."""
    through = np.cumsum(is_j, dtype=np.int64)  # class-j rows at or before each position (but below_all)
    through += below_all
    weight: NDArray[np.int64] = 2 * through - is_j
    tied = values[1:] == values[:-1]  # tied[i]: row i + 1 has row i's value
    if not tied.any():
        return weight
    member = np.zeros(values.size, dtype=bool)
    member[1:] = tied
    member[:-1] |= tied
    places = np.flatnonzero(member)  # the rows of tie groups, group after group
    opens = np.ones(places.size, dtype=bool)
    opens[1:] = ~tied[places[1:] - 1]
    starts = places[opens]
    ends = places[np.append(opens[1:], True)]
    below: NDArray[np.int64] = through[starts] - is_j[starts]  # class-j rows strictly below a tie group
    within = through[ends] - below  # class-j rows in the group
    weight[places] = (2 * below + within)[np.cumsum(opens) - 1]
    return weight


def ranking_metrics(labels: Labels, scores: Scores) -> dict[str, float]:
    """``roc_auc_ovr``, ``roc_auc_ovr_weighted`` and ``roc_auc_ovo`` of checked labels and scores."""
    classes = scores.shape[1]
    rows = np.bincount(labels, minlength=classes).astype(np.float64)
    total = float(labels.size)
    twice_lower = lower_pair_counts(labels, scores)
    ovr, weights = [], []
    for j in range(classes):
        others = total - rows[j]
        if rows[j] and others:
            lower = twice_lower[j].sum() - twice_lower[j, j]
            ovr.append(1.0 - lower / (2.0 * rows[j] * others))
            weights.append(rows[j])
    ovo = []
    for j in range(classes):
        for k in range(j + 1, classes):
            if rows[j] and rows[k]:
                pairs = 2.0 * rows[j] * rows[k]
                ovo.append(((1.0 - twice_lower[j, k] / pairs) + (1.0 - twice_lower[k, j] / pairs)) / 2.0)
    return {
        "roc_auc_ovr": float(np.mean(ovr)) if ovr else 0.0,
        "roc_auc_ovr_weighted": float(np.average(ovr, weights=weights)) if ovr else 0.0,
        "roc_auc_ovo": float(np.mean(ovo)) if ovo else 0.0,
    }
