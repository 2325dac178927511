"""A shared tracking server on PostgreSQL (``python -m imbalance_sweep.server``): sweeps log to it
through MLFLOW_TRACKING_URI, every run reads back after a restart, a server that does not answer
fails a sweep at once, and a sweep whose server was killed resumes to one FINISHED run per cell.

The tests that need PostgreSQL skip, saying why, where it is not installed (CI installs it)."""

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from conftest import finished_run_per_cell, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep import server
from imbalance_sweep.app import ROLE_TAG, run_sweep
from imbalance_sweep.tracking import RunReader, Tracker, TrackingError

# 2 balances x 5 x 2 models = 20 cells, small: the store is the work
GRID = (
    "grid=single",
    "grid.balances=[[20000,200],[2000,2000]]",
    "grid.models=null",
    "grid.acc_0s=[0.6,0.7,0.8,0.9,1.0]",
    "grid.acc_1s=[0.5,0.9]",
    "losses=[bce,focal_tfa]",
)
# 24 cells of 1 to 2 million samples: long enough to kill the server part-way
KILL_GRID = (
    "grid=single",
    "grid.balances=[[2e6,2e4],[1e6,1e5],[1.5e6,1.5e4]]",
    "grid.models=[[0.9,0.5],[0.95,0.6],[0.99,0.7],[0.8,0.9],[0.999,0.5],[0.98,0.9],[0.7,0.7],[0.6,0.99]]",
    "losses=[bce]",
    "report=false",
)
# a sweep whose server went away fails at its next call, not after MLflow's minutes of retries
NO_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


