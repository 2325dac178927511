"""Plain helpers the test modules share (fixtures and hooks live in conftest.py).

Test modules import from here, never from conftest.py or from another test module."""

from __future__ import annotations

import concurrent.futures
import math
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient

from imbalance_sweep.app import run_sweep
from imbalance_sweep.sweep import resume, runner
from imbalance_sweep.tracking.tags import CELL_KEY_TAG, ROLE_TAG, Role

ROOT = Path(__file__).resolve().parents[1]


# --- environments of child processes ---------------------------------------------------------------


def environment_without_mlflow_launch() -> dict[str, str]:
    """This process's environment without MLflow's variables, so no child adopts a run by accident."""
    return {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}


# --- reading a store back ---------------------------------------------------------------------------


def run_example(example: Path, folder: Path, tracking_uri: str) -> list[str]:
    """Run an example script as a person does (``python examples/<name>.py --out preds
    --tracking-uri ...``) in ``folder``; the lines it printed. Fails on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, str(example), "--out", "preds", "--tracking-uri", tracking_uri],
        cwd=folder,
        env=environment_without_mlflow_launch(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def runs_by_role(tracking_uri, experiment="imbalance-sweep"):
    """The experiment's runs, as {Role.SWEEP: [...], Role.CELL: [...]} (MLflow's Run objects)."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=10_000)
    return {role: [r for r in runs if r.data.tags[ROLE_TAG] == role] for role in (Role.SWEEP, Role.CELL)}


def finished_run_per_cell(cell_runs):
    """cell key -> its FINISHED run; fails on a cell FINISHED twice."""
    found = {}
    for run in cell_runs:
        if run.info.status == "FINISHED":
            key = run.data.tags[CELL_KEY_TAG]
            assert key not in found, f"{run.info.run_name} FINISHED twice"
            found[key] = run
    return found


def one_finished_run_per_cell(runs):
    """cell key -> metrics of its FINISHED run; fails on a cell FINISHED twice."""
    return {key: run.data.metrics for key, run in finished_run_per_cell(runs[Role.CELL]).items()}


def cells_in(database, status):
    """Cell runs with ``status``, read straight from the sqlite file (as a watcher would)."""
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        try:
            (count,) = connection.execute(
                "SELECT count(*) FROM runs JOIN tags ON runs.run_uuid = tags.run_uuid"
                " WHERE tags.key = ? AND tags.value = ? AND runs.status = ?",
                (ROLE_TAG, str(Role.CELL), status),
            ).fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return 0
    return count


# --- forcing failures and races in this process -----------------------------------------------------


def fail_on_call(monkeypatch, number, error=None):
    """Make the ``number``-th cell of this process raise ``error`` (a RuntimeError by default)."""
    real, calls = runner.evaluate_cell, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise error or RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_cell", failing)


def race(monkeypatch, specs, *, at):
    """Run ``specs`` in threads at once, none past ``resume.<at>`` until all have reached it."""
    everyone_there = threading.Barrier(len(specs), timeout=60)
    real = getattr(resume, at)

    def after_everyone(*args, **kwargs):
        everyone_there.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(resume, at, after_everyone)
    with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:
        return list(pool.map(run_sweep, specs))


# --- `mlflow run .` from the project root -----------------------------------------------------------

EXPERIMENT = "mlproject-e2e"
# Variables that would point the launched run somewhere else, or let it import code that the
# environment built from conda.yaml does not hold.
DROPPED_ENV = (
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_TRACKING_URI",
    "PYTHONPATH",
)


def child_env(tracking_uri: str) -> dict[str, str]:
    """This process's environment, pointed at ``tracking_uri``, without the variables above."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    # `python` (the entry point's, under --env-manager local) and `uv` of this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def mlflow_run(tracking_uri: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``mlflow run . --experiment-name EXPERIMENT *args`` from the project root; capture output."""
    command = [sys.executable, "-m", "mlflow", "run", ".", "--experiment-name", EXPERIMENT, *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(tracking_uri),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def params(*assignments: str) -> list[str]:
    """``-P a=1 -P b=2`` as arguments."""
    return [arg for assignment in assignments for arg in ("-P", assignment)]


def stored_runs(tracking_uri: str) -> list[Run]:
    """Every run of every experiment in the store, deleted ones included."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=10_000)


def launched_run_ids(runs: list[Run], entry_point: str) -> list[str]:
    """The runs that `mlflow run -e entry_point` created (it tags them; the app's own runs it doesn't)."""
    return [run.info.run_id for run in runs if run.data.tags.get("mlflow.project.entryPoint") == entry_point]


# --- Hydra's Ray launcher ---------------------------------------------------------------------------

# Ray's smallest object store (75 MiB), 2 CPUs and no dashboard: CI's 2 cores and 24 GiB
SMALL_RAY = (
    "+hydra.launcher.ray.init.num_cpus=2",
    "+hydra.launcher.ray.init.object_store_memory=78643200",
    "+hydra.launcher.ray.init.include_dashboard=false",
)


# --- sampled values against the exact ones --------------------------------------------------------


def assert_likelihood_ratios_within_their_rates(drawn, exact):
    """A likelihood ratio divides by a small rate: skewed, so its delta-method standard error
    understates one tail (a 4-sigma specificity put lr_plus 5.6 of them away, CI 2026-11-30; a
    specificity of 0.0011 on 5,000 negatives put lr_minus 10.7 away, 2026-12-07). Each is within 5
    standard errors, or, within recall's and specificity's own 5-sigma intervals, within the ratios
    of their ends."""
    recall, specificity = (
        (exact[name] - 5 * exact[f"stderr/{name}"], exact[name] + 5 * exact[f"stderr/{name}"])
        for name in ("recall", "specificity")
    )

    def ratio(numerator, denominator):
        return numerator / denominator if denominator > 0 else math.inf

    bounds = {
        "lr_plus": (ratio(recall[0], 1 - specificity[0]), ratio(recall[1], 1 - specificity[1])),
        "lr_minus": (ratio(1 - recall[1], specificity[1]), ratio(1 - recall[0], specificity[0])),
    }
    for key, (low, high) in bounds.items():
        close = abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-9 * abs(exact[key])
        assert close or low - 1e-9 <= drawn[key] <= high, (key, drawn[key], exact[key], low, high)
