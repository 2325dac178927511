"""Compare sweeps cell by cell: ``python -m imbalance_sweep.compare SWEEP SWEEP [...]``.

Two sweeps coincide on a cell when both ran the same (num_0s, num_1s, acc_0s, acc_1s, replicate,
threshold); their seed, loss settings and the rest of their grids may differ, and those are what
one compares.
The first sweep named is the baseline: differences are each other sweep minus it.

The pure part (aligning cells, differences, which metrics differ, the text table, the plot) takes
plain dicts and is tested without a store; reading runs and logging the comparison run go through
the ``tracking`` package, the only one that imports mlflow.

Comparing the same sweeps again logs nothing new: each comparison run carries a key (see
:func:`comparison_key`), and a FINISHED comparison run with the same key is named instead.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import os
import re
import shlex
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..cli import report_user_error
from ..core.cell import cell_name
from ..core.checks import InvalidValue, clipped
from ..core.metrics import METRIC_NAMES
from ..core.thresholds import DEFAULT_THRESHOLD_TEXT, from_text, row_threshold
from ..core.vocabulary import loss_keys
from ..sweep.config import resolve_tracking_uri
from ..sweep.params import SWEEP_SETTINGS
from ..tracking.errors import TrackingError
from ..tracking.runs import FINISHED, StoredRun
from ..tracking.tags import (
    CELL_KEY_TAG,
    COMPARISON_KEY_TAG,
    MLFLOW_PARENT_TAG,
    NOTE_TAG,
    ROLE_TAG,
    SAME_AS_TAG,
    SWEEP_TAG,
    Role,
)
from ..tracking.where import aligned_table, summary_lines, tag_filter

if TYPE_CHECKING:  # MLflow and matplotlib are imported where used: a mistake answers without them
    from matplotlib.figure import Figure

    from ..tracking.reader import RunReader
    from ..tracking.tracker import Tracker

KEY_LENGTH = 16  # hex digits of the sha256 kept: 64 bits, plenty for one experiment's comparisons
# Settings every cell of a sweep shares; printed and logged when the sweeps differ in them.
LETTERS = string.ascii_uppercase
# The order metrics are listed in: losses first, as the README's tables do.
METRIC_ORDER = loss_keys() + METRIC_NAMES
TABLE_FILE, JSON_FILE, FIGURE_FILE = "comparison.csv", "comparison.json", "comparison.png"


class CellKey(NamedTuple):
    """What makes two runs the same cell; the seed and the loss settings are left out on purpose."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int

    @classmethod
    def of(cls, params: Mapping[str, str | float]) -> AnyCellKey:
        """The key of a cell from its run params (strings in MLflow; numbers work too); a
        predictions file's cell (a ``model`` param) gets a :class:`NamedCellKey`, a cell at a
        threshold other than 0.5 a :class:`CutCellKey`."""
        values = (
            int(params["num_0s"]),
            int(params["num_1s"]),
            float(params["acc_0s"]),
            float(params["acc_1s"]),
            int(params.get("replicate", 0)),
        )
        model = str(params.get("model") or "")
        threshold = row_threshold(params)
        if threshold != DEFAULT_THRESHOLD_TEXT:
            return CutCellKey(*values, model, threshold)
        return NamedCellKey(*values, model) if model else cls(*values)

    def __str__(self) -> str:
        return cell_name(self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, self.replicate)


class NamedCellKey(NamedTuple):
    """A predictions file's cell: as :class:`CellKey`, and the model's name."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int
    model: str

    def __str__(self) -> str:
        return cell_name(self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, self.replicate, self.model)


class CutCellKey(NamedTuple):
    """A cell at a threshold other than 0.5: as :class:`NamedCellKey` (``model`` empty for a model
    given by its accuracies), and the threshold as text (``threshold_text``)."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int
    model: str
    threshold: str

    def __str__(self) -> str:
        model = self.model or None
        name = cell_name(
            self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, 0, model, from_text(self.threshold)
        )
        return name if self.replicate == 0 else f"{name} rep={self.replicate}"


AnyCellKey = CellKey | NamedCellKey | CutCellKey


