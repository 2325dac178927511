"""A K-class cell: one simulated validation set of K >= 2 classes and the model scored on it, checked
value by value, with its readable name, its own seed and its exact expected confusion.

The model (docs/background/k-class-cell.md): class k has accuracy a_k, and its errors go to the
other classes by an error spread r_k, one of three rules:

* ``"uniform"``: r_kc = 1 / (K - 1);
* ``"frequency"``: r_kc proportional to the training count m_c over c != k (errors go to the head
  classes, as on long-tailed data), uniform where all those m_c are 0;
* a K x K confusion matrix, row by row (counts or rates): a_k = M_kk / (row k's sum) and r_kc = M_kc
  / (row k's off-diagonal sum), uniform where the off-diagonal is all 0. The matrix sets the
  accuracies, so they are not given beside it.

The training counts m (default: the validation counts) give the ``frequency`` rule, the
training-prior losses' weights and the Many/Medium/Few bands. Counts of either kind are whole numbers
in [0, 10^12] (the sums stay exact in float64). ``threshold_free`` asks for the ranking metrics (OvR
and OvO ROC AUC) beside the others (``evaluation`` says up to which size).

Seeds: entropy ``[seed, replicate, n_0 .. n_{K-1}, bits(a_0) .. bits(a_{K-1})]``, the accuracies as
their float64 bit patterns, which at K = 2 is exactly the binary ``Cell.seed_sequence``. The spread,
the training counts and ``threshold_free`` do not enter: a cell with another spread draws the same
class uniforms and other confusers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..cell import Cell
from ..checks import InvalidValue, fraction, is_number, shown, whole_number

SPREAD_RULES = ("uniform", "frequency")
MATRIX = "matrix"  # the spread of a cell given by its confusion matrix
MAX_COUNT = 10**12  # per class: K of them still sum exactly in float64 (below 2^53)
NAME_VALUES = 6  # a name lists at most this many numbers a vector (the first ones, ..., the last)

Weight = int | Fraction  # an error weight, exact


@dataclass(frozen=True)
class MulticlassCell:
    """One K-class validation set and model: counts, accuracies, error spread, training counts, a
    replicate; build it with :func:`make_multiclass_cell`, which checks every value."""

    counts: tuple[int, ...]
    accuracies: tuple[float, ...]
    spread: str  # "uniform", "frequency" or "matrix"
    training_counts: tuple[int, ...]
    # the confusion matrix as given (spread "matrix"), as exact fractions; None for a rule
    matrix: tuple[tuple[Fraction, ...], ...] | None = None
    replicate: int = 0
    threshold_free: bool = True

    @property
    def classes(self) -> int:
        return len(self.counts)

    @property
    def size(self) -> int:
        return sum(self.counts)

    @property
    def name(self) -> str:
        """A readable run name, e.g. ``n=[900,90,10] a=[0.99,0.9,0.5] spread=frequency``: the counts,
        the accuracies, then the spread unless uniform, the training counts unless the validation
        counts, the replicate unless 0. A vector of more than 6 numbers shows its first 4, ``...``
        and its last; names need not be unique (the cell key is)."""
        text = f"n={_listed(self.counts)} a={_listed(self.accuracies)}"
        if self.spread != "uniform":
            text += f" spread={self.spread}"
        if self.training_counts != self.counts:
            text += f" train={_listed(self.training_counts)}"
        return text if self.replicate == 0 else f"{text} rep={self.replicate}"

    def seed_sequence(self, seed: int) -> np.random.SeedSequence:
        """The cell's own seed, a function of the sweep seed, the replicate, the counts and the
        accuracies only (the binary ``Cell.seed_sequence`` at K = 2)."""
        bits = np.array(self.accuracies, dtype=np.float64).view(np.uint64)
        return np.random.SeedSequence([seed, self.replicate, *self.counts, *(int(b) for b in bits)])

    def error_weights(self, label: int) -> list[Weight]:
        """Class ``label``'s errors' weights over the other classes, in class order: the spread r_k up
        to a factor, exact (ints, or fractions of a matrix); all 1 where the rule gives all 0."""
        others = [c for c in range(self.classes) if c != label]
        weights: list[Weight]
        if self.spread == "uniform":
            weights = [1] * len(others)
        elif self.spread == "frequency":
            weights = [self.training_counts[c] for c in others]
        else:
            assert self.matrix is not None
            weights = [self.matrix[label][c] for c in others]
        return weights if any(weights) else [1] * len(others)

    def error_cumulative(self, label: int) -> NDArray[np.float64]:
        """The cumulative spread of class ``label`` over the other classes, each value the exact
        cumulative sum rounded once (the last exactly 1.0): the confuser of a row is the first
        class whose value is above the row's uniform."""
        weights = self.error_weights(label)
        if self.matrix is None:  # whole counts: sums below 2^53 are exact in float64, one rounding
            counts = np.cumsum(np.array(weights, dtype=np.int64))
            cumulative: NDArray[np.float64] = counts.astype(np.float64) / float(counts[-1])
            return cumulative
        total = sum(weights)
        return np.array([float(running / total) for running in accumulate(weights)], dtype=np.float64)


