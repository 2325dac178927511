"""The Hydra entry point: compose and validate the config, run the cells, hand results to MLflow."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .bootstrap import bootstrap_intervals
from .cli import exit_on_user_error, interrupts_deferred, run_job
from .config import SweepSpec, sweep_spec
from .evaluation import evaluate_cell
from .expectations import beside_sampled, expected_cell
from .grid import Cell
from .identity import cell_key, sweep_key
from .losses import make_terms
from .plan import dry_run_lines, size_line
from .report import csv_text, sweep_report
from .tracking import Tracker
from .where import cells_url, headline_table, is_server, summary_lines, sweeps_url

log = logging.getLogger(__name__)

SWEEP_TAG = "imbalance_sweep.sweep"
ROLE_TAG = "imbalance_sweep.role"
SWEEP_KEY_TAG = "imbalance_sweep.sweep_key"
CELL_KEY_TAG = "imbalance_sweep.cell_key"
SHARD_COUNT_TAG = "imbalance_sweep.shard_count"
# On a run `mlflow run` created that found its work already begun: the run that holds the cells.
CONTINUES_TAG = "imbalance_sweep.continues"
CONTINUED_BY_TAG = "imbalance_sweep.continued_by"  # on that run: the latest launch that continued it
MLFLOW_PARENT_TAG = "mlflow.parentRunId"
# On a sweep's parent, one per process that worked on it (host and pid): a process that finds
# another's tag reads the cells back at its end, and keeps one FINISHED run per cell.
WORKER_TAG_PREFIX = "imbalance_sweep.worker."
NOTE_TAG = "mlflow.note.content"  # a run's description in the MLflow UI
LAUNCH_ROLE = "launch"
# Sweeps up to this many cells end with a table of each cell's headline values.
TABLE_MAX_CELLS = 20


def cell_params(cell: Cell, spec: SweepSpec) -> dict[str, object]:
    """A cell run's params: what the cell is, and the settings its numbers depend on."""
    return {
        "num_0s": cell.num_0s,
        "num_1s": cell.num_1s,
        "acc_0s": cell.acc_0s,
        "acc_1s": cell.acc_1s,
        "prevalence": cell.prevalence,
        "seed": spec.seed,
        "replicate": cell.replicate,
        "backend": spec.backend,
        "mode": spec.mode,
        "losses": ",".join(spec.losses),
        "focal.alpha": spec.alpha,
        "focal.gamma": spec.gamma,
        "chunk_size": spec.chunk_size,
        **_bootstrap_params(spec),  # nothing unless asked for
        **spec.score_model.params(),  # nothing for the uniform model
        **_file_params(cell, spec),  # nothing for a model given by its accuracies
    }


def _bootstrap_params(spec: SweepSpec) -> dict[str, object]:
    if not spec.bootstrap_replicates:
        return {}
    return {"bootstrap.replicates": spec.bootstrap_replicates, "bootstrap.level": spec.bootstrap_level}


def _file_params(cell: Cell, spec: SweepSpec) -> dict[str, object]:
    """A predictions file's cell: the model's name and the file it evaluates."""
    if cell.model is None:
        return {}
    return {"model": cell.model, **spec.file_models[cell.model].file_params("model")}


