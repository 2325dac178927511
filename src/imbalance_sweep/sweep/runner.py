"""The sweep loop: every cell of a spec (of its shard) computed and logged as its own run, under
one parent run, with resume (see resume.py) and the sweep's table and report at the end."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tqdm import tqdm

from ..analysis.report import csv_text, sweep_models, sweep_report
from ..core.bootstrap import bootstrap_intervals
from ..core.cell import Cell
from ..core.evaluation import evaluate_cell
from ..core.expectations import beside_sampled, expected_cell
from ..core.losses import make_terms
from ..core.score_models import ScoreModel
from ..runtime.signals import Interrupted, interrupts_deferred
from ..tracking.runs import FINISHED, RUNNING, StoredRun
from ..tracking.tags import (
    CELL_KEY_TAG,
    MLFLOW_PARENT_TAG,
    ROLE_TAG,
    SWEEP_KEY_TAG,
    SWEEP_TAG,
    WORKER_TAG_PREFIX,
    Role,
)
from ..tracking.tracker import Closing, Tracker
from . import resume
from .ahead import ComputedAhead
from .config import SweepSpec
from .identity import cell_key, sweep_key
from .params import cell_params
from .parent_page import copy_cell, prepare_cells_view, show_answer

log = logging.getLogger(__name__)

Row = dict[str, object]  # a cell's row of the sweep's table: its run id, params and metrics


@dataclass
class SweepOutcome:
    """What a sweep did, for the lines that end the command: the run that holds its cells, and counts."""

    run_id: str
    experiment_id: str
    experiment_name: str
    name: str
    role: Role  # SWEEP: a parent with a child per cell; CELL: the run is the one cell
    n_cells: int
    n_computed: int
    n_already: int
    rows: list[Row] | None  # every cell's row, when the sweep is complete
    launch_run_id: str | None = None  # the run `mlflow run` created, when it continued ``run_id``


def run_sweep(spec: SweepSpec, **options) -> str:
    """Run the sweep (:func:`execute_sweep`) and return the id of the run that holds its cells."""
    return execute_sweep(spec, **options).run_id


def execute_sweep(
    spec: SweepSpec,
    *,
    config_text: str = "",
    existing_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> SweepOutcome:
    """Run every cell of ``spec`` (of its shard) and log it.

    One cell logs into one run; several cells (or any shard of a sharded sweep) log a parent run
    with a nested child per cell. ``existing_run_id`` is the run ``mlflow run`` created: it becomes
    the parent, even of one cell, because MLflow logged its ``-P`` values as typed (``1e5``) and the
    cell's params must be canonical (``100000``). With ``spec.resume`` the sweep continues its most
    recent parent of the same sweep key (see identity.py): FINISHED cells are skipped, the others run
    again; under ``mlflow run`` the launched run then records which run it continued (tag
    ``imbalance_sweep.continues`` and its description) and the cells stay under the one parent. A run
    is marked FINISHED only when its work completed; on any error it is FAILED, on Ctrl-C or SIGTERM
    KILLED.
    """
    term_sums = (
        make_terms(spec.backend, spec.losses, alpha=spec.alpha, gamma=spec.gamma)
        if spec.mode == "sampled"
        else None
    )
    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id or parent_run_id)
    key = sweep_key(spec)
    sweep_tags = {SWEEP_TAG: spec.name, SWEEP_KEY_TAG: key}
    one_cell = len(spec.cells) == 1 and spec.shard_count == 1
    if one_cell:
        outcome = run_one_cell(
            tracker,
            spec,
            key=key,
            sweep_tags=sweep_tags,
            term_sums=term_sums,
            config_text=config_text,
            existing_run_id=existing_run_id,
            parent_run_id=parent_run_id,
        )
        if outcome is not None:
            return outcome
    return run_grid(
        tracker,
        spec,
        key=key,
        sweep_tags=sweep_tags,
        term_sums=term_sums,
        config_text=config_text,
        existing_run_id=existing_run_id,
        parent_run_id=parent_run_id,
        one_cell=one_cell,
    )


def run_one_cell(
    tracker: Tracker,
    spec: SweepSpec,
    *,
    key: str,
    sweep_tags: dict[str, str],
    term_sums: object | None,
    config_text: str,
    existing_run_id: str | None,
    parent_run_id: str | None,
) -> SweepOutcome | None:
    """A sweep of one cell (and one shard): the run that computed it before (with ``spec.resume``),
    else its own run, which holds the config too. None under ``mlflow run`` when the cell is still
    to compute: the launched run is then its parent (:func:`run_grid`)."""
    if spec.resume:
        computed = cell_computed_before(
            tracker,
            spec,
            key=key,
            sweep_tags=sweep_tags,
            existing_run_id=existing_run_id,
            parent_run_id=parent_run_id,
        )
        if computed is not None:
            return computed
    if existing_run_id:
        return None
    row = run_cell(
        tracker,
        spec,
        spec.cells[0],
        sweep_tags=sweep_tags,
        key=key,
        term_sums=term_sums,
        parent=parent_run_id,
        config=config_text,
    )
    return sweep_outcome(tracker, spec, str(row["run_id"]), Role.CELL, [row], n_computed=1, n_already=0)


def sweep_outcome(
    tracker: Tracker,
    spec: SweepSpec,
    run_id: str,
    role: Role,
    rows: list[Row] | None,
    *,
    n_computed: int,
    n_already: int,
    launch_run_id: str | None = None,
) -> SweepOutcome:
    return SweepOutcome(
        run_id,
        tracker.experiment_id,
        tracker.experiment_name,
        spec.name,
        role,
        len(spec.cells),
        rows=rows,
        n_computed=n_computed,
        n_already=n_already,
        launch_run_id=launch_run_id,
    )


def cell_computed_before(
    tracker: Tracker,
    spec: SweepSpec,
    *,
    key: str,
    sweep_tags: dict[str, str],
    existing_run_id: str | None,
    parent_run_id: str | None,
) -> SweepOutcome | None:
    """A one-cell sweep whose cell a FINISHED run computed before (by `python -m`, or under an
    earlier `mlflow run`): not computed again. The run ``mlflow run`` created, if any, records which
    run holds the cell and is closed FINISHED. None when there is no such run."""
    cell = spec.cells[0]
    for run in tracker.find_runs({CELL_KEY_TAG: cell_key(key, cell), ROLE_TAG: Role.CELL}):
        parent = run.tags.get(MLFLOW_PARENT_TAG)
        if run.status != FINISHED or (parent != parent_run_id and not existing_run_id):
            continue
        found = stored_row(run, cell, spec)
        if existing_run_id:
            resume.record_launch(
                tracker, existing_run_id, spec, sweep_tags, run.run_id, "the cell was computed before"
            )
            copy_cell(tracker, spec, existing_run_id, cell, found, skip=set())  # the run `mlflow run` reports
            tracker.finish(existing_run_id)
        return sweep_outcome(
            tracker,
            spec,
            run.run_id,
            Role.CELL,
            [found],
            n_computed=0,
            n_already=1,
            launch_run_id=existing_run_id,
        )
    return None


def run_cell(
    tracker: Tracker,
    spec: SweepSpec,
    cell: Cell,
    *,
    sweep_tags: Mapping[str, str],
    key: str,
    term_sums: object | None,
    parent: str | None,
    config: str = "",
    computed: Callable[[], dict[str, float]] | None = None,
) -> Row:
    """One cell's run: created with its tags, computed (or its numbers taken from ``computed``, when
    they are computed elsewhere: :mod:`ahead`), then params and metrics in one batch."""
    params = cell_params(cell, spec)
    with contextlib.ExitStack() as stack:
        with interrupts_deferred():  # a signal now is raised once the run is in closing's hands
            run_id = tracker.start_run(
                cell.name,
                tags={**sweep_tags, ROLE_TAG: Role.CELL, CELL_KEY_TAG: cell_key(key, cell)},
                parent_run_id=parent,
            )
            stack.enter_context(tracker.closing(run_id))
        if config:
            tracker.log_text(run_id, config, "config.yaml")
        model = spec.model_of(cell)
        if model.dataset:  # the predictions file the cell evaluates
            tracker.log_dataset(run_id, model.dataset)
        values = computed() if computed else cell_values(spec, cell, model, term_sums)
        tracker.log(run_id, params=params, metrics=values)
    return {"run_id": run_id, **params, **values}


def cell_values(spec: SweepSpec, cell: Cell, model: ScoreModel, term_sums: object | None) -> dict[str, float]:
    """A cell's metrics: its exact values, or (sampled) a draw's with the exact ones beside them; a
    predictions file's cell with its bootstrap intervals when the sweep asks for them."""
    expected = expected_cell(
        cell, losses=spec.losses, alpha=spec.alpha, gamma=spec.gamma, model=model, settings=spec.metrics
    )
    if spec.mode == "sampled":
        drawn = evaluate_cell(
            cell,
            seed=spec.seed,
            losses=spec.losses,
            term_sums=term_sums,
            chunk_size=spec.chunk_size,
            model=model,
            settings=spec.metrics,
        )
        values = {**drawn, **beside_sampled(expected)}
    else:
        values = expected
    if spec.bootstrap_replicates and model.dataset:  # a predictions file's cell
        values.update(
            bootstrap_intervals(
                model,
                cell,
                seed=spec.seed,
                losses=spec.losses,
                alpha=spec.alpha,
                gamma=spec.gamma,
                replicates=spec.bootstrap_replicates,
                level=spec.bootstrap_level,
                beta=spec.metrics.beta,
            )
        )
    return values


