"""The Hydra entry point: compose and validate the config, run the cells, hand results to MLflow."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .bootstrap import bootstrap_intervals
from .cli import exit_on_user_error
from .config import SweepSpec, sweep_spec
from .evaluation import evaluate_cell
from .expectations import beside_sampled, expected_cell
from .grid import Cell
from .identity import cell_key, sweep_key
from .losses import make_terms
from .report import csv_text, sweep_report
from .tracking import Tracker

log = logging.getLogger(__name__)

SWEEP_TAG = "imbalance_sweep.sweep"
ROLE_TAG = "imbalance_sweep.role"
SWEEP_KEY_TAG = "imbalance_sweep.sweep_key"
CELL_KEY_TAG = "imbalance_sweep.cell_key"
SHARD_COUNT_TAG = "imbalance_sweep.shard_count"
MLFLOW_PARENT_TAG = "mlflow.parentRunId"


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


def run_sweep(
    spec: SweepSpec,
    *,
    config_text: str = "",
    existing_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> str:
    """Run every cell of ``spec`` (of its shard) and log it; return the id of the top run.

    One cell logs into one run; several cells (or any shard of a sharded sweep) log a parent run
    with a nested child per cell. ``existing_run_id`` (the run ``mlflow run`` created) becomes that
    top run. With ``spec.resume`` the sweep continues its most recent parent of the same sweep key
    (see identity.py): FINISHED cells are skipped, the others run again. A run is marked FINISHED
    only when its work completed; on any error or Ctrl-C it is FAILED or KILLED.
    """
    sampled = spec.mode == "sampled"
    term_sums = make_terms(spec.backend, spec.losses, alpha=spec.alpha, gamma=spec.gamma) if sampled else None
    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id or parent_run_id)
    key = sweep_key(spec)
    sweep_tags = {SWEEP_TAG: spec.name, SWEEP_KEY_TAG: key}

    def run_cell(cell: Cell, *, parent: str | None, existing: str | None, config: str = "") -> dict:
        """One cell's run: created with its tags, computed, then params and metrics in one batch."""
        params = cell_params(cell, spec)
        run_id = tracker.start_run(
            cell.name,
            tags={**sweep_tags, ROLE_TAG: "cell", CELL_KEY_TAG: cell_key(key, cell)},
            parent_run_id=parent,
            existing_run_id=existing,
        )
        with tracker.closing(run_id):
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

    if len(spec.cells) == 1 and spec.shard_count == 1:
        cell = spec.cells[0]
        if spec.resume and not existing_run_id:
            for run in tracker.find_runs({CELL_KEY_TAG: cell_key(key, cell), ROLE_TAG: "cell"}):
                if run["status"] == "FINISHED" and run["tags"].get(MLFLOW_PARENT_TAG) == parent_run_id:
                    return run["run_id"]
        row = run_cell(cell, parent=parent_run_id, existing=existing_run_id, config=config_text)
        return row["run_id"]

    sweep_run, sweep_status = open_sweep(tracker, spec, sweep_tags, existing_run_id, parent_run_id)
    keys = {cell: cell_key(key, cell) for cell in spec.cells}
    finished = finished_children(tracker, sweep_run, {keys[cell] for cell in spec.shard_cells})
    todo = [cell for cell in spec.shard_cells if keys[cell] not in finished]
    if finished:
        log.info(
            "sweep %r continues run %s: %d of its %d cells already FINISHED (resume=false for a fresh sweep)",
            spec.name,
            sweep_run,
            len(finished),
            len(spec.shard_cells),
        )
    if not todo and sweep_status == "FINISHED":
        return sweep_run  # nothing left to do: a re-run of a finished sweep changes nothing
    if sweep_status != "RUNNING":
        tracker.reopen(sweep_run)
    with tracker.closing(sweep_run) as closing:
        if config_text:
            tracker.log_text(sweep_run, config_text, "config.yaml")
        for model in (spec.score_model, *spec.file_models.values()):
            if model.dataset:
                tracker.log_dataset(sweep_run, model.dataset)
        cells = tqdm(todo, desc=spec.name, unit="cell", disable=None)
        rows = {cell: run_cell(cell, parent=sweep_run, existing=None) for cell in cells}
        stored = {}
        if any(cell not in rows for cell in spec.cells):  # other shards' cells, or earlier runs'
            with tracker.exclusive():
                # The last shard to finish sees every cell FINISHED: it writes the table and report.
                stored = {
                    run["tags"][CELL_KEY_TAG]: run
                    for run in tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run})
                    if run["status"] == "FINISHED" and CELL_KEY_TAG in run["tags"]
                }
                closing.finish = all(cell in rows or keys[cell] in stored for cell in spec.cells)
        if closing.finish:
            table = [rows.get(cell) or stored_row(stored[keys[cell]], cell, spec) for cell in spec.cells]
            tracker.log_text(sweep_run, csv_text(table), "cells.csv")
            if spec.report:
                tables, figures = sweep_report(table, losses=spec.losses)
                for path, columns in tables.items():
                    tracker.log_table(sweep_run, columns, path)
                for path, figure in figures.items():
                    tracker.log_figure(sweep_run, figure, path)
    return sweep_run


