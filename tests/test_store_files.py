"""A sqlite store survives a crash at any moment of its creation, two creators at once, and a file
that is not a whole store stops with one line naming it (tracking.prepare_sqlite_store)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import environment_without_mlflow_launch
from mlflow.tracking import MlflowClient

from imbalance_sweep.tracking.client import Tracker, TrackingError

# A child that opens (so creates) the store and logs one run into it.
CREATE_AND_LOG = """
import sys
from imbalance_sweep.tracking.client import Tracker
tracker = Tracker(sys.argv[1], "e")
run = tracker.start_run("r", tags={})
tracker.finish(run)
"""


def start_creator(uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CREATE_AND_LOG, uri],
        env=environment_without_mlflow_launch(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished_runs(uri: str) -> int:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("e")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    return sum(run.info.status == "FINISHED" for run in runs)


@pytest.mark.slow
def test_sigkill_at_any_moment_of_a_new_stores_creation_leaves_a_usable_store(tmp_path):
    """Killed 0.3 to 2.1 s in (imports, then MLflow's migrations), the next creator always succeeds."""
    for index, delay in enumerate((0.3, 0.9, 1.5, 2.1)):
        uri = f"sqlite:///{tmp_path / f'store{index}.db'}"
        creator = start_creator(uri)
        time.sleep(delay)
        creator.send_signal(signal.SIGKILL)
        creator.wait()
        again = start_creator(uri)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, f"killed after {delay} s, the store broke: {stderr[-2000:]}"
        assert finished_runs(uri) >= 1
        assert not list(tmp_path.glob(f"store{index}.db.creating-*"))  # the killed creator's leftovers went


@pytest.mark.slow
def test_two_processes_creating_one_new_store_both_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    creators = [start_creator(uri) for _ in range(2)]
    for creator in creators:
        _, stderr = creator.communicate(timeout=120)
        assert creator.returncode == 0, stderr[-2000:]
    assert finished_runs(uri) == 2


@pytest.fixture
def whole_store(tmp_path, new_store_file) -> os.PathLike:
    """A whole store with an experiment: a copy of the session's new store, opened by a Tracker."""
    path = tmp_path / "whole.db"
    Tracker(new_store_file(path), "e")
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda path, whole: path.write_bytes(b""), "is empty (0 bytes), not a store; delete it to start a new store there"),
        (lambda path, whole: path.write_text("label,score\n1,0.5\n"), "is not an sqlite database; move it away"),
        (lambda path, whole: path.write_bytes(whole.read_bytes()[:150_000]), "is truncated (150000 of its "),
        (lambda path, whole: path.mkdir(), "is a directory, not a store file"),
    ],
    ids=["empty", "not-sqlite", "truncated", "directory"],
)  # fmt: skip
def test_a_file_that_is_not_a_whole_store_stops_with_one_line(tmp_path, whole_store, make, words):
    path = tmp_path / "mlflow.db"
    make(path, whole_store)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    message = str(refused.value)
    assert message.startswith(f"tracking_uri='sqlite:///{path}' cannot be used: {path} ") and words in message
    assert "\n" not in message
    if path.is_file():
        assert path.stat().st_size in (0, 18, 150_000)  # left as it was: nothing re-created over it


def test_a_store_of_another_mlflow_version_says_what_to_do(tmp_path, whole_store):
    whole = whole_store
    with sqlite3.connect(whole) as connection:
        connection.execute("update alembic_version set version_num = 'abcdef123456'")
    path = tmp_path / "other.db"  # a path this process has not opened (MLflow keeps its stores)
    with sqlite3.connect(whole) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    assert str(refused.value).startswith(
        f"tracking_uri='sqlite:///{path}' cannot be used: its MLflow schema is revision abcdef123456, mlflow 3.17.2"
    )
    assert f"`mlflow db upgrade sqlite:///{path}`" in str(refused.value)


@pytest.mark.slow
def test_through_the_command_a_broken_store_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep", "grid=single"],
        cwd=tmp_path,
        env=environment_without_mlflow_launch(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"imbalance-sweep: error: tracking_uri='sqlite:///{tmp_path / 'mlflow.db'}' cannot be used: "
        f"{tmp_path / 'mlflow.db'} is empty (0 bytes), not a store; delete it to start a new store there"
    ]
