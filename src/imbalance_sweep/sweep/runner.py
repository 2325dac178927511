"""The sweep loop: every cell of a spec (of its shard) computed and logged as its own run, under
one parent run, with resume (see resume.py) and the sweep's table and report at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ..core.bootstrap import bootstrap_intervals
from ..core.evaluation import evaluate_cell
from ..core.expectations import beside_sampled, expected_cell
from ..core.losses import TermSums, make_terms
from ..core.multiclass.cell import as_binary_cell
from ..core.multiclass.evaluation import (
    RANKING_MAX_SCORES,
    applicable_losses,
    evaluate_multiclass_cell,
    evaluate_rows,
)
from ..core.multiclass.expected import expected_of_cell
from ..core.multiclass.file_model import file_expected_values, file_score_chunks
from ..core.multiclass.metrics import MulticlassSettings
from ..core.score_models import ScoreModel
from ..core.score_models.empirical import EmpiricalModel
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
from .ahead import CellsAhead, CellValues, cells_ahead
from .config import SweepSpec
from .identity import cell_key, sweep_key
from .kgrid import KCellSpec
from .params import K_CELL_FILE, cell_params, k_cell_file
from .parent_page import ParentPage, PreparedPage, prepare_cells_view
from .table import csv_text

if TYPE_CHECKING:
    from .config import SweepCell

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


@dataclass(frozen=True)
class SweepRun:
    """One sweep as this process runs it: what every step of the loop reads, built once by
    :func:`execute_sweep` and handed down whole rather than as a tail of keyword arguments."""

    tracker: Tracker
    spec: SweepSpec
    key: str  # the sweep key (identity.py): each cell's key derives from it
    tags: dict[str, str]  # what every run of the sweep carries: its name and its key
    term_sums: TermSums | None  # the loss terms' per-class sums of a sampled sweep (make_terms), else None
    page: ParentPage  # what shows the finished sweep's report and answer
    config_text: str = ""  # the composed config, logged as config.yaml
    existing_run_id: str | None = None  # the run `mlflow run` created
    parent_run_id: str | None = None  # the run a multirun's sweeps nest under

    def values_of(self, cell: SweepCell) -> dict[str, float]:
        """``cell``'s values, computed now."""
        return cell_values(self.spec, cell, self.spec.model_of(cell), self.term_sums)

    @property
    def one_cell(self) -> bool:
        """A sweep of one cell and one shard: its run is the cell's own, unless `mlflow run` made one."""
        return len(self.spec.cells) == 1 and self.spec.shard_count == 1


