"""End to end through the real ``mlflow run`` CLI: MLproject, conda.yaml and what lands in the store.

Each test launches ``mlflow run .`` from the project root against a throw-away sqlite store
(``MLFLOW_TRACKING_URI`` in the child's environment) whose experiment keeps its artifacts in the
test's tmp_path, then reads back what MLflow stored and compares it with the in-process API.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import EXPERIMENT, child_env, launched_run_ids, mlflow_run, params, stored_runs
from mlflow import MlflowClient
from mlflow.entities import Run

import imbalance_sweep
from imbalance_sweep.analysis.preference import Model, preferences
from imbalance_sweep.core.expectations import beside_sampled
from imbalance_sweep.tracking.tags import CONTINUES_TAG, NOTE_TAG, REFUSED_TAG, ROLE_TAG, SWEEP_TAG, Role

PARENT_TAG = "mlflow.parentRunId"

MAIN_CELL = {"num_0s": 2000, "acc_0s": 0.9, "num_1s": 50, "acc_1s": 0.6}
MAIN_PARAMS = [f"{key}={value}" for key, value in MAIN_CELL.items()] + ["losses=bce,brier"]
MAIN_LOSSES = ["bce", "brier"]


@pytest.fixture
def store(tracking_uri, tmp_path) -> str:
    """A fresh sqlite store with one experiment whose artifacts live in tmp_path, not ./mlruns."""
    MlflowClient(tracking_uri=tracking_uri).create_experiment(
        EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri()
    )
    return tracking_uri


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )


def expected_metrics(num_0s, acc_0s, num_1s, acc_1s, *, seed: int, losses: list[str]) -> dict[str, float]:
    """What the public in-process API gives for one cell: drawn values, expectations beside them."""
    y_true, y_pred = imbalance_sweep.simulate(num_0s, acc_0s, num_1s, acc_1s, seed=seed)
    drawn = imbalance_sweep.evaluate(y_true, y_pred, losses=losses)
    exact = imbalance_sweep.expected(num_0s, acc_0s, num_1s, acc_1s, losses=losses)
    return {**drawn, **beside_sampled(exact)}


def assert_main_cell_run(run: Run) -> None:
    """The MAIN_CELL run: FINISHED, its params, and metrics equal to the in-process API's, bit for bit."""
    assert run.info.status == "FINISHED"
    assert {key: run.data.params.get(key) for key in ("num_0s", "num_1s", "seed")} == {
        "num_0s": "2000",
        "num_1s": "50",
        "seed": "0",
    }
    metrics = run.data.metrics
    assert {"loss/bce", "loss/brier", "tp", "fp", "tn", "fn", "f1"} <= set(metrics)
    assert metrics["tp"] + metrics["fn"] == 50
    assert metrics["tn"] + metrics["fp"] == 2000
    # Exact equality: sqlite stores the float64 the app logged, and the app computes what evaluate does.
    assert metrics == expected_metrics(**MAIN_CELL, seed=0, losses=MAIN_LOSSES)


def cells_and_launches(runs: list[Run]) -> tuple[list[Run], list[Run]]:
    """The cell runs, and the runs `mlflow run` created, of a store."""
    cells = [run for run in runs if run.data.tags.get(ROLE_TAG) == Role.CELL]
    return cells, [run for run in runs if "mlflow.project.entryPoint" in run.data.tags]