@dataclass(frozen=True)
class OpenedSweep:
    """A sweep's parent run as this process took it up, and its shard's cells: those already
    FINISHED (their keys) and those to run."""

    run_id: str
    status: str  # the parent's status when found (RUNNING when created now)
    keys: Mapping[Cell, str]  # every cell's key, whatever the shard
    finished: set[str]
    todo: tuple[Cell, ...]
    launch: str | None  # the run `mlflow run` created, when it continues ``run_id``


def run_grid(
    tracker: Tracker,
    spec: SweepSpec,
    *,
    key: str,
    sweep_tags: dict[str, str],
    term_sums: object | None,
    config_text: str,
    existing_run_id: str | None,
    parent_run_id: str | None,
    one_cell: bool,
) -> SweepOutcome:
    """The shard's cells under one parent run (found or created), each its nested run; the parent
    FINISHED, with the sweep's table and report, by the process that sees every cell FINISHED."""
    with contextlib.ExitStack() as stack:
        # From the parent's creation until closing holds it (and the launch run): a signal waits,
        # so that neither is left RUNNING.
        with interrupts_deferred():
            opened = open_parent(
                tracker,
                spec,
                key=key,
                sweep_tags=sweep_tags,
                existing_run_id=existing_run_id,
                parent_run_id=parent_run_id,
                one_cell=one_cell,
            )
            prepare_cells_view(tracker, spec, opened.run_id)
            if not opened.todo and opened.status == FINISHED:
                if opened.launch:
                    tracker.finish(opened.launch)
                # nothing left to do: a re-run of a finished sweep changes nothing
                return grid_outcome(tracker, spec, opened, None, n_computed=0)
            worker_tag = join_parent(tracker, opened)
            if opened.launch:
                stack.enter_context(tracker.closing(opened.launch))
            closing: Closing = stack.enter_context(tracker.closing(opened.run_id))
        log_sweep_inputs(tracker, spec, opened.run_id, config_text)
        rows = run_cells(tracker, spec, opened, sweep_tags=sweep_tags, key=key, term_sums=term_sums)
        stored, closing.finish = read_back(tracker, spec, opened, rows, worker_tag=worker_tag)
        table = None
        if closing.finish:
            table = write_table_and_report(tracker, spec, opened, rows, stored)
    return grid_outcome(tracker, spec, opened, table, n_computed=len(opened.todo))


