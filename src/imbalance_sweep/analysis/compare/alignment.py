"""Sweeps aligned on the cells they all ran: their values side by side, the metrics that differ
there, the settings the sweeps differ in, and the aligned table's rows.

Values are compared exactly: the same cell with the same seed and settings gives the same numbers
bit for bit, so any difference is real.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...core.checks import InvalidValue
from ...core.metrics import METRIC_NAMES
from ...core.vocabulary import loss_keys
from ...sweep.params import SWEEP_SETTINGS
from .cell_keys import AnyCellKey, CellKey, key_field, key_fields

# The sweeps' names in the table and its columns: A (the baseline), B, ...
LETTERS = string.ascii_uppercase
# The order metrics are listed in: losses first, as the README's tables do.
METRIC_ORDER = loss_keys() + METRIC_NAMES


def ordered_metrics(names) -> list[str]:
    """Metric names in the project's order: losses, then counts and rates; a prefixed family
    (``expected/loss/bce``, ...) after the plain names, in the same order; unknown names last."""
    rank = {name: index for index, name in enumerate(METRIC_ORDER)}

    def position(name: str) -> tuple:
        for known in METRIC_ORDER:
            if name == known or name.endswith(f"/{known}"):
                prefix = name[: -len(known)]
                return (prefix != "", prefix, rank[known], name)
        return (True, "\uffff", len(rank), name)

    return sorted(set(names), key=position)


@dataclass(frozen=True)
class Comparison:
    """Sweeps aligned on the cells they all ran; sweep A (the first) is the baseline."""

    letters: tuple[str, ...]
    cells: tuple[AnyCellKey, ...]
    values: Mapping[str, np.ndarray]  # metric -> array (sweep, cell), for every compared metric
    differing: tuple[str, ...]
    shown: tuple[str, ...]  # the table's metrics: the differing ones, or those asked for
    not_shared: tuple[str, ...]  # metrics some coinciding cells lack, so not compared
    n_cells: tuple[int, ...]  # cells of each sweep, coinciding or not
    settings: Mapping[str, tuple[str, ...]]  # settings that differ -> each sweep's value

    @property
    def compared(self) -> tuple[str, ...]:
        return tuple(self.values)

    def differences(self, metric: str) -> np.ndarray:
        """Each other sweep minus the baseline, array (other sweep, cell)."""
        values = self.values[metric]
        return values[1:] - values[0]

    def summary(self) -> dict[str, float]:
        """The comparison run's metrics: sizes, and per metric the largest and the mean difference
        (over every coinciding cell, and every other sweep when there are more than two)."""
        summary: dict[str, float] = {
            "n_cells_compared": len(self.cells),
            "n_metrics_compared": len(self.compared),
            "n_metrics_differing": len(self.differing),
        }
        for metric in self.compared:
            differences = self.differences(metric)
            summary[f"max_abs_diff/{metric}"] = float(np.max(np.abs(differences)))
            summary[f"mean_diff/{metric}"] = float(np.mean(differences))
        return summary

    @property
    def cell_fields(self) -> list[str]:
        """The columns naming a cell: ``model`` only when some cell is a predictions file's,
        ``threshold`` only when some cell is cut elsewhere than 0.5."""
        return key_fields(self.cells)

    @property
    def columns(self) -> list[str]:
        baseline = self.letters[0]
        others = [f"{letter} - {baseline}" for letter in self.letters[1:]]
        return [*self.cell_fields, "metric", *self.letters, *others]

    def rows(self) -> list[dict[str, str | float]]:
        """The aligned table, one row per (shown metric, coinciding cell), metric by metric."""
        rows = []
        fields = self.cell_fields
        for metric in self.shown:
            values, differences = self.values[metric], self.differences(metric)
            for index, cell in enumerate(self.cells):
                numbers = [float(value) for value in values[:, index]]
                numbers += [float(difference) for difference in differences[:, index]]
                named: list[str | float] = [key_field(cell, field) for field in fields]
                rows.append(dict(zip(self.columns, [*named, metric, *numbers], strict=True)))
        return rows


def _equal(left: np.ndarray, right: np.ndarray) -> bool:
    return bool(np.array_equal(left, right, equal_nan=True))


def compare_cells(
    sweeps: Sequence[Sequence[Mapping[str, Mapping]]], *, metrics: Sequence[str] | None = None
) -> Comparison:
    """Align sweeps on the cells they all ran, and find the metrics that differ there.

    Each sweep is a list of cells, each ``{"params": {...}, "metrics": {...}}`` as its run holds
    them. Values are compared exactly: the same cell with the same seed and settings gives the same
    numbers bit for bit, so any difference is real. ``metrics`` chooses the metrics to compare and
    show, whether or not they differ; by default every metric all coinciding cells hold is compared
    and the differing ones are shown.
    """
    if len(sweeps) < 2:
        raise InvalidValue(f"give at least 2 sweeps to compare, got {len(sweeps)}")
    if len(sweeps) > len(LETTERS):
        raise InvalidValue(f"give at most {len(LETTERS)} sweeps to compare, got {len(sweeps)}")
    letters = tuple(LETTERS[: len(sweeps)])
    by_key = [_metrics_by_cell(letter, cells) for letter, cells in zip(letters, sweeps, strict=True)]
    n_cells = tuple(len(metrics_of) for metrics_of in by_key)
    common = _common_cells(letters, by_key)
    held = [set(metrics_of[key]) for metrics_of in by_key for key in common]
    shared, anywhere = set.intersection(*held), set.union(*held)
    if not shared:
        raise InvalidValue("the coinciding cells share no metric")
    compared = _compared_metrics(shared, metrics)
    values = {
        name: np.array([[metrics_of[key][name] for key in common] for metrics_of in by_key], dtype=float)
        for name in compared
    }
    differing = tuple(
        name for name in compared if not all(_equal(row, values[name][0]) for row in values[name][1:])
    )
    return Comparison(
        letters=letters,
        cells=tuple(common),
        values=values,
        differing=differing,
        shown=tuple(compared) if metrics else differing,
        not_shared=tuple(ordered_metrics(anywhere - shared)),
        n_cells=n_cells,
        settings=_differing_settings(sweeps),
    )


CellMetrics = dict[AnyCellKey, Mapping]  # a sweep's metrics, by cell


def _metrics_by_cell(letter: str, cells: Sequence[Mapping[str, Mapping]]) -> CellMetrics:
    """Sweep ``letter``'s cells' metrics by their key; a cell that is not one, or twice, is an error."""
    metrics_of: CellMetrics = {}
    for cell in cells:
        try:
            key = CellKey.of(cell["params"])
        except KeyError as error:
            raise InvalidValue(f"sweep {letter} has a cell run without the param {error}") from None
        except ValueError as error:
            raise InvalidValue(
                f"sweep {letter} has a cell run whose params are not a cell: {error}"
            ) from None
        if key in metrics_of:
            raise InvalidValue(f"sweep {letter} holds the cell {key} twice; give a run id of one sweep")
        metrics_of[key] = cell["metrics"]
    return metrics_of


def _common_cells(letters: Sequence[str], by_key: Sequence[CellMetrics]) -> list[AnyCellKey]:
    """The cells every sweep ran, sorted; none is an error that says when cells coincide."""
    common = sorted(set.intersection(*(set(metrics_of) for metrics_of in by_key)))
    if not common:
        n_cells = (len(metrics_of) for metrics_of in by_key)
        counts = ", ".join(f"{letter} has {n}" for letter, n in zip(letters, n_cells, strict=True))
        fields = key_fields([key for metrics_of in by_key for key in metrics_of])
        raise InvalidValue(
            f"the sweeps have no cell in common ({counts}); cells coincide when their "
            f"{', '.join(fields)} are equal"
        )
    return common


def _compared_metrics(shared: set[str], metrics: Sequence[str] | None) -> list[str]:
    """The metrics asked for (each once, in order), all of them held by every coinciding cell; by
    default every such metric, in the project's order."""
    if not metrics:
        return ordered_metrics(shared)
    asked = list(dict.fromkeys(metrics))
    missing = [name for name in asked if name not in shared]
    if missing:
        raise InvalidValue(
            f"metrics: {missing[0]!r} is not a metric of every coinciding cell; "
            f"they hold: {', '.join(ordered_metrics(shared))}"
        )
    return asked


def _differing_settings(sweeps: Sequence[Sequence[Mapping[str, Mapping]]]) -> dict[str, tuple[str, ...]]:
    """The settings (read from each sweep's first cell) in which the sweeps differ -> each one's value."""
    first_cells = [cells[0]["params"] if cells else {} for cells in sweeps]
    settings = {}
    # A score model other than uniform logs its own settings (score_model, score_model.<key>).
    model_settings = sorted(
        {key for params in first_cells for key in params if key.startswith("score_model")}
    )
    for setting in (*SWEEP_SETTINGS, *model_settings):
        per_sweep = tuple(str(params.get(setting, "")) for params in first_cells)
        if len(set(per_sweep)) > 1:
            settings[setting] = per_sweep
    return settings
