"""A cell: one simulated validation set (class sizes, per-class accuracies, a replicate) and the
threshold its confusion metrics are taken at, its readable name and its own seed; the unit
everything in the core computes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import counts, fraction, whole_number
from .prevalence import prevalence_of
from .thresholds import DEFAULT_THRESHOLD, check_threshold, is_default


@dataclass(frozen=True)
class Cell:
    """One simulated validation set: class sizes, per-class accuracies and a replicate seed."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int = 0
    # A cell of a predictions file (``grid.models`` lists files): the model's name and the file's
    # digest; its accuracies are the file's. ``None`` for a model given by its accuracies.
    model: str | None = None
    digest: str | None = None
    # Where a score becomes a prediction (``thresholds``): a number in [0, 1] or ``best:<metric>``.
    # It cuts the same draw elsewhere: it enters the name and key (when not 0.5), never the seed.
    threshold: float | str = DEFAULT_THRESHOLD

    @property
    def size(self) -> int:
        return self.num_0s + self.num_1s

    @property
    def prevalence(self) -> float:
        """Fraction of positives in the validation set."""
        return prevalence_of(self.num_0s, self.num_1s)

    @property
    def name(self) -> str:
        """A readable run name, e.g. ``n0=1000000 n1=10000 a0=0.999 a1=0.5`` (:func:`cell_name`)."""
        return cell_name(
            self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, self.replicate, self.model, self.threshold
        )

    def seed_sequence(self, seed: int) -> np.random.SeedSequence:
        """The cell's own seed: a function of the sweep seed and the cell's values only.

        Accuracies enter through their float64 bit patterns, so 0.5 and 0.50 are the same cell
        and no rounding merges two different ones. Nothing about other cells, their order or the
        process running them enters, which is what makes sweeps reproducible however split. A
        predictions file's cell adds the file's digest (a model given by accuracies adds nothing, so
        its seeds are those it always had). The threshold does not enter: a cell at another threshold
        is the same draw, cut elsewhere.
        """
        bits = np.array([self.acc_0s, self.acc_1s], dtype=np.float64).view(np.uint64)
        entropy = [seed, self.replicate, self.num_0s, self.num_1s, int(bits[0]), int(bits[1])]
        if self.digest is not None:
            entropy.append(int(self.digest, 16))
        return np.random.SeedSequence(entropy)


def model_label(acc_0s: float, acc_1s: float, spec: str = "g") -> str:
    """A model given by its accuracies, as names, tables and figures show it: ``a0=0.999 a1=0.5``
    (``spec``, the numbers' format: ``g``, or fewer digits where a file's fitted accuracies are shown)."""
    return f"a0={acc_0s:{spec}} a1={acc_1s:{spec}}"


def cell_name(
    num_0s: int,
    num_1s: int,
    acc_0s: float,
    acc_1s: float,
    replicate: int = 0,
    model: str | None = None,
    threshold: float | str = DEFAULT_THRESHOLD,
) -> str:
    """A cell's readable name, as its run is named and compare prints it: the counts, then the
    accuracies (or a predictions file's model name), then the threshold unless it is 0.5, then the
    replicate unless it is 0."""
    if model is None:
        text = f"n0={num_0s} n1={num_1s} {model_label(acc_0s, acc_1s)}"
    else:
        text = f"n0={num_0s} n1={num_1s} model={model}"
    if not is_default(threshold):
        text += f" t={threshold if isinstance(threshold, str) else format(threshold, 'g')}"
    return text if replicate == 0 else f"{text} rep={replicate}"


@dataclass(frozen=True)
class NamedModel:
    """A ``grid.models`` entry that is a predictions file: its name, digest and accuracies."""

    name: str
    digest: str
    acc_0s: float
    acc_1s: float


def make_cell(
    num_0s: Any,
    num_1s: Any,
    acc_0s: Any,
    acc_1s: Any,
    replicate: Any = 0,
    *,
    threshold: Any = DEFAULT_THRESHOLD,
) -> Cell:
    """Validate one cell's values (accepting ``1e6`` for a count) and build it."""
    n0, n1 = counts(num_0s, num_1s)
    return Cell(
        n0,
        n1,
        fraction("acc_0s", acc_0s),
        fraction("acc_1s", acc_1s),
        whole_number("replicate", replicate),
        threshold=check_threshold("threshold", threshold),
    )
