"""Cells and grids: what one simulated validation set is, and how a sweep's cells are formed."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .checks import InvalidValue, counts, fraction, whole_number


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

    @property
    def size(self) -> int:
        return self.num_0s + self.num_1s

    @property
    def prevalence(self) -> float:
        """Fraction of positives in the validation set."""
        return self.num_1s / self.size

    @property
    def name(self) -> str:
        """A readable run name, e.g. ``n0=1000000 n1=10000 a0=0.999 a1=0.5``."""
        if self.model is None:
            text = f"n0={self.num_0s} n1={self.num_1s} a0={self.acc_0s:g} a1={self.acc_1s:g}"
        else:
            text = f"n0={self.num_0s} n1={self.num_1s} model={self.model}"
        return text if self.replicate == 0 else f"{text} rep={self.replicate}"

    def seed_sequence(self, seed: int) -> np.random.SeedSequence:
        """The cell's own seed: a function of the sweep seed and the cell's values only.

        Accuracies enter through their float64 bit patterns, so 0.5 and 0.50 are the same cell
        and no rounding merges two different ones. Nothing about other cells, their order or the
        process running them enters, which is what makes sweeps reproducible however split. A
        predictions file's cell adds the file's digest (a model given by accuracies adds nothing, so
        its seeds are those it always had).
        """
        bits = np.array([self.acc_0s, self.acc_1s], dtype=np.float64).view(np.uint64)
        entropy = [seed, self.replicate, self.num_0s, self.num_1s, int(bits[0]), int(bits[1])]
        if self.digest is not None:
            entropy.append(int(self.digest, 16))
        return np.random.SeedSequence(entropy)


@dataclass(frozen=True)
class NamedModel:
    """A ``grid.models`` entry that is a predictions file: its name, digest and accuracies."""

    name: str
    digest: str
    acc_0s: float
    acc_1s: float


def make_cell(num_0s, num_1s, acc_0s, acc_1s, replicate=0) -> Cell:
    """Validate one cell's values (accepting ``1e6`` for a count) and build it."""
    n0, n1 = counts(num_0s, num_1s)
    return Cell(
        n0, n1, fraction("acc_0s", acc_0s), fraction("acc_1s", acc_1s), whole_number("replicate", replicate)
    )


def _pairs(name: str, values, *, named: bool = False) -> list:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise InvalidValue(f"{name}={values!r} must be a non-empty list of pairs")
    pairs = []
    for index, pair in enumerate(values):
        if named and isinstance(pair, NamedModel):
            pairs.append(pair)
            continue
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise InvalidValue(f"{name}[{index}]={pair!r} must be a pair [x, y]")
        pairs.append(tuple(pair))
    return pairs


def _values(name: str, values) -> list:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise InvalidValue(f"{name}={values!r} must be a non-empty list")
    return list(values)


def build_cells(
    *,
    balances: Iterable,
    models: Iterable | None = None,
    acc_0s: Iterable | None = None,
    acc_1s: Iterable | None = None,
    seeds: Iterable | None = None,
    where: str = "grid.",
) -> tuple[Cell, ...]:
    """Cells = balances x models x seeds, validated, in that nesting order, without repeats.

    ``models`` lists ``[acc_0s, acc_1s]`` pairs, and :class:`NamedModel` values (predictions
    files, loaded by ``config``); alternatively ``acc_0s`` and ``acc_1s`` are lists whose cartesian
    product forms the models.
    """
    balance_pairs = [
        counts(n0, n1, where=f"{where}balances[{i}]: ")
        for i, (n0, n1) in enumerate(_pairs(f"{where}balances", balances))
    ]
    if models is not None:
        if acc_0s is not None or acc_1s is not None:
            raise InvalidValue(
                f"{where}models and {where}acc_0s/{where}acc_1s are both set: give one of them"
            )
        model_pairs = [
            (entry.acc_0s, entry.acc_1s, entry.name, entry.digest)
            if isinstance(entry, NamedModel)
            else (
                fraction(f"{where}models[{j}]: acc_0s", entry[0]),
                fraction(f"{where}models[{j}]: acc_1s", entry[1]),
                None,
                None,
            )
            for j, entry in enumerate(_pairs(f"{where}models", models, named=True))
        ]
    elif acc_0s is not None and acc_1s is not None:
        acc_0s = [fraction(f"{where}acc_0s[{j}]", a) for j, a in enumerate(_values(f"{where}acc_0s", acc_0s))]
        acc_1s = [fraction(f"{where}acc_1s[{j}]", a) for j, a in enumerate(_values(f"{where}acc_1s", acc_1s))]
        model_pairs = [(a0, a1, None, None) for a0, a1 in itertools.product(acc_0s, acc_1s)]
    else:
        raise InvalidValue(
            f"{where}models is not set: give {where}models or both {where}acc_0s and {where}acc_1s"
        )
    replicates = [
        whole_number(f"{where}seeds[{k}]", seed)
        for k, seed in enumerate(_values(f"{where}seeds", [0] if seeds is None else seeds))
    ]
    cells = (
        Cell(n0, n1, a0, a1, replicate, model, digest)
        for (n0, n1), (a0, a1, model, digest), replicate in itertools.product(
            balance_pairs, model_pairs, replicates
        )
    )
    return tuple(dict.fromkeys(cells))