def sweep_params(spec: SweepSpec) -> dict[str, object]:
    """The parent run's params: the grid's shape and the settings shared by all its cells."""
    grid = spec.grid
    params = {"grid": grid.get("name"), "n_cells": len(spec.cells)}
    for key in ("balances", "models", "acc_0s", "acc_1s", "seeds"):
        if grid.get(key) is not None:
            params[f"grid.{key}"] = str(grid[key]).replace(" ", "")
    common = cell_params(spec.cells[0], spec)
    for key in ("seed", "backend", "mode", "losses", "focal.alpha", "focal.gamma", "chunk_size"):
        params[key] = common[key]
    params.update(_bootstrap_params(spec))
    params.update(spec.score_model.params())
    return params


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
            parent = run["tags"].get(MLFLOW_PARENT_TAG)
            if run["status"] != "FINISHED" or (parent != parent_run_id and not existing_run_id):
                continue
            if existing_run_id:
                record_launch(tracker, existing_run_id, spec, sweep_tags, run, "the cell was computed before")
                tracker.finish(existing_run_id)
            found = stored_row(run, cell, spec)
            return outcome(
                run["run_id"], "cell", [found], n_computed=0, n_already=1, launch_run_id=existing_run_id
            )
    if one_cell and not existing_run_id:
        row = run_cell(spec.cells[0], parent=parent_run_id, existing=None, config=config_text)
        return outcome(row["run_id"], "cell", [row], n_computed=1, n_already=0)

    with contextlib.ExitStack() as stack:
        # From the parent's creation until closing holds it (and the launch run): a signal waits,
        # so that neither is left RUNNING.
        with interrupts_deferred():
            sweep_run, sweep_status = open_sweep(
                tracker, spec, sweep_tags, existing_run_id, parent_run_id, continue_earlier=not one_cell
            )
            keys = {cell: cell_key(key, cell) for cell in spec.cells}
            finished = finished_children(tracker, sweep_run, {keys[cell] for cell in spec.shard_cells})
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
                fail_stale_launches(tracker, sweep_run)
                found = {"run_id": sweep_run, "status": sweep_status}
                done = f"{len(finished)} of its {len(spec.shard_cells)} cells were already FINISHED"
                record_launch(tracker, launch, spec, sweep_tags, found, done)
            counts = {"n_computed": len(todo), "n_already": len(finished), "launch_run_id": launch}
            if not todo and sweep_status == "FINISHED":
                if launch:
                    tracker.finish(launch)
                # nothing left to do: a re-run of a finished sweep changes nothing
                return outcome(sweep_run, "sweep", None, **{**counts, "n_computed": 0})
            if sweep_status != "RUNNING":
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
                stored, extra = one_finished_per_cell(tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run}))
                for run in extra:
                    tracker.delete_run(run["run_id"])
                if extra:
                    log.info(
                        "sweep %r: %d cells were FINISHED more than once (another process ran them at the "
                        "same time); kept the earliest run of each, deleted the other %d",
                        spec.name,
                        len({run["tags"][CELL_KEY_TAG] for run in extra}),
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


def record_launch(
    tracker: Tracker, launch: str, spec: SweepSpec, sweep_tags: dict[str, str], found: dict, done: str
) -> None:
    """The run ``mlflow run`` created, when the work was begun by an earlier run ``found``: it says
    which run holds the cells (tag and description), and that run's description says who continued it."""
    holder, now = found["run_id"], datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tracker.start_run(
        f"{spec.name} (continues {holder[:8]})",
        tags={
            **sweep_tags,
            ROLE_TAG: LAUNCH_ROLE,
            CONTINUES_TAG: holder,
            NOTE_TAG: f"This `mlflow run` continued sweep {spec.name!r} in run {holder}: {done}. "
            f"Every cell of the sweep is in that run.",
        },
        existing_run_id=launch,
    )
    earlier = tracker.get_note(holder)
    tracker.set_tags(
        holder,
        {
            CONTINUED_BY_TAG: launch,
            NOTE_TAG: f"{earlier}\n\nContinued by run {launch} ({now}): {done}.".strip(),
        },
    )


def open_sweep(
    tracker: Tracker,
    spec: SweepSpec,
    sweep_tags: dict[str, str],
    existing_run_id: str | None,
    parent_run_id: str | None,
    *,
    continue_earlier: bool = True,
) -> tuple[str, str]:
    """The sweep's parent run and its status: the one an earlier run of this sweep key left (resume,
    ``continue_earlier``), else the adopted run, else a new one.

    Concurrent shards, and identical sweeps started together, create one parent between them. On a
    sqlite store the find-or-create runs under :meth:`Tracker.exclusive`. A server has no such lock,
    so a process that created a parent waits until every concurrent creation is visible, then all of
    them keep the same one (:func:`chosen_parent`) and the others delete theirs before logging
    anything into them.
    An adopted run (``mlflow run``'s) is a fresh sweep unless an earlier one of the same key exists.
    """
    role = {**sweep_tags, ROLE_TAG: "sweep"}
    # Found by the sweep key (hex), never by the name: a name may hold any character, the key only [0-9a-f].
    same_key = {SWEEP_KEY_TAG: sweep_tags[SWEEP_KEY_TAG], ROLE_TAG: "sweep"}

    def parents() -> list[dict]:
        return [
            run for run in tracker.find_runs(same_key) if run["tags"].get(MLFLOW_PARENT_TAG) == parent_run_id
        ]

    with tracker.exclusive():
        if spec.resume and continue_earlier:
            found = chosen_parent(parents())
            if found:
                return found["run_id"], found["status"]
        run_id = tracker.start_run(
            spec.name,
            params=sweep_params(spec),
            tags={
                **role,
                SHARD_COUNT_TAG: str(spec.shard_count),
                NOTE_TAG: f"Sweep {spec.name!r} of {len(spec.cells)} cells: each is a run nested under this one.",
            },
            parent_run_id=parent_run_id,
            existing_run_id=existing_run_id,
        )
    if not tracker.exclusive_is_locked and not existing_run_id:
        time.sleep(PARENT_SETTLE_SECONDS)
        chosen = chosen_parent(parents())
        if chosen["run_id"] != run_id:
            tracker.delete_run(run_id)
            return chosen["run_id"], chosen["status"]
    return run_id, "RUNNING"


# Longer than a find-then-create takes on a tracking server: every parent created by shards that
# found none is visible once this much time has passed after one's own creation.
PARENT_SETTLE_SECONDS = 2.0
# Parents of one sweep key that shards started this close together were created in a race (start
# times are the clients' clocks: this also covers their skew).
PARENT_RACE_SECONDS = 60.0


def chosen_parent(runs: list[dict]) -> dict | None:
    """The parent every shard agrees on, whoever looks and whenever: the newest parent, unless
    shards created it, in which case the smallest run id of the parents shards created within
    PARENT_RACE_SECONDS of it. (A fresh sweep, ``resume=false``, is never sharded.)"""
    if not runs:
        return None
    newest = max(runs, key=lambda run: (run["start_time"], run["run_id"]))
    if newest["tags"].get(SHARD_COUNT_TAG, "1") == "1":
        return newest
    racing = [
        run
        for run in runs
        if run["tags"].get(SHARD_COUNT_TAG, "1") != "1"
        and newest["start_time"] - run["start_time"] <= PARENT_RACE_SECONDS * 1000
    ]
    return min(racing, key=lambda run: run["run_id"])


def finished_children(tracker: Tracker, sweep_run: str, cell_keys: set[str]) -> set[str]:
    """The keys among ``cell_keys`` with a FINISHED child of ``sweep_run``. Children of those
    cells left RUNNING (their process died) are marked FAILED: they are stale, never to finish."""
    children = [
        run
        for run in tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run})
        if run["tags"].get(CELL_KEY_TAG) in cell_keys
    ]
    chosen, extra = one_finished_per_cell(children)
    if extra:
        log.info(
            "run %s: %d cells have more than one FINISHED run (processes that ran the same sweep at once); "
            "the earliest run of each counts",
            sweep_run,
            len({run["tags"][CELL_KEY_TAG] for run in extra}),
        )
    for run in children:
        if run["status"] == "RUNNING":
            tracker.finish(run["run_id"], "FAILED")
    return set(chosen)