def open_sweep(
    tracker: Tracker,
    spec: SweepSpec,
    sweep_tags: dict[str, str],
    existing_run_id: str | None,
    parent_run_id: str | None,
) -> tuple[str, str]:
    """The sweep's parent run and its status: the adopted run, the one an earlier run of this
    sweep key left (resume), or a new one.

    Concurrent shards create one parent between them. On a sqlite store the find-or-create runs
    under :meth:`Tracker.exclusive`. A server has no such lock, so a shard that created a parent
    waits until every concurrent creation is visible, then all of them keep the same one
    (:func:`chosen_parent`) and the others delete theirs before logging anything into them.
    An adopted run (``mlflow run``'s) is always a fresh sweep.
    """
    role = {**sweep_tags, ROLE_TAG: "sweep"}

    def parents() -> list[dict]:
        return [run for run in tracker.find_runs(role) if run["tags"].get(MLFLOW_PARENT_TAG) == parent_run_id]

    with tracker.exclusive():
        if spec.resume and not existing_run_id:
            found = chosen_parent(parents())
            if found:
                return found["run_id"], found["status"]
        run_id = tracker.start_run(
            spec.name,
            params=sweep_params(spec),
            tags={**role, SHARD_COUNT_TAG: str(spec.shard_count)},
            parent_run_id=parent_run_id,
            existing_run_id=existing_run_id,
        )
    if spec.shard_count > 1 and not tracker.exclusive_is_locked:
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
    finished, stale = set(), []
    for run in tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run}):
        cell = run["tags"].get(CELL_KEY_TAG)
        if cell not in cell_keys:
            continue
        if run["status"] == "FINISHED":
            finished.add(cell)
        elif run["status"] == "RUNNING":
            stale.append(run["run_id"])
    for run_id in stale:
        tracker.finish(run_id, "FAILED")
    return finished


def stored_row(run: dict, cell: Cell, spec: SweepSpec) -> dict:
    """The sweep table's row of a cell finished by an earlier run or another shard, read back."""
    return {"run_id": run["run_id"], **cell_params(cell, spec), **run["metrics"]}


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


# An absolute path: found the same way under `python -m`, an editable install or a wheel.
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(config: DictConfig) -> None:
    """Run the configured sweep; a user's mistake ends with one line on stderr and exit code 2."""
    with exit_on_user_error():
        spec = sweep_spec(OmegaConf.to_container(config, resolve=True))
        # Under `mlflow run`, its run is this sweep's top run; in a Hydra multirun each job's
        # sweep nests under it instead.
        launched_run = os.environ.get("MLFLOW_RUN_ID") or None
        nested = _is_multirun()
        run_sweep(
            spec,
            config_text=OmegaConf.to_yaml(config, resolve=True),
            existing_run_id=None if nested else launched_run,
            parent_run_id=launched_run if nested else None,
        )