def key_fields(keys) -> list[str]:
    """The fields naming cells of these keys: ``model`` only when one is a predictions file's,
    ``threshold`` only when one is cut elsewhere than 0.5."""
    named = any(getattr(key, "model", "") for key in keys)
    fields = list(NamedCellKey._fields if named else CellKey._fields)
    return [*fields, "threshold"] if any(isinstance(key, CutCellKey) for key in keys) else fields


def key_field(key: AnyCellKey, field: str) -> str | float | int:
    """A key's value of a field :func:`key_fields` names (another key type may lack it)."""
    return getattr(key, field, DEFAULT_THRESHOLD_TEXT if field == "threshold" else "")


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


def _text(value: str | float) -> str:
    """A table entry: whole numbers (counts, their differences) without a decimal point."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return str(value)
    number = float(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.6g}"


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, str | float]]) -> str:
    """Rows as aligned text: numbers right-aligned, words left-aligned, a rule under the header."""
    cells = [[_text(row[column]) for column in columns] for row in rows]
    left = [bool(rows) and isinstance(rows[0][column], str) for column in columns]
    return aligned_table(columns, cells, left=left, rule=True, trim=True)


def comparison_figure(comparison: Comparison, *, title: str) -> Figure:
    """Per metric, each other sweep against the baseline on the coinciding cells.

    Points off the dashed diagonal are cells where the sweeps differ. Identical sweeps still get a
    picture: every compared metric, every point on the diagonal.
    """
    metrics = comparison.shown or comparison.compared
    n_columns = min(4, len(metrics))
    n_rows = math.ceil(len(metrics) / n_columns)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * n_columns, 3.0 * n_rows + 0.5), layout="constrained")
    FigureCanvasAgg(figure)  # rendered by Agg, whatever pyplot's backend is
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    baseline, others = comparison.letters[0], comparison.letters[1:]
    for ax, metric in zip(axes, metrics, strict=False):
        values = comparison.values[metric]
        for index, letter in enumerate(others, start=1):
            ax.scatter(values[0], values[index], s=14, alpha=0.7, label=letter)
        low, high = float(np.min(values)), float(np.max(values))
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel(baseline, fontsize=8)
        ax.set_ylabel(", ".join(others), fontsize=8)
        ax.tick_params(labelsize=7)
    if len(others) > 1:
        axes[0].legend(fontsize=7)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return figure


# --- Which runs stand for the sweeps named on the command line ---------------------------------


@dataclass(frozen=True)
class SelectedSweep:
    """A sweep to compare: the run that stands for it, how it was chosen, and its finished cells."""

    argument: str
    run: StoredRun
    how: str
    by_name: bool
    cells: tuple[StoredRun, ...]
    n_unfinished: int
    n_repeated: int = 0  # FINISHED runs beyond one per cell (a race), left out

    @property
    def name(self) -> str:
        return self.run.tags.get(SWEEP_TAG) or self.run.name

    @property
    def label(self) -> str:
        """How the run name shows it: the name it was asked by, or name@id8 for a run id."""
        return self.argument if self.by_name else f"{self.name}@{self.run.run_id[:8]}"

    @property
    def cell_values(self) -> list[dict[str, Mapping[str, object]]]:
        """Its cells as :func:`compare_cells` takes them: each its params and metrics."""
        return [{"params": cell.params, "metrics": cell.metrics} for cell in self.cells]


def _started(run: StoredRun) -> str:
    moment = datetime.fromtimestamp(run.start_time / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# How many stored names (of sweeps, of experiments) a message about an unknown one shows.
SHOWN_NAMES = 5
# The most of a user's own argument such a message repeats (escaped as repr does).
SHOWN_ARGUMENT = 200


def some_names(asked: str, counts: Mapping[str, int]) -> str:
    """A few of the stored names (with how many runs have each, when more than one): the nearest to
    ``asked`` first, then in order, each cut and escaped (a stored name may be long or odd)."""
    nearest = difflib.get_close_matches(asked, list(counts), n=SHOWN_NAMES, cutoff=0.6)
    shown = nearest + [name for name in sorted(counts) if name not in nearest]
    names = ", ".join(
        clipped(name, quoted=False) + (f" ({counts[name]} runs)" if counts[name] > 1 else "")
        for name in shown[:SHOWN_NAMES]
    )
    return names + (f" and {len(counts) - SHOWN_NAMES} more" if len(counts) > SHOWN_NAMES else "")


def unknown_sweep_message(argument: str, tops: Sequence[StoredRun], *, where: str) -> str:
    """One short line: the argument is neither a run id nor a sweep name, and a few sweeps that exist."""
    counts = Counter(run.tags.get(SWEEP_TAG, "") for run in tops)
    asked = clipped(argument, SHOWN_ARGUMENT)
    if not counts:
        return f"no sweep named {asked} and no run with that id: there are no sweeps {where}"
    return f"no sweep named {asked} and no run with that id; sweeps {where}: {some_names(argument, counts)}"


def pick_by_name(name: str, tops: Sequence[StoredRun], *, where: str) -> tuple[StoredRun, str]:
    """The most recent FINISHED run of the sweep ``name`` (re-runs share a name), and why it was picked."""
    candidates = [run for run in tops if run.tags.get(SWEEP_TAG) == name]
    if not candidates:
        raise InvalidValue(unknown_sweep_message(name, tops, where=where))
    finished = [run for run in candidates if run.status == FINISHED]
    if not finished:
        statuses = ", ".join(sorted(run.status for run in candidates))
        raise InvalidValue(
            f"sweep {name!r} has no FINISHED run (its runs are {statuses}); give a run id to compare one"
        )
    latest = max(finished, key=lambda run: (run.start_time, run.run_id))
    if len(candidates) == 1:
        how = f"the only sweep named {name!r}"
    else:
        how = f"the most recent FINISHED of {len(candidates)} sweeps named {name!r}"
    return latest, f"{how}, started {_started(latest)}"


def _tops(reader: RunReader, experiment_ids: list[str]) -> list[StoredRun]:
    """The runs that stand for sweeps: sweep parents, and one-cell sweeps (a cell without a parent)."""
    role = f'tags."{ROLE_TAG}"'
    return reader.search(experiment_ids, f"{role} = '{Role.SWEEP}'") + reader.search(
        experiment_ids, f"{role} = '{Role.CELL}' and tags.\"{MLFLOW_PARENT_TAG}\" IS NULL"
    )


def _cells_of(reader: RunReader, run: StoredRun) -> tuple[list[StoredRun], int, int]:
    """A sweep's FINISHED cells, how many others it has (failed or interrupted ones), and how many
    FINISHED runs it holds beyond one per cell (a race): of those, the run a resumed sweep keeps."""
    if run.tags.get(ROLE_TAG) == Role.CELL:
        cells = [run]
    else:
        cells = reader.search(
            [run.experiment_id],
            f"{tag_filter(MLFLOW_PARENT_TAG, run.run_id)} and {tag_filter(ROLE_TAG, Role.CELL)}",
        )
    from ..sweep.resume import one_finished_per_cell

    chosen, extra = one_finished_per_cell(cells)
    unkeyed = [cell for cell in cells if cell.status == FINISHED and CELL_KEY_TAG not in cell.tags]
    finished = [*chosen.values(), *unkeyed]
    return finished, sum(cell.status != FINISHED for cell in cells), len(extra)


def select_sweeps(
    reader: RunReader, arguments: Sequence[str], *, experiment: str | None = None
) -> list[SelectedSweep]:
    """Resolve each argument: a run id selects exactly that run; a name, its most recent FINISHED run.

    ``experiment`` limits the search for names to one experiment; a run id is found wherever it is.
    """
    experiments = reader.experiments()
    if experiment:
        experiment_ids = [key for key, name in experiments.items() if name == experiment]
        if not experiment_ids:
            known = some_names(experiment, dict.fromkeys(experiments.values(), 1))
            asked = clipped(experiment, SHOWN_ARGUMENT)
            raise InvalidValue(f"--experiment={asked} is not an experiment; experiments: {known}")
        where = f"in experiment {clipped(experiment, SHOWN_ARGUMENT)}"
    else:
        experiment_ids, where = list(experiments), "in the store"
    tops: list[StoredRun] | None = None
    selected = []
    for argument in arguments:
        run = reader.get(argument)
        if run is not None:
            role = run.tags.get(ROLE_TAG)
            if role not in (Role.SWEEP, Role.CELL):
                raise InvalidValue(
                    f"run {argument} is not a sweep or a cell (its {ROLE_TAG} tag is {role!r})"
                )
            how, by_name = f"given by run id, {run.status}", False
        else:
            tops = _tops(reader, experiment_ids) if tops is None else tops
            run, how = pick_by_name(argument, tops, where=where)
            by_name = True
        cells, n_unfinished, n_repeated = _cells_of(reader, run)
        selected.append(SelectedSweep(argument, run, how, by_name, tuple(cells), n_unfinished, n_repeated))
    first_with: dict[str, SelectedSweep] = {}
    for sweep in selected:
        earlier = first_with.setdefault(sweep.run.run_id, sweep)
        if earlier is not sweep:
            raise InvalidValue(
                f"{earlier.argument!r} and {sweep.argument!r} select the same run {sweep.run.run_id}; "
                "compare at least 2 different sweeps"
            )
    return selected


# --- Output: what is printed, and the comparison run ------------------------------------------


def run_name(selected: Sequence[SelectedSweep]) -> str:
    return "compare " + " vs ".join(sweep.label for sweep in selected)


def report(selected: Sequence[SelectedSweep], comparison: Comparison) -> str:
    """What the command prints: which runs were compared and why, what differs, and the table."""
    lines = []
    for letter, sweep in zip(comparison.letters, selected, strict=True):
        unfinished = f", {sweep.n_unfinished} not FINISHED and left out" if sweep.n_unfinished else ""
        if sweep.n_repeated:
            unfinished += (
                f", {sweep.n_repeated} more FINISHED runs of cells it already holds (processes that ran it "
                "at once): the earliest run of each cell is compared"
            )
        lines.append(
            f"{letter} = {sweep.argument}: sweep {sweep.name!r}, run {sweep.run.run_id} "
            f"({sweep.how}); {len(sweep.cells)} cells{unfinished}"
        )
    for setting, values in comparison.settings.items():
        pairs = " ".join(
            f"{letter}={value}" for letter, value in zip(comparison.letters, values, strict=True)
        )
        lines.append(f"differs: {setting}: {pairs}")
    lines.append(f"cells in common: {len(comparison.cells)}")
    if comparison.not_shared:
        lines.append(f"not compared (not in every sweep): {', '.join(comparison.not_shared)}")
    n_compared = len(comparison.compared)
    if comparison.differing:
        lines.append(
            f"metrics that differ ({len(comparison.differing)} of {n_compared}): {', '.join(comparison.differing)}"
        )
    else:
        lines.append(f"no metric differs on the cells in common ({n_compared} compared)")
    rows = comparison.rows()
    if rows:
        lines += ["", format_table(comparison.columns, rows)]
    return "\n".join(lines)


def comparison_params(selected: Sequence[SelectedSweep], comparison: Comparison) -> dict[str, object]:
    """The comparison run's params: which runs were compared, how they were chosen, the overlap."""
    params: dict[str, object] = {}
    for letter, sweep, n_cells in zip(comparison.letters, selected, comparison.n_cells, strict=True):
        params[f"sweep.{letter}"] = sweep.name
        params[f"sweep.{letter}.run_id"] = sweep.run.run_id
        params[f"sweep.{letter}.selected"] = f"{sweep.argument!r}: {sweep.how}"
        params[f"sweep.{letter}.n_cells"] = n_cells
    params["n_cells_compared"] = len(comparison.cells)
    params["metrics_compared"] = ",".join(comparison.compared)
    for setting, values in comparison.settings.items():
        params[f"differs.{setting}"] = " ".join(
            f"{letter}={value}" for letter, value in zip(comparison.letters, values, strict=True)
        )
    return params


