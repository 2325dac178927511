"""SIGTERM to a multirun whose jobs run in worker processes (joblib, a local Ray), as a scheduler
sends it to the process group or to the launching process alone: every run the workers were at is
closed KILLED (none left RUNNING), and the command ends with one line and exit code 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from helpers import SMALL_RAY, cells_in, environment_without_mlflow_launch, runs_by_role

from imbalance_sweep.tracking.tags import Role

pytestmark = pytest.mark.slow

# 8 cells of 165 million samples, about half a second each: two shards are at work for ~2 s
SLOW_CELLS = (
    "grid=single",
    "grid.balances=[[1.5e8,1.5e7]]",
    "grid.models=[[0.9,0.5],[0.95,0.6],[0.99,0.7],[0.8,0.9],[0.7,0.7],[0.6,0.99],[0.5,0.5],[0.85,0.75]]",
    "losses=[bce]",
    "mode=sampled",
    "report=false",
    "shard.count=2",
    "shard.index=0,1",
)
JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
INTERRUPTED = "imbalance-sweep: interrupted (SIGTERM): "


def start_multirun(tmp_path, tracking_uri, *overrides, env=None) -> subprocess.Popen:
    """``python -m imbalance_sweep -m ...`` in a process group of its own (a scheduler's job)."""
    command = [sys.executable, "-m", "imbalance_sweep", "-m", f"tracking_uri={tracking_uri}", *overrides]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**environment_without_mlflow_launch(), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def terminate_when_both_shards_work(process, database, *, group: bool, again: bool = False) -> str:
    """SIGTERM once both shards have a cell RUNNING (to the group, or the launching process alone;
    ``again``: a second one soon after); the command's output."""
    deadline = time.monotonic() + 240
    while cells_in(database, "RUNNING") < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the shards did not get going"
        time.sleep(0.05)
    send = (lambda: os.killpg(process.pid, signal.SIGTERM)) if group else (lambda: process.terminate())
    send()
    if again:
        time.sleep(0.1)
        send()
    stdout, stderr = process.communicate(timeout=120)
    return stdout + stderr


def assert_closed_killed(tracking_uri, output: str, returncode: int) -> None:
    """Nothing RUNNING; the parent and the cells at work KILLED; one line, no traceback, 143."""
    runs = runs_by_role(tracking_uri)
    statuses = Counter((role, run.info.status) for role, found in runs.items() for run in found)
    assert not [key for key in statuses if key[1] == "RUNNING"], statuses
    assert statuses[(Role.SWEEP, "KILLED")] == 1, statuses
    assert statuses[(Role.CELL, "KILLED")] >= 1 and set(statuses) <= {
        (Role.SWEEP, "KILLED"),
        (Role.CELL, "KILLED"),
        (Role.CELL, "FINISHED"),
    }, statuses
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and lines[0].startswith(INTERRUPTED), output[-3000:]
    assert "run the same command to continue: python -m imbalance_sweep -m" in lines[0]
    assert returncode == 128 + signal.SIGTERM


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "launcher-alone"])
def test_sigterm_to_a_joblib_multirun_closes_its_workers_runs_killed(tmp_path, tracking_uri, group):
    process = start_multirun(tmp_path, tracking_uri, *SLOW_CELLS, *JOBLIB)
    output = terminate_when_both_shards_work(process, tmp_path / "mlflow.db", group=group)
    assert_closed_killed(tracking_uri, output, process.returncode)


def test_a_second_sigterm_to_a_joblib_multirun_changes_nothing(tmp_path, tracking_uri):
    process = start_multirun(tmp_path, tracking_uri, *SLOW_CELLS, *JOBLIB)
    output = terminate_when_both_shards_work(process, tmp_path / "mlflow.db", group=True, again=True)
    assert_closed_killed(tracking_uri, output, process.returncode)


def test_idle_joblib_workers_survive_a_sigterm_to_the_group(tmp_path, tracking_uri):
    """4 workers for 2 jobs: the 2 idle ones would die of the signal, and loky would then kill the
    busy ones (SIGKILL) as a broken pool; they start with the signals blocked instead."""
    process = start_multirun(
        tmp_path, tracking_uri, *SLOW_CELLS, "hydra/launcher=joblib", "hydra.launcher.n_jobs=4"
    )
    output = terminate_when_both_shards_work(process, tmp_path / "mlflow.db", group=True)
    assert_closed_killed(tracking_uri, output, process.returncode)


@pytest.mark.xdist_group("ray")  # one local Ray instance at a time (see test_cli_ray_launcher.py)
@pytest.mark.parametrize("group", [True, False], ids=["process-group", "launcher-alone"])
def test_sigterm_to_a_ray_multirun_closes_its_workers_runs_killed(
    tmp_path,
    tracking_uri,
    ray_temp_dir,
    group,
):
    process = start_multirun(
        tmp_path,
        tracking_uri,
        *SLOW_CELLS,
        "hydra/launcher=ray",
        *SMALL_RAY,
        f"+hydra.launcher.ray.init._temp_dir={ray_temp_dir}",
    )
    output = terminate_when_both_shards_work(process, tmp_path / "mlflow.db", group=group)
    assert_closed_killed(tracking_uri, output, process.returncode)


def test_a_worker_that_does_not_end_is_waited_for_a_bounded_time():
    """The launching process stops waiting (here after 0.5 s) with the one line and exit 143."""
    script = (
        "import time\n"
        "from imbalance_sweep.runtime import signals\n"
        "signals.WORKERS_CLOSE_SECONDS = 0.5\n"
        "signals.launch_in_workers('no such worker')\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**environment_without_mlflow_launch(), "IMBALANCE_SWEEP_COMMAND": "the command"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    started = time.monotonic()
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode == 143
    assert stderr.splitlines() == [
        f"{INTERRUPTED}worker processes still at work 0.5 s after the signal were left (a run they hold "
        "stays RUNNING until the sweep runs again); run the same command to continue: the command"
    ]
