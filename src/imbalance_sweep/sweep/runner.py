"""The sweep loop: every cell of a spec (of its shard) computed and logged as its own run, under
one parent run, with resume (see resume.py) and the sweep's table and report at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from tqdm import tqdm

from ..analysis.report import csv_text, sweep_report
from ..cli import interrupts_deferred
from ..core.bootstrap import bootstrap_intervals
from ..core.cell import Cell
from ..core.evaluation import evaluate_cell
from ..core.expectations import beside_sampled, expected_cell
from ..core.losses import make_terms
from ..tracking.client import Tracker
from ..tracking.runs import FINISHED, RUNNING, StoredRun
from ..tracking.tags import (
    CELL_KEY_TAG,
    MLFLOW_PARENT_TAG,
    ROLE_TAG,
    SWEEP_KEY_TAG,
    SWEEP_TAG,
    WORKER_TAG_PREFIX,
)
from . import resume
from .config import SweepSpec
from .identity import cell_key, sweep_key
from .params import cell_params

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    """What a sweep did, for the lines that end the command: the run that holds its cells, and counts."""

    run_id: str
    experiment_id: str
    experiment_name: str
    name: str
    role: str  # "sweep": a parent with a child per cell; "cell": the run is the one cell
    n_cells: int
    n_computed: int
    n_already: int
    rows: list[dict] | None  # every cell's row, when the sweep is complete
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
    sampled = spec.mode == "sampled"
    term_sums = make_terms(spec.backend, spec.losses, alpha=spec.alpha, gamma=spec.gamma) if sampled else None
    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id or parent_run_id)
    key = sweep_key(spec)
    sweep_tags = {SWEEP_TAG: spec.name, SWEEP_KEY_TAG: key}

    def outcome(run_id: str, role: str, rows: list[dict] | None, **counts) -> SweepOutcome:
        return SweepOutcome(
            run_id,
            tracker.experiment_id,
            tracker.experiment_name,
            spec.name,
            role,
            len(spec.cells),
            rows=rows,
            **counts,
        )

    def run_cell(cell: Cell, *, parent: str | None, existing: str | None, config: str = "") -> dict:
        """One cell's run: created with its tags, computed, then params and metrics in one batch."""
        params = cell_params(cell, spec)
        with contextlib.ExitStack() as stack:
            with interrupts_deferred():  # a signal now is raised once the run is in closing's hands
                run_id = tracker.start_run(
                    cell.name,
                    tags={**sweep_tags, ROLE_TAG: "cell", CELL_KEY_TAG: cell_key(key, cell)},
                    parent_run_id=parent,
                    existing_run_id=existing,
                )
                stack.enter_context(tracker.closing(run_id))
            if config:
                tracker.log_text(run_id, config, "config.yaml")
            model = spec.model_of(cell)
            if model.dataset:  # the predictions file the cell evaluates
                tracker.log_dataset(run_id, model.dataset)
            expected = expected_cell(
                cell, losses=spec.losses, alpha=spec.alpha, gamma=spec.gamma, model=model
            )
            if sampled:
                drawn = evaluate_cell(
                    cell,
                    seed=spec.seed,
                    losses=spec.losses,
                    term_sums=term_sums,
                    chunk_size=spec.chunk_size,
                    model=model,
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
                    )
                )
            tracker.log(run_id, params=params, metrics=values)
        return {"run_id": run_id, **params, **values}

    one_cell = len(spec.cells) == 1 and spec.shard_count == 1
    if one_cell and spec.resume:
        # A cell computed before (by `python -m`, or under an earlier `mlflow run`) is not computed again.
        cell = spec.cells[0]
        for run in tracker.find_runs({CELL_KEY_TAG: cell_key(key, cell), ROLE_TAG: "cell"}):
            parent = run.tags.get(MLFLOW_PARENT_TAG)
            if run.status != FINISHED or (parent != parent_run_id and not existing_run_id):
                continue
            if existing_run_id:
                resume.record_launch(
                    tracker, existing_run_id, spec, sweep_tags, run.run_id, "the cell was computed before"
                )
                tracker.finish(existing_run_id)
            found = stored_row(run, cell, spec)
            return outcome(
                run.run_id, "cell", [found], n_computed=0, n_already=1, launch_run_id=existing_run_id
            )
    if one_cell and not existing_run_id:
        row = run_cell(spec.cells[0], parent=parent_run_id, existing=None, config=config_text)
        return outcome(row["run_id"], "cell", [row], n_computed=1, n_already=0)

    with contextlib.ExitStack() as stack:
        # From the parent's creation until closing holds it (and the launch run): a signal waits,
        # so that neither is left RUNNING.
        with interrupts_deferred():
            sweep_run, sweep_status = resume.open_sweep(
                tracker, spec, sweep_tags, existing_run_id, parent_run_id, continue_earlier=not one_cell
            )
            keys = {cell: cell_key(key, cell) for cell in spec.cells}
            finished = resume.finished_children(tracker, sweep_run, {keys[cell] for cell in spec.shard_cells})
            todo = [cell for cell in spec.shard_cells if keys[cell] not in finished]
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
            counts = {"n_computed": len(todo), "n_already": len(finished), "launch_run_id": launch}
            if not todo and sweep_status == FINISHED:
                if launch:
                    tracker.finish(launch)
                # nothing left to do: a re-run of a finished sweep changes nothing
                return outcome(sweep_run, "sweep", None, **{**counts, "n_computed": 0})
            if sweep_status != RUNNING:
                tracker.reopen(sweep_run)
            worker_tag = f"{WORKER_TAG_PREFIX}{uuid.uuid4().hex[:12]}"
            tracker.set_tags(sweep_run, {worker_tag: f"{socket.gethostname()} pid {os.getpid()}"})
            if launch:
                stack.enter_context(tracker.closing(launch))
            closing = stack.enter_context(tracker.closing(sweep_run))
        if config_text:
            tracker.log_text(sweep_run, config_text, "config.yaml")
        for model in (spec.score_model, *spec.file_models.values()):
            if model.dataset:
                tracker.log_dataset(sweep_run, model.dataset)
        rows = {}
        try:
            for cell in tqdm(todo, desc=spec.name, unit="cell", disable=None):
                rows[cell] = run_cell(cell, parent=sweep_run, existing=None)
        except KeyboardInterrupt as interrupted:
            interrupted.progress = (
                f"{len(finished) + len(rows)} of {len(spec.shard_cells)} cells FINISHED in run {sweep_run}"
            )
            raise
        stored = {}
        others = [
            tag
            for tag in tracker.run_tags(sweep_run)
            if tag.startswith(WORKER_TAG_PREFIX) and tag != worker_tag
        ]
        # Other shards' cells, earlier runs', or another process at work on the same sweep (a race):
        # read the cells back. A sweep that ran alone and ran every cell itself need not.
        if others or any(cell not in rows for cell in spec.cells):
            with tracker.exclusive():
                # The last process to finish sees every cell FINISHED: it writes the table and report.
                stored, extra = resume.one_finished_per_cell(
                    tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run})
                )
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
                closing.finish = all(cell in rows or keys[cell] in stored for cell in spec.cells)
        table = None
        if closing.finish:
            table = [
                stored_row(stored[keys[cell]], cell, spec) if keys[cell] in stored else rows[cell]
                for cell in spec.cells
            ]
            tracker.log_text(sweep_run, csv_text(table), "cells.csv")
            if spec.report:
                tables, figures = sweep_report(table, losses=spec.losses)
                for path, columns in tables.items():
                    tracker.log_table(sweep_run, columns, path)
                for path, figure in figures.items():
                    tracker.log_figure(sweep_run, figure, path)
    return outcome(sweep_run, "sweep", table, **counts)


def stored_row(run: StoredRun, cell: Cell, spec: SweepSpec) -> dict:
    """The sweep table's row of a cell finished by an earlier run or another shard, read back."""
    return {"run_id": run.run_id, **cell_params(cell, spec), **run.metrics}