def execute_sweep(
    spec: SweepSpec,
    *,
    page: ParentPage,
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
    KILLED. ``page`` shows the finished sweep's report and answer (the door hands it in: app.py).
    """
    term_sums = (
        make_terms(spec.backend, spec.losses, alpha=spec.alpha, gamma=spec.gamma)
        if spec.mode == "sampled" and not spec.k_classes  # the binary engine's cells
        else None
    )
    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id or parent_run_id)
    key = sweep_key(spec)
    sweep = SweepRun(
        tracker=tracker,
        spec=spec,
        key=key,
        tags={SWEEP_TAG: spec.name, SWEEP_KEY_TAG: key},
        term_sums=term_sums,
        page=page,
        config_text=config_text,
        existing_run_id=existing_run_id,
        parent_run_id=parent_run_id,
    )
    if sweep.one_cell:
        outcome = run_one_cell(sweep)
        if outcome is not None:
            return outcome
    return run_grid(sweep)


def run_one_cell(sweep: SweepRun) -> SweepOutcome | None:
    """A sweep of one cell (and one shard): the run that computed it before (with ``spec.resume``),
    else its own run, which holds the config too. None under ``mlflow run`` when the cell is still
    to compute: the launched run is then its parent (:func:`run_grid`)."""
    if sweep.spec.resume:
        computed = cell_computed_before(sweep)
        if computed is not None:
            return computed
    if sweep.existing_run_id:
        return None
    row = run_cell(sweep, sweep.spec.cells[0], parent=sweep.parent_run_id, config=sweep.config_text)
    return sweep_outcome(sweep, str(row["run_id"]), Role.CELL, [row], n_computed=1, n_already=0)


def sweep_outcome(
    sweep: SweepRun,
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
        sweep.tracker.experiment_id,
        sweep.tracker.experiment_name,
        sweep.spec.name,
        role,
        len(sweep.spec.cells),
        rows=rows,
        n_computed=n_computed,
        n_already=n_already,
        launch_run_id=launch_run_id,
    )


def cell_computed_before(sweep: SweepRun) -> SweepOutcome | None:
    """A one-cell sweep whose cell a FINISHED run computed before (by `python -m`, or under an
    earlier `mlflow run`): not computed again. The run ``mlflow run`` created, if any, records which
    run holds the cell and is closed FINISHED. None when there is no such run."""
    tracker, spec, existing_run_id = sweep.tracker, sweep.spec, sweep.existing_run_id
    cell = spec.cells[0]
    for run in tracker.find_runs({CELL_KEY_TAG: cell_key(sweep.key, cell), ROLE_TAG: Role.CELL}):
        parent = run.tags.get(MLFLOW_PARENT_TAG)
        if run.status != FINISHED or (parent != sweep.parent_run_id and not existing_run_id):
            continue
        found = stored_row(run, cell, spec)
        if existing_run_id:
            resume.record_launch(
                tracker, existing_run_id, spec, sweep.tags, run.run_id, "the cell was computed before"
            )
            sweep.page.show_cell(tracker, spec, existing_run_id, cell, found)  # the run `mlflow run` reports
            tracker.finish(existing_run_id)
        return sweep_outcome(
            sweep,
            run.run_id,
            Role.CELL,
            [found],
            n_computed=0,
            n_already=1,
            launch_run_id=existing_run_id,
        )
    return None


def run_cell(
    sweep: SweepRun,
    cell: SweepCell,
    *,
    parent: str | None,
    config: str = "",
    values_of: CellValues | None = None,
) -> Row:
    """One cell's run: created with its tags, computed (or its values taken from ``values_of``: a
    worker computing ahead), then params and metrics in one batch."""
    tracker, spec = sweep.tracker, sweep.spec
    params = cell_params(cell, spec)
    with contextlib.ExitStack() as stack:
        with interrupts_deferred():  # a signal now is raised once the run is in closing's hands
            run_id = tracker.start_run(
                cell.name,
                tags={**sweep.tags, ROLE_TAG: Role.CELL, CELL_KEY_TAG: cell_key(sweep.key, cell)},
                parent_run_id=parent,
            )
            stack.enter_context(tracker.closing(run_id))
        if config:
            tracker.log_text(run_id, config, "config.yaml")
        dataset = spec.dataset_of(cell)
        if dataset:  # the predictions file the cell evaluates
            tracker.log_dataset(run_id, dataset)
        vectors = k_cell_file(cell) if isinstance(cell, KCellSpec) else None
        if vectors is not None:  # a K-class cell's vectors too long for params
            tracker.log_text(run_id, vectors, K_CELL_FILE)
        values = (values_of or sweep.values_of)(cell)
        tracker.log(run_id, params=params, metrics=values)
    return {"run_id": run_id, **params, **values}


def cell_values(
    spec: SweepSpec, cell: SweepCell, model: ScoreModel, term_sums: TermSums | None
) -> dict[str, float]:
    """A cell's metrics: its exact values, or (sampled) a draw's with the exact ones beside them; a
    predictions file's cell with its bootstrap intervals when the sweep asks for them. A K-class
    cell: its K-class losses and metrics (:func:`k_cell_values`); one of K = 2 is its binary cell."""
    if isinstance(cell, KCellSpec):
        if cell.digest is not None:  # a K-class predictions file's cell
            return k_file_cell_values(spec, cell)
        multiclass = cell.multiclass_cell()
        if multiclass.classes == 2:  # the binary engine: the binary record, bit for bit
            return cell_values(spec, as_binary_cell(multiclass), model, term_sums)
        return k_cell_values(spec, cell)
    expected = expected_cell(
        cell, losses=spec.losses, alpha=spec.alpha, gamma=spec.gamma, model=model, settings=spec.metrics
    )
    if spec.mode == "sampled":
        assert term_sums is not None, "run_sweep makes the term sums of a sampled sweep"
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
    if spec.bootstrap_replicates and isinstance(model, EmpiricalModel):  # a predictions file's cell
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


def k_cell_values(spec: SweepSpec, cell: KCellSpec) -> dict[str, float]:
    """A K-class cell's exact values, or (sampled) its draw evaluated with the exact ones beside them:
    the sweep's K-class losses that apply to it (those of the training prior need every training count
    > 0) and every K-class metric, at the sweep's settings."""
    losses, metric_settings, loss_settings = k_cell_settings(spec, cell)
    multiclass = cell.multiclass_cell()
    expected = expected_of_cell(
        multiclass,
        losses=losses,
        top_k=metric_settings.top_k,
        ece_bins=metric_settings.ece_bins,
        many_above=metric_settings.many_above,
        few_below=metric_settings.few_below,
        **loss_settings,
    )
    if spec.mode != "sampled":
        return expected
    drawn = evaluate_multiclass_cell(
        multiclass,
        seed=spec.seed,
        losses=losses,
        chunk_size=spec.chunk_size,
        settings=metric_settings,
        **loss_settings,
    )
    return {**drawn, **beside_sampled(expected)}