def _listed(values: Sequence[float]) -> str:
    shown_values = [format(value, "g") for value in values]
    if len(shown_values) > NAME_VALUES:
        shown_values = [*shown_values[: NAME_VALUES - 2], "...", shown_values[-1]]
    return f"[{','.join(shown_values)}]"


def expected_confusion(cell: MulticlassCell) -> list[list[Fraction]]:
    """The model's expected confusion, rows the true class as rates, exact: a_k on the diagonal
    (the float a_k drawn with, exactly) and (1 - a_k) r_kc off it. For a matrix whose row
    normalisation is exact in float64 (a row sum a power of two, say) it is that matrix normalised."""
    rows = []
    for label, accuracy in enumerate(cell.accuracies):
        weights = cell.error_weights(label)
        total = Fraction(sum(weights))
        error = 1 - Fraction(accuracy)
        off_diagonal = iter([error * Fraction(weight) / total for weight in weights])
        rows.append([Fraction(accuracy) if c == label else next(off_diagonal) for c in range(cell.classes)])
    return rows


def _vector(name: str, values: Any, classes: int | None) -> list[Any]:
    """``values`` as a list of K items, K >= 2 or ``classes`` (that of the counts)."""
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InvalidValue(f"{name}={shown(values)} is not a list of numbers, one a class")
    items = list(np.asarray(values, dtype=object).ravel()) if isinstance(values, np.ndarray) else list(values)
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise InvalidValue(f"{name} has shape {values.shape}; allowed: a list of numbers, one a class")
    if classes is None:
        if len(items) < 2:
            raise InvalidValue(
                f"{name} has K={len(items)} classes; allowed: K >= 2 (one class leaves nothing to classify)"
            )
    elif len(items) != classes:
        raise InvalidValue(
            f"{name} has {len(items)} values; allowed: {classes}, one a class of counts (K={classes})"
        )
    return items


def class_counts(name: str, values: Any, classes: int | None = None) -> tuple[int, ...]:
    """Whole numbers in [0, 10^12], one a class (K >= 2, or ``classes``)."""
    items = _vector(name, values, classes)
    return tuple(
        whole_number(f"{name}[{index}]", value, maximum=MAX_COUNT) for index, value in enumerate(items)
    )