def grid_outcome(
    tracker: Tracker, spec: SweepSpec, opened: OpenedSweep, table: list[Row] | None, *, n_computed: int
) -> SweepOutcome:
    return sweep_outcome(
        tracker,
        spec,
        opened.run_id,
        Role.SWEEP,
        table,
        n_computed=n_computed,
        n_already=len(opened.finished),
        launch_run_id=opened.launch,
    )


def open_parent(
    tracker: Tracker,
    spec: SweepSpec,
    *,
    key: str,
    sweep_tags: dict[str, str],
    existing_run_id: str | None,
    parent_run_id: str | None,
    one_cell: bool,
) -> OpenedSweep:
    """The sweep's parent (:func:`resume.open_sweep`) and which of the shard's cells it holds
    FINISHED; the run ``mlflow run`` created, when it continues an earlier parent, records so."""
    sweep_run, sweep_status = resume.open_sweep(
        tracker, spec, sweep_tags, existing_run_id, parent_run_id, continue_earlier=not one_cell
    )
    keys = {cell: cell_key(key, cell) for cell in spec.cells}
    finished = resume.finished_children(tracker, sweep_run, {keys[cell] for cell in spec.shard_cells})
    todo = tuple(cell for cell in spec.shard_cells if keys[cell] not in finished)
    launch = existing_run_id if existing_run_id and existing_run_id != sweep_run else None
    if finished:
        log.info(
            "sweep %r continues run %s: %d of its %d cells already FINISHED (resume=false for a fresh sweep)",
            spec.name,
            sweep_run,
            len(finished),
            len(spec.shard_cells),
        )
    if launch:
        resume.fail_stale_launches(tracker, sweep_run)
        done = f"{len(finished)} of its {len(spec.shard_cells)} cells were already FINISHED"
        resume.record_launch(tracker, launch, spec, sweep_tags, sweep_run, done)
    return OpenedSweep(sweep_run, sweep_status, keys, finished, todo, launch)