def k_cell_settings(spec: SweepSpec, cell: KCellSpec) -> tuple[list[str], MulticlassSettings, dict[str, Any]]:
    """A K-class cell's losses (the sweep's that apply to it: those of the training prior need every
    training count > 0), its metrics' settings and its losses' settings."""
    settings = spec.multiclass
    assert settings is not None, "a K-class cell is a K-class sweep's"
    applicable = applicable_losses(cell.training_counts)
    losses = [name for name in spec.losses if name in applicable]
    metric_settings = settings.metric_settings(spec.metrics.ece_bins)
    loss_settings = {"alpha": spec.alpha, "gamma": spec.gamma, **settings.loss_settings()}
    return losses, metric_settings, loss_settings


def k_file_cell_values(spec: SweepSpec, cell: KCellSpec) -> dict[str, float]:
    """A K-class predictions file's cell (core/multiclass/file_model.py): the file's set re-weighted
    exactly to the cell's prior, or (sampled) the cell's counts resampled from the file's rows of
    each class and evaluated as a K-class cell's draw, the exact values beside them."""
    losses, metric_settings, loss_settings = k_cell_settings(spec, cell)
    model = spec.class_files[cell.model]
    expected = file_expected_values(
        model,
        cell.counts,
        losses=losses,
        training_counts=cell.training_counts,
        settings=metric_settings,
        **loss_settings,
    )
    if spec.mode != "sampled":
        return expected
    chunks = file_score_chunks(
        model, cell.counts, seed=spec.seed, replicate=cell.replicate, chunk_size=spec.chunk_size
    )
    drawn = evaluate_rows(
        chunks,
        classes=cell.classes,
        training_counts=cell.training_counts,
        losses=losses,
        ranked_rows=cell.size if cell.size * cell.classes <= RANKING_MAX_SCORES else 0,
        settings=metric_settings,
        **loss_settings,
    )
    return {**drawn, **beside_sampled(expected)}


@dataclass(frozen=True)
class OpenedSweep:
    """A sweep's parent run as this process took it up, and its shard's cells: those already
    FINISHED (their keys) and those to run."""

    run_id: str
    status: str  # the parent's status when found (RUNNING when created now)
    keys: Mapping[SweepCell, str]  # every cell's key, whatever the shard
    finished: set[str]
    todo: tuple[SweepCell, ...]
    launch: str | None  # the run `mlflow run` created, when it continues ``run_id``


def run_grid(sweep: SweepRun) -> SweepOutcome:
    """The shard's cells under one parent run (found or created), each its nested run; the parent
    FINISHED, with the sweep's table and report, by the process that sees every cell FINISHED."""
    tracker = sweep.tracker
    with contextlib.ExitStack() as stack:
        # From the parent's creation until closing holds it (and the launch run): a signal waits,
        # so that neither is left RUNNING.
        with interrupts_deferred():
            opened = open_parent(sweep)
            prepare_cells_view(tracker, sweep.spec, opened.run_id)
            if not opened.todo and opened.status == FINISHED:
                if opened.launch:
                    tracker.finish(opened.launch)
                # nothing left to do: a re-run of a finished sweep changes nothing
                return grid_outcome(sweep, opened, None, n_computed=0)
            worker_tag = join_parent(tracker, opened)
            if opened.launch:
                stack.enter_context(tracker.closing(opened.launch))
            closing: Closing = stack.enter_context(tracker.closing(opened.run_id))
        whole = opened.todo == sweep.spec.cells  # this process computes every cell: the worker may draw
        ahead = stack.enter_context(
            cells_ahead(sweep.spec, opened.todo, sweep.values_of, sweep.page if whole else None)
        )
        log_sweep_inputs(sweep, opened.run_id)
        rows = run_cells(sweep, opened, ahead)
        stored, closing.finish = read_back(sweep, opened, rows, worker_tag=worker_tag)
        table = None
        if closing.finish:
            table = write_table_and_report(sweep, opened, rows, stored, None if stored else ahead.prepared())
    return grid_outcome(sweep, opened, table, n_computed=len(opened.todo))


def grid_outcome(
    sweep: SweepRun, opened: OpenedSweep, table: list[Row] | None, *, n_computed: int
) -> SweepOutcome:
    return sweep_outcome(
        sweep,
        opened.run_id,
        Role.SWEEP,
        table,
        n_computed=n_computed,
        n_already=len(opened.finished),
        launch_run_id=opened.launch,
    )