def one_finished_per_cell(runs: list[dict]) -> tuple[dict[str, dict], list[dict]]:
    """Per cell key, the FINISHED run every process keeps when a race made several (the earliest
    started, then the smallest run id: the same choice whoever makes it), and the others."""
    chosen, extra = {}, []
    finished = [run for run in runs if run["status"] == "FINISHED" and CELL_KEY_TAG in run["tags"]]
    for run in sorted(finished, key=lambda run: (run["start_time"], run["run_id"])):
        key = run["tags"][CELL_KEY_TAG]
        if key in chosen:
            extra.append(run)
        else:
            chosen[key] = run
    return chosen, extra


def fail_stale_launches(tracker: Tracker, sweep_run: str) -> None:
    """Runs of earlier `mlflow run` launches that continued ``sweep_run`` and were left RUNNING (their
    processes were killed: nothing closed them) are marked FAILED, as stale cells are."""
    for run in tracker.find_runs({CONTINUES_TAG: sweep_run, ROLE_TAG: LAUNCH_ROLE}):
        if run["status"] == "RUNNING":
            tracker.finish(run["run_id"], "FAILED")


def stored_row(run: dict, cell: Cell, spec: SweepSpec) -> dict:
    """The sweep table's row of a cell finished by an earlier run or another shard, read back."""
    return {"run_id": run["run_id"], **cell_params(cell, spec), **run["metrics"]}


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