@pytest.mark.slow
def test_main_entry_point_nests_one_canonical_cell_equal_to_the_api(store, tmp_path):
    """`mlflow run .` with values spelled as people type them (`2e3`, `.9`, `bce, brier`): the
    launched run keeps MLflow's record of what was typed and holds one cell run whose params are
    canonical, so MLflow's search, `compare` and resume find it like the same cell run by
    `python -m imbalance_sweep`; the launched run, the one `mlflow run` reports, shows the cell's
    metrics and its other params too; the same command again computes nothing, says where the cell
    is, and its launched run shows the cell's metrics as well."""
    typed = ["num_0s=2e3", "acc_0s=.9", "num_1s=50", "acc_1s=0.6", "losses=bce, brier"]
    result = mlflow_run(store, "--env-manager", "local", *params(*typed))
    assert_succeeded(result)
    assert "Creating initial MLflow database tables" not in result.stdout
    (cell,), (launched,) = cells_and_launches(stored_runs(store))
    assert launched.info.status == "FINISHED" and launched.data.params["num_0s"] == "2e3"
    assert cell.data.tags[PARENT_TAG] == launched.info.run_id
    assert_main_cell_run(cell)
    assert launched.data.metrics == cell.data.metrics  # what a person sent to the launched run sees
    assert launched.data.params["prevalence"] == cell.data.params["prevalence"]
    assert "recall" in launched.data.tags[NOTE_TAG]
    client = MlflowClient(tracking_uri=store)
    experiment_id = cell.info.experiment_id
    found = client.search_runs([experiment_id], "params.num_0s = '2000' and params.acc_0s = '0.9'")
    assert [run.info.run_id for run in found] == [cell.info.run_id]
    # Where the results are: the printed lines name the store file and the run holding the cell.
    printed = result.stdout.splitlines()
    assert f"store:      {store.removeprefix('sqlite:///')}" in printed
    assert f"run:        {launched.info.run_id} (sweep 'single', 1 cell)" in printed

    # The same cell from `python -m imbalance_sweep` (a run of its own) equals it metric for metric.
    module = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep", "grid=single", "grid.balances=[[2000,50]]",
         "grid.models=[[0.9,0.6]]", "losses=[bce,brier]", f"experiment={EXPERIMENT}", f"tracking_uri={store}"],
        cwd=tmp_path, env=child_env(store), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert module.returncode == 0, module.stderr
    found = client.search_runs([experiment_id], "params.num_0s = '2000' and params.acc_0s = '0.9'")
    assert len(found) == 2 and found[0].data.metrics == found[1].data.metrics
    compared = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep.compare", launched.info.run_id, found[0].info.run_id],
        cwd=tmp_path, env=child_env(store), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    assert "no metric differs on the cells in common" in compared.stdout

    # The same `mlflow run` again: nothing computed, its run points at the cell's.
    again = mlflow_run(store, "--env-manager", "local", *params(*typed))
    assert_succeeded(again)
    cells, launches = cells_and_launches(stored_runs(store))
    assert len(cells) == 2 and len(launches) == 2
    (second,) = [run for run in launches if run.info.run_id != launched.info.run_id]
    assert second.data.tags[CONTINUES_TAG] in {run.info.run_id for run in cells}
    assert second.data.tags[ROLE_TAG] == Role.LAUNCH and second.info.status == "FINISHED"
    assert second.data.metrics == cell.data.metrics
    assert "already FINISHED, not computed again" in again.stdout