@pytest.fixture(scope="module")
def server_dir():
    """A server directory for this module's tests, stopped and removed at the end.

    Not under tmp_path: as root, PostgreSQL runs as the postgres user, which cannot enter
    pytest's private temporary directory.
    """
    try:
        server.postgres_bin()
    except server.PostgresNotFound as error:
        pytest.skip(str(error))
    directory = Path(tempfile.mkdtemp(prefix="imbalance-sweep-server-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        server.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def tracking_server(server_dir):
    """The module's server, running (started on free ports by the first test that needs it)."""
    if not (server_dir / "server.json").exists():
        # one worker process: quicker (re)starts on a small machine; restarts reuse these settings
        started = server.start(server_dir, port=server.free_port(), db_port=server.free_port(), workers=1)
        print(f"first start (initdb, MLflow's tables): {started.seconds:.1f} s")
        return started
    return server.start(server_dir)


def finished_cells(runs):
    """cell key -> (name, params, metrics) of its FINISHED run; fails on a cell FINISHED twice."""
    return {
        key: (run.info.run_name, run.data.params, run.data.metrics)
        for key, run in finished_run_per_cell(runs["cell"]).items()
    }


def one_process_sqlite(make_spec, tmp_path, *overrides):
    """The same grid in this process, into its own sqlite file: what the server must hold."""
    store = f"sqlite:///{tmp_path / 'one-process.db'}"
    run_sweep(make_spec(*overrides, f"tracking_uri={store}"))
    return store


@pytest.mark.slow
def test_a_sweep_in_two_joblib_workers_logs_to_the_server_and_reads_back_after_a_restart(
    tracking_server, start_module, make_spec, tmp_path
):
    experiment = ("experiment=server-shards",)
    reference = one_process_sqlite(make_spec, tmp_path, *GRID, *experiment)
    started = time.monotonic()
    sweep = start_module(
        tmp_path,
        "null",  # as a user runs it: tracking_uri from MLFLOW_TRACKING_URI
        *GRID,
        *experiment,
        "shard.count=2",
        "shard.index=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        multirun=True,
        env={"MLFLOW_TRACKING_URI": tracking_server.tracking_uri},
    )
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    print(f"20 cells in 2 joblib workers through the server: {time.monotonic() - started:.1f} s")

    server.stop(tracking_server.directory)
    assert server.status(tracking_server.directory)["postgres"] is False
    restarted = server.start(tracking_server.directory)
    print(f"restart: {restarted.seconds:.1f} s")
    assert restarted.tracking_uri == tracking_server.tracking_uri

    runs = runs_by_role(restarted.tracking_uri, "server-shards")
    expected = runs_by_role(reference, "server-shards")
    [parent] = runs["sweep"]
    [expected_parent] = expected["sweep"]
    assert parent.info.status == "FINISHED"
    assert parent.data.params == expected_parent.data.params
    assert len(runs["cell"]) == 20
    assert {r.data.tags["mlflow.parentRunId"] for r in runs["cell"]} == {parent.info.run_id}
    assert finished_cells(runs) == finished_cells(expected)  # every param and metric, bit for bit
    client, reference_client = MlflowClient(restarted.tracking_uri), MlflowClient(reference)

    def artifacts(client, run_id, path=None):
        listed = []
        for entry in client.list_artifacts(run_id, path):
            listed.extend(artifacts(client, run_id, entry.path) if entry.is_dir else [entry.path])
        return sorted(listed)

    logged = artifacts(client, parent.info.run_id)
    # the same table and report; config.yaml comes from the command line (run_sweep was given none)
    assert [path for path in logged if path != "config.yaml"] == artifacts(
        reference_client, expected_parent.info.run_id
    )
    assert "config.yaml" in logged
    table = Path(client.download_artifacts(parent.info.run_id, "cells.csv", str(tmp_path)))
    assert len(table.read_text().splitlines()) == 1 + 20


@pytest.mark.parametrize("side", [Tracker, RunReader], ids=["writer", "reader"])
def test_a_server_that_does_not_answer_stops_the_tracker_at_once(side):
    """The writer (sweeps, flip) and the reader (compare) both probe before their first call."""
    uri = f"http://127.0.0.1:{server.free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError) as error:
        side(uri, "imbalance-sweep") if side is Tracker else side(uri)
    assert time.monotonic() - started < 5
    assert str(error.value) == (
        f"tracking_uri='{uri}' cannot be used: no tracking server answers at {uri}/health (connection refused)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("multirun", [False, True], ids=["run", "joblib-multirun"])
def test_a_sweep_against_a_server_that_does_not_answer_fails_fast_with_one_line(
    start_module, tmp_path, multirun
):
    uri = f"http://127.0.0.1:{server.free_port()}"  # nothing listens there
    extra = ("seed=0,1", "hydra/launcher=joblib") if multirun else ()
    started = time.monotonic()
    sweep = start_module(
        tmp_path, "null", "losses=[bce]", *extra, multirun=multirun, env={"MLFLOW_TRACKING_URI": uri}
    )
    _, err = sweep.communicate(timeout=120)
    seconds = time.monotonic() - started
    print(
        f"unreachable server, {'multirun' if multirun else 'one sweep'}: exit {sweep.returncode} after {seconds:.1f} s"
    )
    assert sweep.returncode == 2
    assert err.strip().splitlines() == [
        f"imbalance-sweep: error: tracking_uri='{uri}' cannot be used:"
        f" no tracking server answers at {uri}/health (connection refused)"
    ]
    assert seconds < 30  # the process's own start included; MLflow's retries alone take minutes


def wait_for_cells(tracking_uri, experiment, sweep, *, finished, running):
    """Poll the server until the sweep has at least ``finished`` FINISHED and ``running`` RUNNING cells."""
    client = MlflowClient(tracking_uri)
    deadline = time.monotonic() + 120
    while True:
        assert sweep.poll() is None, sweep.communicate()
        assert time.monotonic() < deadline
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            statuses = [
                r.info.status
                for r in client.search_runs(
                    [found.experiment_id], f"tags.`{ROLE_TAG}` = 'cell'", max_results=1000
                )
            ]
            if statuses.count("FINISHED") >= finished and statuses.count("RUNNING") >= running:
                return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_sweep_whose_server_is_killed_fails_and_resumes_to_one_finished_run_per_cell(
    tracking_server, start_module, make_spec, tmp_path
):
    experiment = ("experiment=server-killed",)
    uri = tracking_server.tracking_uri
    expected = finished_cells(
        runs_by_role(one_process_sqlite(make_spec, tmp_path, *KILL_GRID, *experiment), "server-killed")
    )
    assert len(expected) == 24
    sweep = start_module(tmp_path, uri, *KILL_GRID, *experiment, env=NO_HTTP_RETRIES)
    wait_for_cells(uri, "server-killed", sweep, finished=3, running=1)
    os.killpg(tracking_server.pid, signal.SIGKILL)  # mlflow server and its workers, with no warning
    killed = time.monotonic()
    _, err = sweep.communicate(timeout=120)
    print(f"the sweep failed {time.monotonic() - killed:.1f} s after the server was killed")
    assert sweep.returncode == 2
    [line] = err.strip().splitlines()
    print(line)
    assert line.startswith(f"imbalance-sweep: error: tracking_uri='{uri}' cannot be used: ")

    deadline = time.monotonic() + 30
    while server.mlflow_server_pid(tracking_server.directory) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    restarted = server.start(tracking_server.directory)  # PostgreSQL kept running: only mlflow server starts
    print(f"restart after the kill: {restarted.seconds:.1f} s")
    runs = runs_by_role(uri, "server-killed")
    [parent] = runs["sweep"]
    assert parent.info.status == "RUNNING"  # nobody could close it
    assert {r.info.status for r in runs["cell"]} <= {"FINISHED", "RUNNING"}
    part = finished_cells(runs)
    assert 3 <= len(part) < 24
    # a cell recorded FINISHED did finish: all of its numbers are there, and right
    assert part == {key: expected[key] for key in part}

    resumed = start_module(tmp_path, uri, *KILL_GRID, *experiment)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    runs = runs_by_role(uri, "server-killed")
    assert [r.info.run_id for r in runs["sweep"]] == [parent.info.run_id]
    assert runs["sweep"][0].info.status == "FINISHED"
    assert "RUNNING" not in {r.info.status for r in runs["cell"]}
    assert finished_cells(runs) == expected
