"""Interrupting a sweep the way people and schedulers do, then continuing it through the same door.

Through `mlflow run . -e sweep -P grid=dense` (2,000 cells; `mode=expected` keeps a cell at
milliseconds): Ctrl-C (SIGINT to the process group, as a terminal sends it), SIGTERM to `mlflow run`
alone (as a scheduler may send it) and SIGKILL of the group (a crash), each part-way, then the same command
to the end. What MLflow stored is read back after each step. And Ctrl-C under `python -m
imbalance_sweep`: one line, exit 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import EXPERIMENT, ROOT, cells_in, child_env, environment_without_mlflow_launch, params
from mlflow import MlflowClient

from imbalance_sweep.tracking.tags import (
    CELL_KEY_TAG,
    CONTINUES_TAG,
    MLFLOW_PARENT_TAG,
    NOTE_TAG,
    ROLE_TAG,
    Role,
)

pytestmark = pytest.mark.slow

OVERRIDES = "overrides=mode=expected report=false"
SWEEP = ["-e", "sweep", "--env-manager", "local", *params("grid=dense", OVERRIDES)]
N_CELLS = 2000
# MLflow's own lines around the command (its log, and click's "Aborted!" after Ctrl-C): not ours.
MLFLOW_LOG = (" INFO mlflow", " ERROR mlflow", " WARNING mlflow")
CLICK_ABORTED = "Aborted!"


def start(command: list[str], env: dict[str, str], cwd) -> subprocess.Popen:
    """A command in a process group of its own (a terminal's job), its output captured."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def statuses(store: str) -> Counter:
    """(role, status) -> how many runs, over the store's experiments."""
    client = MlflowClient(store)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, max_results=10_000) if ids else []
    return Counter((run.data.tags.get(ROLE_TAG), run.info.status) for run in runs)


def interrupt_when(
    process: subprocess.Popen, store: str, n_finished: int, how: signal.Signals, *, group: bool = True
) -> tuple[str, str]:
    """Send ``how`` to the process's group (or to the process alone) once ``n_finished`` cells are
    FINISHED; its output. Counted straight from the sqlite file, as a watcher would: a search through
    MLflow's client, of hundreds of runs several times a second, would take a core from the sweep."""
    database = Path(store.removeprefix("sqlite:///"))
    deadline = time.monotonic() + 240
    while cells_in(database, "FINISHED") < n_finished:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sweep did not get going"
        # a reader holds sqlite's shared lock while it counts: polled every 50 ms on a loaded machine,
        # the sweep's writes waited out sqlite's busy timeout (twice in CI, 2026-11-30)
        time.sleep(0.25)
    if group:
        os.killpg(process.pid, how)
    else:
        process.send_signal(how)
    try:
        return process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # say what it was doing: its output so far, then end it
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"still running 120 s after {how.name}; stdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-6000:]}"
        )


def own_lines(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and line != CLICK_ABORTED and not any(m in line for m in MLFLOW_LOG)
    ]