# An absolute path: found the same way under `python -m`, an editable install or a wheel.
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(config: DictConfig) -> None:
    """Run the configured sweep; a user's mistake ends with one line on stderr and exit code 2.
    Ctrl-C and SIGTERM close its runs KILLED, in a launcher's worker process too (joblib, Ray)."""
    run_job(lambda: _run_configured(config))


def _run_configured(config: DictConfig) -> None:
    with exit_on_user_error():
        spec = sweep_spec(OmegaConf.to_container(config, resolve=True))
        server = is_server(spec.tracking_uri)
        if spec.dry_run:
            print("\n".join(dry_run_lines(spec.name, spec.cells, spec.shard_cells, spec.mode, server=server)))
            return
        log.info(size_line(spec.name, spec.cells, spec.shard_cells, spec.mode, server=server))
        # Under `mlflow run`, its run is this sweep's top run; in a Hydra multirun each job's
        # sweep nests under it instead.
        launched_run = os.environ.get("MLFLOW_RUN_ID") or None
        nested = _is_multirun()
        outcome = execute_sweep(
            spec,
            config_text=OmegaConf.to_yaml(config, resolve=True),
            existing_run_id=None if nested else launched_run,
            parent_run_id=launched_run if nested else None,
        )
        print("\n".join(closing_lines(spec, outcome)), flush=True)


def closing_lines(spec: SweepSpec, outcome: SweepOutcome) -> list[str]:
    """What a sweep prints at its end: what ran, where it is, how to look, and (for a small sweep)
    each cell's headline values."""
    uri, experiment = spec.tracking_uri, outcome.experiment_id
    if outcome.role == "cell":
        what = f"cell of sweep {outcome.name!r}"
        done = "computed" if outcome.n_computed else "already FINISHED, not computed again"
        lines = [f"{outcome.name}: 1 cell, {done}"]
        links = {}
    else:
        cells = f"{outcome.n_cells} cell{'s' if outcome.n_cells != 1 else ''}"
        what = f"sweep {outcome.name!r}, {cells}"
        lines = [
            f"{outcome.name}: {cells}; {outcome.n_computed} computed now, "
            f"{outcome.n_already} already FINISHED"
        ]
        links = {"cells": cells_url(uri, experiment, outcome.run_id), "sweeps": sweeps_url(uri, experiment)}
    if outcome.launch_run_id and outcome.launch_run_id != outcome.run_id:
        lines.append(
            f"this mlflow run ({outcome.launch_run_id}) continued run {outcome.run_id}, which holds the cells"
        )
    lines += summary_lines(
        uri,
        experiment_name=outcome.experiment_name,
        experiment_id=experiment,
        run_id=outcome.run_id,
        what=what,
        links=links,
    )
    if outcome.rows and len(outcome.rows) <= TABLE_MAX_CELLS:
        named = any(row.get("model") for row in outcome.rows)
        columns = [*(["model"] if named else []), "num_0s", "num_1s", "acc_0s", "acc_1s"]
        columns += [f"loss/{name}" for name in spec.losses[:2]] + ["recall", "f1"]
        lines += ["", headline_table(outcome.rows, columns)]
    return lines
