"""The comparison logged as its own run, once: a FINISHED comparison run with the same key (see
:func:`comparison_key`) is named instead of logging the same comparison again; under ``mlflow run``
the launched run then points to it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...sweep.table import csv_text
from ...tracking.runs import FINISHED, StoredRun
from ...tracking.tags import COMPARISON_KEY_TAG, NOTE_TAG, ROLE_TAG, SAME_AS_TAG, Role
from ...tracking.where import tag_filter
from .alignment import Comparison
from .cell_keys import CellKey
from .figure import comparison_figure
from .stored_sweeps import SelectedSweep, started_at

if TYPE_CHECKING:  # MLflow is imported where used: a mistake answers without it
    from ...tracking.reader import RunReader
    from ...tracking.tracker import Tracker

KEY_LENGTH = 16  # hex digits of the sha256 kept: 64 bits, plenty for one experiment's comparisons
TABLE_FILE, JSON_FILE, FIGURE_FILE = "comparison.csv", "comparison.json", "comparison.png"


def run_name(selected: Sequence[SelectedSweep]) -> str:
    return "compare " + " vs ".join(sweep.label for sweep in selected)


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
        f"{started_at(earlier)}): its table, figure and metrics are there; this run logged nothing new."
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
            f"{started_at(self.earlier)}); nothing new logged"
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
    from ...tracking.tracker import Tracker

    tracker = Tracker(tracking_uri, experiment_name, existing_run_id=launched_run_id)
    with tracker.exclusive():
        earlier = earlier_comparison(reader, tracker.experiment_id, key, exclude=launched_run_id)
        if earlier is None:
            run_id = log_comparison(tracker, selected, comparison, key=key, launched_run_id=launched_run_id)
            return Recorded(run_id, run_name(selected), tracker.experiment_id)
    if launched_run_id:
        point_to_earlier(tracker, launched_run_id, earlier, name=run_name(selected))
    return Recorded(earlier.run_id, earlier.name, earlier.experiment_id, earlier)