def open_parent(sweep: SweepRun) -> OpenedSweep:
    """The sweep's parent (:func:`resume.open_sweep`) and which of the shard's cells it holds
    FINISHED; the run ``mlflow run`` created, when it continues an earlier parent, records so."""
    tracker, spec, existing_run_id = sweep.tracker, sweep.spec, sweep.existing_run_id
    sweep_run, sweep_status = resume.open_sweep(
        tracker, spec, sweep.tags, existing_run_id, sweep.parent_run_id, continue_earlier=not sweep.one_cell
    )
    keys = {cell: cell_key(sweep.key, cell) for cell in spec.cells}
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
        resume.record_launch(tracker, launch, spec, sweep.tags, sweep_run, done)
    return OpenedSweep(sweep_run, sweep_status, keys, finished, todo, launch)


def join_parent(tracker: Tracker, opened: OpenedSweep) -> str:
    """The parent marked RUNNING (this process is at work on it) and tagged with this process, so
    that another process at work on it knows to read the cells back; the tag's name."""
    if opened.status != RUNNING:
        tracker.reopen(opened.run_id)
    worker_tag = f"{WORKER_TAG_PREFIX}{uuid.uuid4().hex[:12]}"
    tracker.set_tags(opened.run_id, {worker_tag: f"{socket.gethostname()} pid {os.getpid()}"})
    return worker_tag


def log_sweep_inputs(sweep: SweepRun, sweep_run: str) -> None:
    """The parent's config.yaml, and the predictions files its cells evaluate as its datasets."""
    if sweep.config_text:
        sweep.tracker.log_text(sweep_run, sweep.config_text, "config.yaml")
    spec = sweep.spec
    datasets = [model.dataset for model in (spec.score_model, *spec.file_models.values())]
    datasets += [model.dataset for model in spec.class_files.values()]
    for dataset in datasets:
        if dataset:
            sweep.tracker.log_dataset(sweep_run, dataset)


def run_cells(sweep: SweepRun, opened: OpenedSweep, ahead: CellsAhead) -> dict[SweepCell, Row]:
    """Each cell still to do (its values from ``ahead``), its run nested under the parent; on Ctrl-C
    or SIGTERM, the interruption carries how far the sweep got (its ``progress``, for the line that
    reports it)."""
    spec = sweep.spec
    rows: dict[SweepCell, Row] = {}
    try:
        for cell in tqdm(opened.todo, desc=spec.name, unit="cell", disable=None):
            rows[cell] = run_cell(sweep, cell, parent=opened.run_id, values_of=ahead.values)
    except Interrupted as interrupted:
        done = len(opened.finished) + len(rows)
        interrupted.progress = f"{done} of {len(spec.shard_cells)} cells FINISHED in run {opened.run_id}"
        raise
    return rows


def read_back(
    sweep: SweepRun, opened: OpenedSweep, rows: Mapping[SweepCell, Row], *, worker_tag: str
) -> tuple[dict[str, StoredRun], bool]:
    """The cells FINISHED by others (other shards, earlier runs, or another process at work on the
    same sweep: a race), one run per cell key, the extra runs of a race deleted; and whether every
    cell of the sweep is now FINISHED (the last process to finish writes the table and report).
    A sweep that ran alone and ran every cell itself reads nothing back."""
    tracker, spec = sweep.tracker, sweep.spec
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
    sweep: SweepRun,
    opened: OpenedSweep,
    rows: Mapping[SweepCell, Row],
    stored: Mapping[str, StoredRun],
    prepared: PreparedPage | None = None,
) -> list[Row]:
    """The sweep's table (every cell, in the grid's order) as the parent's cells.csv, then its
    report and its answer on the parent's own page (``sweep.page``; ``prepared``: its figures and
    answer, made already from these rows); the table."""
    keys = opened.keys
    table = [
        stored_row(stored[keys[cell]], cell, sweep.spec) if keys[cell] in stored else rows[cell]
        for cell in sweep.spec.cells
    ]
    sweep.tracker.log_text(opened.run_id, csv_text(table), "cells.csv")
    sweep.page.show_sweep(sweep.tracker, sweep.spec, opened.run_id, table, prepared)
    return table


def stored_row(run: StoredRun, cell: SweepCell, spec: SweepSpec) -> Row:
    """The sweep table's row of a cell finished by an earlier run or another shard, read back."""
    return {"run_id": run.run_id, **cell_params(cell, spec), **run.metrics}