@pytest.mark.slow
def test_sweep_entry_point_nests_cells_under_the_launched_run(store, tmp_path):
    """`-e sweep` makes mlflow's run the parent, with config.yaml, cells.csv and one child per cell."""
    overrides = "seed=1 losses=[bce] grid.balances=[[3000,30],[500,500]]"
    sweep_params = params("grid=seed_blog", f"overrides={overrides}")
    result = mlflow_run(store, "-e", "sweep", "--env-manager", "local", *sweep_params)
    assert_succeeded(result)

    runs = stored_runs(store)
    parents = [run for run in runs if PARENT_TAG not in run.data.tags]
    assert [run.info.run_id for run in parents] == launched_run_ids(runs, "sweep")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[SWEEP_TAG] == "seed_blog"
    assert parent.data.params["n_cells"] == "4"

    client = MlflowClient(tracking_uri=store)
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"config.yaml", "cells.csv"}
    table = Path(client.download_artifacts(parent.info.run_id, "cells.csv", str(tmp_path)))
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert len(rows) == 4
    config = Path(client.download_artifacts(parent.info.run_id, "config.yaml", str(tmp_path)))
    assert "seed: 1" in config.read_text().splitlines()

    children = [run for run in runs if run.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert len(children) == 4 and len(runs) == 5
    assert {row["run_id"] for row in rows} == {child.info.run_id for child in children}
    seed_blog_models = {(0.999, 0.5), (0.98, 0.9)}
    cells = set()
    for child in children:
        assert child.info.status == "FINISHED"
        p = child.data.params
        cell = (int(p["num_0s"]), float(p["acc_0s"]), int(p["num_1s"]), float(p["acc_1s"]))
        cells.add(cell)
        assert p["seed"] == "1"
        assert child.data.metrics["loss/bce"] == expected_metrics(*cell, seed=1, losses=["bce"])["loss/bce"]
    assert cells == {(n0, a0, n1, a1) for n0, n1 in [(3000, 30), (500, 500)] for a0, a1 in seed_blog_models}


@pytest.mark.slow
def test_flip_entry_point_logs_the_flip_points(store):
    """`-e flip` with two models and overrides: the launched run holds flip/<name> as computed in-process."""
    result = mlflow_run(
        store,
        "-e",
        "flip",
        "--env-manager",
        "local",
        *params("model_a=0.99,0.6", "model_b=0.95,0.8", "overrides=losses=[bce,balanced_bce] metrics=[f1]"),
    )
    assert_succeeded(result)
    (run,) = stored_runs(store)
    assert run.info.status == "FINISHED" and launched_run_ids([run], "flip") == [run.info.run_id]
    found = preferences(
        Model(0.99, 0.6),
        Model(0.95, 0.8),
        losses=["bce", "balanced_bce"],
        metrics=["f1"],
        alpha=0.25,
        gamma=2.0,
    )
    expected = {f"flip/{p.key}": p.flips[0] for p in found if p.flips}
    assert run.data.metrics == expected and "flip/loss/bce" in expected


@pytest.mark.slow
def test_invalid_parameter_fails_with_one_line_and_no_finished_run(store):
    """`-P acc_1s=1.5`: non-zero exit, the app's one-line error, no traceback, nothing FINISHED."""
    result = mlflow_run(store, "--env-manager", "local", *params("acc_1s=1.5"))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "acc_1s=1.5 is outside [0, 1]" in line]
    assert len(errors) == 1 and errors[0].startswith("imbalance-sweep: error: "), result.stderr
    assert "Traceback (most recent call last)" not in result.stdout + result.stderr

    runs = stored_runs(store)
    assert runs, "mlflow run should have created (and failed) its run"
    assert all(run.info.status != "FINISHED" for run in runs)

    unknown = mlflow_run(store, "--env-manager", "local", *params("acc0=0.9"))
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert [line for line in unknown.stderr.splitlines() if "imbalance-sweep" in line] == [
        "imbalance-sweep: error: -P acc0: entry point 'main' has no such parameter; its parameters are: "
        "num_0s, num_1s, acc_0s, acc_1s, seed, losses, backend"
    ]
    runs = stored_runs(store)
    assert all(run.info.status != "FINISHED" for run in runs)
    # each refused launch is FAILED and says why: its tag and its description hold the one line
    lines = [
        line
        for line in result.stderr.splitlines() + unknown.stderr.splitlines()
        if "imbalance-sweep:" in line
    ]
    assert sorted((run.info.status, run.data.tags[REFUSED_TAG]) for run in runs) == sorted(
        ("FAILED", line) for line in lines
    )
    assert all(run.data.tags[NOTE_TAG].endswith(run.data.tags[REFUSED_TAG]) for run in runs)
    # after the line, only MLflow's own closing line: `mlflow run` prints it once the command has ended
    *_, line, closing = unknown.stderr.splitlines()
    assert line == lines[-1] and closing.endswith(
        "ERROR mlflow.cli: === Run (ID '" + closing.split("'")[1] + "') failed ==="
    )


@pytest.mark.slow
def test_uv_environment_from_conda_yaml_runs_the_main_entry_point(store):
    """`--env-manager uv` builds a venv from conda.yaml's pip list alone, and the run still matches the API.

    MLflow caches that venv under $MLFLOW_ENV_ROOT (default ~/.mlflow/envs), keyed by conda.yaml's
    python and pip list: cold, uv downloads the pins from the package index.
    """
    assert shutil.which("uv", path=child_env(store)["PATH"]), "uv is not installed: pip install -e '.[test]'"
    result = mlflow_run(store, "--env-manager", "uv", *params(*MAIN_PARAMS), timeout=1800)
    assert_succeeded(result)

    (cell,), (launched,) = cells_and_launches(stored_runs(store))
    assert launched.data.tags.get("mlflow.project.env") == "uv"
    assert_main_cell_run(cell)