def test_a_sweep_interrupted_three_ways_continues_through_mlflow_run(tracking_uri, tmp_path):
    store = tracking_uri
    MlflowClient(store).create_experiment(EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri())
    command = [sys.executable, "-m", "mlflow", "run", ".", "--experiment-name", EXPERIMENT, *SWEEP]
    env = child_env(store)
    finished_before: dict[str, str] = {}

    # Ctrl-C reaches the whole group; a scheduler's SIGTERM only `mlflow run` (which dies at once:
    # launch.py has the kernel pass SIGTERM on to the command); a crash kills everything.
    for n_finished, how in ((150, signal.SIGINT), (300, signal.SIGTERM), (450, signal.SIGKILL)):
        process = start(command, env, ROOT)
        stdout, stderr = interrupt_when(process, store, n_finished, how, group=how != signal.SIGTERM)
        counts = statuses(store)
        assert "Traceback" not in stdout + stderr
        if how != signal.SIGKILL:
            lines = own_lines(stderr)
            assert len(lines) == 1, stderr
            line = lines[0]
            assert line.startswith(f"imbalance-sweep: interrupted ({how.name}): ")
            assert "cells FINISHED in run" in line and line.endswith(
                "run the same command to continue: mlflow run . -e sweep --experiment-id 1 "
                "-P grid=dense -P 'overrides=mode=expected report=false'"
            )
            # Nothing left RUNNING: the interrupted cell is KILLED (the launched run's status is
            # MLflow's to set once its command ends: FAILED for a non-zero exit).
            assert not [key for key in counts if key[1] == "RUNNING"], counts
        client = MlflowClient(store)
        cells = client.search_runs(["1"], f"tags.`{ROLE_TAG}` = '{Role.CELL}'", max_results=10_000)
        for run in cells:  # a cell FINISHED before stays as it was: never computed again
            if run.data.tags[CELL_KEY_TAG] in finished_before:
                assert run.info.status == "FINISHED" or run.info.run_id not in finished_before.values()
        finished_before = {
            run.data.tags[CELL_KEY_TAG]: run.info.run_id for run in cells if run.info.status == "FINISHED"
        }
        assert len(finished_before) >= n_finished

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(store)
    runs = client.search_runs(["1"], max_results=10_000)
    cells = [run for run in runs if run.data.tags.get(ROLE_TAG) == Role.CELL]
    finished = [run for run in cells if run.info.status == "FINISHED"]
    keys = Counter(run.data.tags[CELL_KEY_TAG] for run in finished)
    assert len(keys) == N_CELLS and set(keys.values()) == {1}  # exactly one FINISHED run per cell
    assert {run.data.tags[CELL_KEY_TAG]: run.info.run_id for run in finished} | finished_before == {
        run.data.tags[CELL_KEY_TAG]: run.info.run_id for run in finished
    }  # the cells FINISHED before the last run are the very same runs
    assert "RUNNING" not in {run.info.status for run in runs}
    # One parent holds every cell; each later `mlflow run` says which run it continued.
    (parent,) = [run for run in runs if run.data.tags.get(ROLE_TAG) == Role.SWEEP]
    assert parent.info.status == "FINISHED"
    assert {run.data.tags[MLFLOW_PARENT_TAG] for run in cells} == {parent.info.run_id}
    launches = [run for run in runs if run.data.tags.get(ROLE_TAG) == Role.LAUNCH]
    assert len(launches) == 3
    for launch in launches:
        assert launch.data.tags[CONTINUES_TAG] == parent.info.run_id
        assert parent.info.run_id in launch.data.tags[NOTE_TAG]
        assert f"Continued by run {launch.info.run_id}" in parent.data.tags[NOTE_TAG]
    assert f"run:        {parent.info.run_id} (sweep 'dense', 2000 cells)" in done.stdout.splitlines()


def test_ctrl_c_under_python_m_is_one_line_and_exit_130(tracking_uri, tmp_path):
    command = [
        sys.executable,
        "-m",
        "imbalance_sweep",
        "grid=dense",
        "mode=expected",
        f"tracking_uri={tracking_uri}",
    ]
    process = start(command, environment_without_mlflow_launch(), tmp_path)
    _, stderr = interrupt_when(process, tracking_uri, 50, signal.SIGINT)
    assert process.returncode == 130
    assert len(stderr.strip().splitlines()) == 1, stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("imbalance-sweep: interrupted (SIGINT): ") and line.endswith(
        f"run the same command to continue: python -m imbalance_sweep grid=dense mode=expected tracking_uri={tracking_uri}"
    )
    counts = statuses(tracking_uri)
    assert counts[(Role.SWEEP, "KILLED")] == 1 and not [key for key in counts if key[1] == "RUNNING"]
    hydra_folders = [p.name for p in tmp_path.iterdir() if p.name in ("outputs", "multirun", ".hydra")]
    assert hydra_folders == [] and not list(tmp_path.rglob("*.log"))
