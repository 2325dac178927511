"""Cells and grids: what one simulated validation set is, and how a sweep's cells are formed."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from ..core.cell import Cell, NamedModel
from ..core.checks import InvalidValue, counts, fraction, whole_number
from ..core.thresholds import DEFAULT_THRESHOLD, check_threshold

# The most cells a sweep takes: at about 30 ms of tracking each, 100,000 cells are most of an hour
# on a local store. A grid is counted before its cells are formed, so a larger one is refused at once.
MAX_CELLS = 100_000


def _pairs(name: str, values, *, named: bool = False) -> list:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise InvalidValue(f"{name}={values!r} must be a non-empty list of pairs")
    pairs: list[NamedModel | tuple] = []
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


def threshold_axis(thresholds: Iterable | None, *, where: str = "grid.") -> tuple[float | str, ...]:
    """The thresholds of a grid, validated, without repeats: ``[0.5]`` when not given."""
    values = _values(f"{where}thresholds", [DEFAULT_THRESHOLD] if thresholds is None else thresholds)
    return tuple(
        dict.fromkeys(check_threshold(f"{where}thresholds[{k}]", value) for k, value in enumerate(values))
    )


def build_cells(
    *,
    balances: Iterable | None,  # None is refused, as any value that is not a list of pairs
    models: Iterable | None = None,
    acc_0s: Iterable | None = None,
    acc_1s: Iterable | None = None,
    seeds: Iterable | None = None,
    thresholds: Iterable | None = None,
    where: str = "grid.",
) -> tuple[Cell, ...]:
    """Cells = balances x models x seeds x thresholds, validated, in that nesting order, without
    repeats.

    ``models`` lists ``[acc_0s, acc_1s]`` pairs, and :class:`NamedModel` values (predictions
    files, loaded by ``config``); alternatively ``acc_0s`` and ``acc_1s`` are lists whose cartesian
    product forms the models. ``thresholds`` (default ``[0.5]``) are numbers in [0, 1] or
    ``best:<metric>`` (``core.thresholds``).
    """
    balance_pairs = [
        counts(n0, n1, where=f"{where}balances[{i}]: ")
        for i, (n0, n1) in enumerate(_pairs(f"{where}balances", balances))
    ]
    seed_values = _values(f"{where}seeds", [0] if seeds is None else seeds)
    cuts = threshold_axis(thresholds, where=where)
    if models is not None:
        n_models = len(_pairs(f"{where}models", models, named=True))
    elif acc_0s is not None and acc_1s is not None:
        n_models = len(_values(f"{where}acc_0s", acc_0s)) * len(_values(f"{where}acc_1s", acc_1s))
    else:
        n_models = 1  # the checks below say what is missing
    check_cell_count(len(balance_pairs), n_models, len(seed_values), len(cuts), where=where)
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
    replicates = [whole_number(f"{where}seeds[{k}]", seed) for k, seed in enumerate(seed_values)]
    cells = (
        Cell(n0, n1, a0, a1, replicate, model, digest, threshold)
        for (n0, n1), (a0, a1, model, digest), replicate, threshold in itertools.product(
            balance_pairs, model_pairs, replicates, cuts
        )
    )
    return tuple(dict.fromkeys(cells))


def check_cell_count(
    balances: int, models: int, seeds: int, thresholds: int, *, where: str = "grid."
) -> None:
    """Refuse a grid of more than MAX_CELLS cells, counted from its axes' lengths (nothing formed)."""
    cells = balances * models * seeds * thresholds
    if cells > MAX_CELLS:
        raise InvalidValue(
            f"{where.rstrip('.') or 'grid'}: {balances} balances x {models} models x {seeds} seeds x "
            f"{thresholds} thresholds = {cells} cells, more than a sweep takes (at most {MAX_CELLS}); "
            "split it into smaller sweeps"
        )