def _matrix(spread: Any, classes: int) -> tuple[tuple[Fraction, ...], ...]:
    """A K x K confusion matrix: finite entries >= 0, each row with a positive sum; exact fractions."""
    rows = spread.tolist() if isinstance(spread, np.ndarray) else list(spread)
    if len(rows) != classes:
        raise InvalidValue(
            f"spread has {len(rows)} rows; allowed: {classes} x {classes}, a row per class of counts "
            f"(K={classes}), or one of: {', '.join(SPREAD_RULES)}"
        )
    matrix = []
    for k, row in enumerate(rows):
        if isinstance(row, (str, bytes, dict)) or not isinstance(row, Sequence) or len(row) != classes:
            raise InvalidValue(f"spread[{k}]={shown(row)} is not a row of {classes} numbers, one a class")
        entries = []
        for c, value in enumerate(row):
            if not is_number(value) or not math.isfinite(value) or value < 0:
                raise InvalidValue(f"spread[{k}][{c}]={shown(value)} is not a finite number >= 0")
            entries.append(Fraction(value.item() if isinstance(value, np.generic) else value))
        if sum(entries) == 0:
            raise InvalidValue(f"spread[{k}] sums to 0; allowed: rows of counts or rates with a positive sum")
        matrix.append(tuple(entries))
    return tuple(matrix)


def make_multiclass_cell(
    counts: Any,
    accuracies: Any = None,
    *,
    spread: Any = "uniform",
    training_counts: Any = None,
    replicate: Any = 0,
    threshold_free: Any = True,
) -> MulticlassCell:
    """Check one K-class cell's values (``1e6`` is a count) and build it; ``spread`` is a rule of
    :data:`SPREAD_RULES` or a K x K confusion matrix (then without ``accuracies``)."""
    checked_counts = class_counts("counts", counts)
    classes = len(checked_counts)
    if sum(checked_counts) < 1:
        raise InvalidValue(f"counts={list(checked_counts)} has no sample; allowed: counts summing to >= 1")
    matrix = None
    if isinstance(spread, str):
        if spread not in SPREAD_RULES:
            raise InvalidValue(
                f"spread={spread!r} is not one of: {', '.join(SPREAD_RULES)}, or a K x K confusion matrix"
            )
        if accuracies is None:
            raise InvalidValue(f"accuracies=None: spread={spread!r} needs {classes} accuracies, one a class")
        checked_accuracies = tuple(
            fraction(f"accuracies[{index}]", value)
            for index, value in enumerate(_vector("accuracies", accuracies, classes))
        )
        rule = spread
    elif isinstance(spread, (Sequence, np.ndarray)) and not isinstance(spread, (bytes, dict)):
        matrix = _matrix(spread, classes)
        if accuracies is not None:
            raise InvalidValue(
                f"accuracies={shown(accuracies)} beside a confusion matrix; allowed: one of the two "
                "(the matrix's diagonal sets the accuracies)"
            )
        checked_accuracies = tuple(float(row[k] / sum(row)) for k, row in enumerate(matrix))
        rule = MATRIX
    else:
        raise InvalidValue(
            f"spread={shown(spread)} is not one of: {', '.join(SPREAD_RULES)}, or a K x K confusion matrix"
        )
    training = (
        checked_counts
        if training_counts is None
        else class_counts("training_counts", training_counts, classes)
    )
    if not isinstance(threshold_free, (bool, np.bool_)):
        raise InvalidValue(f"threshold_free={shown(threshold_free)} is not true or false")
    return MulticlassCell(
        counts=checked_counts,
        accuracies=checked_accuracies,
        spread=rule,
        training_counts=training,
        matrix=matrix,
        replicate=whole_number("replicate", replicate),
        threshold_free=bool(threshold_free),
    )


def as_binary_cell(cell: MulticlassCell) -> Cell:
    """The binary cell a K = 2 cell is (its counts, accuracies and replicate): the same draw and, through
    ``core.evaluation``, the binary record. Its training counts and spread have no binary meaning."""
    if cell.classes != 2:
        raise InvalidValue(f"counts has K={cell.classes} classes; allowed: K = 2 for a binary cell")
    return Cell(
        cell.counts[0], cell.counts[1], cell.accuracies[0], cell.accuracies[1], replicate=cell.replicate
    )