def compared_cell_run_ids(selected: Sequence[SelectedSweep], comparison: Comparison) -> list[str]:
    """The run ids of every sweep's cells that were compared (the coinciding ones), sorted."""
    common = set(comparison.cells)
    return sorted(
        cell.run_id for sweep in selected for cell in sweep.cells if CellKey.of(cell.params) in common
    )


def comparison_key(
    selected: Sequence[SelectedSweep], comparison: Comparison, *, metrics: Sequence[str] | None = None
) -> str:
    """What makes two comparisons the same: the sweeps' runs in order (the first is the baseline),
    the cell runs compared (a resumed sweep's new coinciding cells change it) and the metrics asked
    for, in their order (they choose the table); a short sha256 of them, hex."""
    identity = {
        "sweeps": [sweep.run.run_id for sweep in selected],
        "cells": compared_cell_run_ids(selected, comparison),
        "metrics": list(dict.fromkeys(metrics or ())),
    }
    text = json.dumps(identity, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def earlier_comparison(
    reader: RunReader, experiment_id: str, key: str, *, exclude: str | None = None
) -> StoredRun | None:
    """The first FINISHED comparison run with ``key`` in the experiment, or None.

    A run that only points at another (tagged same_as) is never the answer: it holds no artifacts.
    ``exclude`` is the run being filled now (``mlflow run``'s), which cannot be its own earlier run.
    """
    filter_string = f"{tag_filter(ROLE_TAG, Role.COMPARISON)} and {tag_filter(COMPARISON_KEY_TAG, key)}"
    runs = [
        run
        for run in reader.search([experiment_id], filter_string)
        if run.status == FINISHED and SAME_AS_TAG not in run.tags and run.run_id != exclude
    ]
    return min(runs, key=lambda run: (run.start_time, run.run_id), default=None)


def log_comparison(
    tracker: Tracker,
    selected: Sequence[SelectedSweep],
    comparison: Comparison,
    *,
    key: str,
    launched_run_id: str | None = None,
) -> str:
    """Log the comparison as its own run (or into ``launched_run_id``); FINISHED only when complete."""
    from .report import csv_text

    name = run_name(selected)
    run_id = tracker.start_run(
        name,
        params=comparison_params(selected, comparison),
        tags={ROLE_TAG: Role.COMPARISON, COMPARISON_KEY_TAG: key},
        existing_run_id=launched_run_id,
    )
    with tracker.closing(run_id):
        tracker.log_metrics(run_id, comparison.summary())
        columns, rows = comparison.columns, comparison.rows()
        tracker.log_text(run_id, csv_text(rows, columns), TABLE_FILE)
        tracker.log_table(run_id, {column: [row[column] for row in rows] for column in columns}, JSON_FILE)
        tracker.log_figure(run_id, comparison_figure(comparison, title=name), FIGURE_FILE)
    return run_id


def same_as_note(earlier: StoredRun) -> str:
    """The description of a launched run that repeats a comparison: where the comparison is."""
    return (
        f"This comparison is already in run {earlier.run_id} ({earlier.name!r}, started "
        f"{_started(earlier)}): its table, figure and metrics are there; this run logged nothing new."
    )


def point_to_earlier(tracker: Tracker, launched_run_id: str, earlier: StoredRun, *, name: str) -> None:
    """Leave ``mlflow run``'s run FINISHED and saying where the comparison is, without copying it;
    no key tag, so it is never taken for the comparison itself."""
    tracker.start_run(
        name,
        tags={
            ROLE_TAG: Role.COMPARISON,
            SAME_AS_TAG: earlier.run_id,
            NOTE_TAG: same_as_note(earlier),
        },
        existing_run_id=launched_run_id,
    )
    tracker.finish(launched_run_id)


@dataclass(frozen=True)
class Recorded:
    """Where a comparison is: the run that holds it, and whether that run is an earlier one."""

    run_id: str
    run_name: str
    experiment_id: str
    earlier: StoredRun | None = None  # the earlier run, when nothing new was logged

    def line(self, *, launched_run_id: str | None = None) -> str:
        """The one line printed after the report."""
        if self.earlier is None:
            return f"logged the comparison as run {self.run_id} ({self.run_name!r})"
        line = (
            f"this comparison is already in run {self.run_id} ({self.run_name!r}, started "
            f"{_started(self.earlier)}); nothing new logged"
        )
        if launched_run_id:
            line += f"; run {launched_run_id} points to it ({SAME_AS_TAG})"
        return line


def record_comparison(
    tracking_uri: str,
    reader: RunReader,
    selected: Sequence[SelectedSweep],
    comparison: Comparison,
    *,
    key: str,
    experiment_name: str,
    launched_run_id: str | None = None,
) -> Recorded:
    """Log the comparison, unless a FINISHED comparison run with the same ``key`` already holds it.

    The look-up and the logging run under :meth:`Tracker.exclusive`, so two commands comparing the
    same sweeps at once on a sqlite store log one run between them.
    """
    from ..tracking.tracker import Tracker

    tracker = Tracker(tracking_uri, experiment_name, existing_run_id=launched_run_id)
    with tracker.exclusive():
        earlier = earlier_comparison(reader, tracker.experiment_id, key, exclude=launched_run_id)
        if earlier is None:
            run_id = log_comparison(tracker, selected, comparison, key=key, launched_run_id=launched_run_id)
            return Recorded(run_id, run_name(selected), tracker.experiment_id)
    if launched_run_id:
        point_to_earlier(tracker, launched_run_id, earlier, name=run_name(selected))
    return Recorded(earlier.run_id, earlier.name, earlier.experiment_id, earlier)


# --- Command line -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line with exit code 2, like every other user error."""

    def error(self, message: str):
        raise InvalidValue(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m imbalance_sweep.compare",
        description="Compare sweeps cell by cell and log the comparison as an MLflow run. "
        "The first sweep is the baseline; differences are each other sweep minus it.",
    )
    parser.add_argument("sweeps", nargs="*", help="sweep names (the most recent FINISHED run) or run ids")
    parser.add_argument(
        "--sweeps",
        dest="sweep_lists",
        action="append",
        default=[],
        metavar="STRING",
        help="more sweeps as one string, split as a shell would (for `mlflow run -P sweeps=...`)",
    )
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here")
    parser.add_argument("--experiment", help="look sweep names up in this experiment only")
    parser.add_argument(
        "--metrics",
        nargs="+",
        action="extend",
        metavar="METRIC",
        help="metrics to compare and show, even if equal (comma or space separated); default: "
        "compare all, show those that differ",
    )
    return parser


def split_words(name: str, text: str) -> list[str]:
    """``text`` split at spaces as a shell would (quotes group words); an unclosed quote is one line."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise InvalidValue(f"{name}={text!r} cannot be split into names: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Compare the sweeps named in ``argv``; a user's mistake is one line on stderr and exit code 2."""
    try:
        options = _parser().parse_args(argv)
        arguments = list(options.sweeps) + [
            name for text in options.sweep_lists for name in split_words("--sweeps", text)
        ]
        if len(arguments) < 2:
            raise InvalidValue(f"give at least 2 sweeps to compare, got {len(arguments)}: {arguments}")
        metrics = [name for text in options.metrics or [] for name in re.split(r"[,\s]+", text) if name]
        tracking_uri = resolve_tracking_uri(options.tracking_uri)
        from ..tracking.reader import RunReader  # MLflow: only once the command line holds

        reader = RunReader(tracking_uri)
        selected = select_sweeps(reader, arguments, experiment=options.experiment or None)
        comparison = compare_cells([sweep.cell_values for sweep in selected], metrics=metrics or None)
        print(report(selected, comparison), flush=True)
        experiments = reader.experiments()
        launched_run_id = os.environ.get("MLFLOW_RUN_ID") or None
        recorded = record_comparison(
            tracking_uri,
            reader,
            selected,
            comparison,
            key=comparison_key(selected, comparison, metrics=metrics),
            experiment_name=experiments.get(selected[0].run.experiment_id, "imbalance-sweep"),
            launched_run_id=launched_run_id,
        )
        print(f"\n{recorded.line(launched_run_id=launched_run_id)}\n")
        lines = summary_lines(
            tracking_uri,
            experiment_name=experiments.get(recorded.experiment_id, recorded.experiment_id),
            experiment_id=recorded.experiment_id,
            run_id=recorded.run_id,
            what=f"comparison of {len(selected)} sweeps",
        )
    except (InvalidValue, TrackingError) as error:
        return report_user_error(error)
    print("\n".join(lines))
    return 0