def join_parent(tracker: Tracker, opened: OpenedSweep) -> str:
    """The parent marked RUNNING (this process is at work on it) and tagged with this process, so
    that another process at work on it knows to read the cells back; the tag's name."""
    if opened.status != RUNNING:
        tracker.reopen(opened.run_id)
    worker_tag = f"{WORKER_TAG_PREFIX}{uuid.uuid4().hex[:12]}"
    tracker.set_tags(opened.run_id, {worker_tag: f"{socket.gethostname()} pid {os.getpid()}"})
    return worker_tag


def log_sweep_inputs(tracker: Tracker, spec: SweepSpec, sweep_run: str, config_text: str) -> None:
    """The parent's config.yaml, and the predictions files its cells evaluate as its datasets."""
    if config_text:
        tracker.log_text(sweep_run, config_text, "config.yaml")
    for model in (spec.score_model, *spec.file_models.values()):
        if model.dataset:
            tracker.log_dataset(sweep_run, model.dataset)


def run_cells(
    tracker: Tracker,
    spec: SweepSpec,
    opened: OpenedSweep,
    *,
    sweep_tags: Mapping[str, str],
    key: str,
    term_sums: object | None,
) -> dict[Cell, Row]:
    """Each cell still to do, its run nested under the parent; on Ctrl-C or SIGTERM, the interruption
    carries how far the sweep got (its ``progress``, for the line that reports it)."""
    rows: dict[Cell, Row] = {}
    try:
        with ComputedAhead(
            lambda cell: cell_values(spec, cell, spec.model_of(cell), term_sums), opened.todo
        ) as ahead:
            for index, cell in enumerate(tqdm(opened.todo, desc=spec.name, unit="cell", disable=None)):
                rows[cell] = run_cell(
                    tracker,
                    spec,
                    cell,
                    sweep_tags=sweep_tags,
                    key=key,
                    term_sums=term_sums,
                    parent=opened.run_id,
                    computed=functools.partial(ahead.result, index),
                )
    except Interrupted as interrupted:
        done = len(opened.finished) + len(rows)
        interrupted.progress = f"{done} of {len(spec.shard_cells)} cells FINISHED in run {opened.run_id}"
        raise
    return rows


def read_back(
    tracker: Tracker, spec: SweepSpec, opened: OpenedSweep, rows: Mapping[Cell, Row], *, worker_tag: str
) -> tuple[dict[str, StoredRun], bool]:
    """The cells FINISHED by others (other shards, earlier runs, or another process at work on the
    same sweep: a race), one run per cell key, the extra runs of a race deleted; and whether every
    cell of the sweep is now FINISHED (the last process to finish writes the table and report).
    A sweep that ran alone and ran every cell itself reads nothing back."""
    others = [
        tag
        for tag in tracker.run_tags(opened.run_id)
        if tag.startswith(WORKER_TAG_PREFIX) and tag != worker_tag
    ]
    if not others and all(cell in rows for cell in spec.cells):
        return {}, True
    with tracker.exclusive():
        stored, extra = resume.one_finished_per_cell(tracker.find_runs({MLFLOW_PARENT_TAG: opened.run_id}))
        for run in extra:
            tracker.delete_run(run.run_id)
        if extra:
            log.info(
                "sweep %r: %d cells were FINISHED more than once (another process ran them at the "
                "same time); kept the earliest run of each, deleted the other %d",
                spec.name,
                len({run.tags[CELL_KEY_TAG] for run in extra}),
                len(extra),
            )
        complete = all(cell in rows or opened.keys[cell] in stored for cell in spec.cells)
    return stored, complete


def write_table_and_report(
    tracker: Tracker,
    spec: SweepSpec,
    opened: OpenedSweep,
    rows: Mapping[Cell, Row],
    stored: Mapping[str, StoredRun],
) -> list[Row]:
    """The sweep's table (every cell, in the grid's order) as the parent's cells.csv, its report's
    tables and figures (with ``report=all``, its models' curves among them) when asked for, and its
    answer on the parent's own page (parent_page.py); the table."""
    keys = opened.keys
    table = [
        stored_row(stored[keys[cell]], cell, spec) if keys[cell] in stored else rows[cell]
        for cell in spec.cells
    ]
    tracker.log_text(opened.run_id, csv_text(table), "cells.csv")
    if spec.report:
        tables, figures = sweep_report(
            table,
            losses=spec.losses,
            models=sweep_models(spec.cells, spec.model_of) if spec.all_figures else (),
            all_figures=spec.all_figures,
        )
        for path, columns in tables.items():
            tracker.log_table(opened.run_id, columns, path)
        for path, figure in figures.items():
            tracker.log_figure(opened.run_id, figure, path)
    show_answer(tracker, spec, opened.run_id, table)
    return table


def stored_row(run: StoredRun, cell: Cell, spec: SweepSpec) -> Row:
    """The sweep table's row of a cell finished by an earlier run or another shard, read back."""
    return {"run_id": run.run_id, **cell_params(cell, spec), **run.metrics}
