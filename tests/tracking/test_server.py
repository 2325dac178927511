"""A shared tracking server on PostgreSQL (``python -m imbalance_sweep.server``): sweeps log to it
through MLFLOW_TRACKING_URI, every run reads back after a restart, a server that does not answer
fails a sweep at once, and a sweep whose server was killed resumes to one FINISHED run per cell.
It runs MLflow's basic-auth app: no write without a password, a READ user reads and cannot write,
the admin's credentials in a sweep's environment log its runs. `stop` signals no process a stale
pid file names (more of stop, status and start against a hostile hand: test_server_hostile.py).

The tests that need PostgreSQL skip, saying why, where it is not installed (CI installs it)."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import finished_run_per_cell, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep import server as server_door
from imbalance_sweep.app import run_sweep
from imbalance_sweep.runtime.processes import group_members
from imbalance_sweep.tracking.errors import TrackingError
from imbalance_sweep.tracking.probe import check_server_answers
from imbalance_sweep.tracking.reader import RunReader
from imbalance_sweep.tracking.server import lifecycle
from imbalance_sweep.tracking.server.identity import ProcessRecord, mlflow_server_pid
from imbalance_sweep.tracking.server.layout import Layout, Settings
from imbalance_sweep.tracking.server.probes import free_port
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, ROLE_TAG, Role
from imbalance_sweep.tracking.tracker import Tracker

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
# the session's one server: its tests share one worker under pytest-xdist
pytestmark = pytest.mark.xdist_group("team-server")
# a sweep whose server went away fails at its next call, not after MLflow's minutes of retries
NO_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


def finished_cells(runs):
    """cell key -> (name, params, metrics) of its FINISHED run; fails on a cell FINISHED twice."""
    return {
        key: (run.info.run_name, run.data.params, run.data.metrics)
        for key, run in finished_run_per_cell(runs[Role.CELL]).items()
    }


def one_process_sqlite(make_spec, new_store_file, tmp_path, *overrides):
    """The same grid in this process, into its own sqlite file: what the server must hold."""
    store = new_store_file(tmp_path / "one-process.db")
    run_sweep(make_spec(*overrides, f"tracking_uri={store}"))
    return store


@pytest.mark.slow
def test_a_sweep_in_two_joblib_workers_logs_to_the_server_and_reads_back_after_a_restart(
    tracking_server, start_module, make_spec, new_store_file, tmp_path
):
    experiment = ("experiment=server-shards",)
    reference = one_process_sqlite(make_spec, new_store_file, tmp_path, *GRID, *experiment)
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
        env={"MLFLOW_TRACKING_URI": tracking_server.tracking_uri, **tracking_server.credentials},
    )
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    print(f"20 cells in 2 joblib workers through the server: {time.monotonic() - started:.1f} s")

    lifecycle.stop(tracking_server.directory)
    assert lifecycle.status(tracking_server.directory)["postgres"] is False
    restarted = lifecycle.start(tracking_server.directory)
    print(f"restart: {restarted.seconds:.1f} s")
    assert restarted.tracking_uri == tracking_server.tracking_uri

    runs = runs_by_role(restarted.tracking_uri, "server-shards")
    expected = runs_by_role(reference, "server-shards")
    [parent] = runs[Role.SWEEP]
    [expected_parent] = expected[Role.SWEEP]
    assert parent.info.status == "FINISHED"
    assert parent.data.params == expected_parent.data.params
    assert len(runs[Role.CELL]) == 20
    assert {r.data.tags[MLFLOW_PARENT_TAG] for r in runs[Role.CELL]} == {parent.info.run_id}
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
    uri = f"http://127.0.0.1:{free_port()}"
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
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
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


@pytest.fixture
def bystander():
    """An unrelated process that has "mlflow" in its command line, leading its own process group
    (as a shell job would): what a stale pid file can name once the server's id is reused."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "mlflow", "server"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while ProcessRecord.of(process.pid) is None or "mlflow" not in ProcessRecord.of(process.pid).cmdline:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        yield process
    finally:
        process.kill()
        process.wait()


STALE_RECORDS = {
    # what an older version wrote: the process id alone (the one that got killed)
    "bare-pid": lambda live: f"{live.pid}\n",
    # the id reused by a process started later than the recorded one
    "other-start-time": lambda live: ProcessRecord(live.pid, live.start_time - 1, live.cmdline).to_json(),
    # the same start time, another command line
    "other-command": lambda live: ProcessRecord(
        live.pid, live.start_time, (sys.executable, "-m", "mlflow", "server", "--port=5000")
    ).to_json(),
}


@pytest.mark.parametrize("record", STALE_RECORDS.values(), ids=STALE_RECORDS.keys())
def test_stop_signals_no_process_that_its_pid_file_does_not_identify(bystander, tmp_path, record):
    """`stop` with a stale pid file removes it with one line, and the process it names lives on.
    (A process the pid file names with its right record is not signalled either unless it is the
    directory's server: test_server_hostile.py.)"""
    layout = Layout(tmp_path)
    settings = Settings(port=free_port(), db_port=free_port())
    layout.settings.write_text(json.dumps(settings.__dict__))  # a port nothing of the machine's holds
    layout.mlflow_pid.write_text(record(ProcessRecord.of(bystander.pid)))
    assert mlflow_server_pid(tmp_path) is None
    assert lifecycle.status(tmp_path)["mlflow_server_pid"] is None
    stop = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep.server", "stop", "--dir", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0, stop.stderr
    [line] = stop.stderr.splitlines()
    print(line)
    assert line.startswith(
        f"python -m imbalance_sweep.server: the pid file {layout.mlflow_pid} identified no mlflow server"
        " of this directory: "
    )
    assert line.endswith("; removed it")
    assert stop.stdout == f"nothing of {tmp_path} was running\n"
    assert not layout.mlflow_pid.exists()
    time.sleep(0.2)
    assert bystander.poll() is None  # alive: no signal reached it


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
                    [found.experiment_id], f"tags.`{ROLE_TAG}` = '{Role.CELL}'", max_results=1000
                )
            ]
            if statuses.count("FINISHED") >= finished and statuses.count("RUNNING") >= running:
                return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_sweep_whose_server_is_killed_fails_and_resumes_to_one_finished_run_per_cell(
    tracking_server, start_module, make_spec, new_store_file, tmp_path
):
    experiment = ("experiment=server-killed",)
    uri = tracking_server.tracking_uri
    expected = finished_cells(
        runs_by_role(
            one_process_sqlite(make_spec, new_store_file, tmp_path, *KILL_GRID, *experiment), "server-killed"
        )
    )
    assert len(expected) == 24
    sweep = start_module(
        tmp_path, uri, *KILL_GRID, *experiment, env={**NO_HTTP_RETRIES, **tracking_server.credentials}
    )
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
    # the recorded process is gone at once; its workers release the port as they die
    while mlflow_server_pid(tracking_server.directory) is not None or group_members(tracking_server.pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    restarted = lifecycle.start(
        tracking_server.directory
    )  # PostgreSQL kept running: only mlflow server starts
    print(f"restart after the kill: {restarted.seconds:.1f} s")
    runs = runs_by_role(uri, "server-killed")
    [parent] = runs[Role.SWEEP]
    assert parent.info.status == "RUNNING"  # nobody could close it
    assert {r.info.status for r in runs[Role.CELL]} <= {"FINISHED", "RUNNING"}
    part = finished_cells(runs)
    assert 3 <= len(part) < 24
    # a cell recorded FINISHED did finish: all of its numbers are there, and right
    assert part == {key: expected[key] for key in part}

    resumed = start_module(tmp_path, uri, *KILL_GRID, *experiment, env=tracking_server.credentials)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    runs = runs_by_role(uri, "server-killed")
    assert [r.info.run_id for r in runs[Role.SWEEP]] == [parent.info.run_id]
    assert runs[Role.SWEEP][0].info.status == "FINISHED"
    assert "RUNNING" not in {r.info.status for r in runs[Role.CELL]}
    assert finished_cells(runs) == expected


# --- MLflow's basic-auth app -------------------------------------------------------------------

# 4 cells in expected mode: a sweep is a handful of requests
AUTH_GRID = (
    "grid=single",
    "grid.balances=[[20000,200]]",
    "grid.models=null",
    "grid.acc_0s=[0.6,0.9]",
    "grid.acc_1s=[0.5,0.9]",
    "mode=expected",
    "report=false",
)


def call(uri, path, body=None, *, user=None):
    """(HTTP status, JSON or text answer) of one REST call (POST when ``body`` is given), as any HTTP
    client sends it; ``user`` = (name, password) for HTTP basic authentication."""
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        uri + path, data=data, headers=headers, method="GET" if body is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def admin_of(tracking_server):
    credentials = tracking_server.credentials
    return credentials["MLFLOW_TRACKING_USERNAME"], credentials["MLFLOW_TRACKING_PASSWORD"]


@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_the_admin_password_is_generated_kept_private_and_never_printed(tracking_server, capsys):
    layout = Layout(tracking_server.directory)
    name, password = admin_of(tracking_server)
    assert name == "admin"
    assert len(password) >= 24 and password != "password1234"
    assert layout.auth.stat().st_mode & 0o777 == 0o700
    for path in (layout.admin_password, layout.auth_config, layout.secret_key):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert "database_uri = postgresql+psycopg://" in layout.auth_config.read_text()
    assert "/mlflow_auth\n" in layout.auth_config.read_text()
    # nor on a command line (`ps`), nor in the server's log
    assert not any(password in argument for argument in ProcessRecord.of(tracking_server.pid).cmdline)
    assert password not in layout.mlflow_log.read_text()
    assert server_door.main(["start", "--dir", str(tracking_server.directory)]) == 0  # already running
    out = capsys.readouterr().out
    assert password not in out
    assert out.splitlines()[-3:] == [
        f"export MLFLOW_TRACKING_URI={tracking_server.tracking_uri}",
        "export MLFLOW_TRACKING_USERNAME=admin",
        f'export MLFLOW_TRACKING_PASSWORD="$(cat {layout.admin_password})"',
    ]


@pytest.mark.parametrize(
    "user",
    [None, ("admin", "not-the-password"), ("nobody", "not-the-password")],
    ids=["no-credentials", "wrong-password", "unknown-user"],
)
@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_a_write_without_the_right_password_gets_401_and_creates_nothing(tracking_server, user):
    uri = tracking_server.tracking_uri
    name = f"forged-{user[0] if user else 'anonymous'}"
    status, answer = call(uri, "/api/2.0/mlflow/experiments/create", {"name": name}, user=user)
    assert status == 401, answer
    status, _ = call(uri, "/api/2.0/mlflow/experiments/search", {"max_results": 1000}, user=user)
    assert status == 401  # nor reads
    assert MlflowClient(uri).get_experiment_by_name(name) is None  # the admin sees nothing was made


@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_the_health_probe_answers_with_auth_on_whatever_the_credentials(tracking_server, monkeypatch):
    """/health is open in MLflow's auth app: the probe before a sweep tells "down" from "refused"."""
    assert call(tracking_server.tracking_uri, "/health") == (200, "OK")
    check_server_answers(tracking_server.tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    check_server_answers(tracking_server.tracking_uri)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    check_server_answers(tracking_server.tracking_uri)


# importing mlflow.server: starlette's deprecation of a module MLflow imports; not ours to fix
@pytest.mark.filterwarnings("ignore:starlette.middleware.wsgi is deprecated")
@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_a_user_given_read_on_an_experiment_reads_it_and_cannot_write(tracking_server):
    from mlflow.server import get_app_client

    uri = tracking_server.tracking_uri
    admin = MlflowClient(uri)
    experiment_id = admin.create_experiment("auth-read-only")
    run = admin.create_run(experiment_id)
    admin.log_metric(run.info.run_id, "f1", 0.5)
    auth = get_app_client("basic-auth", tracking_uri=uri)  # MLflow's client of its auth API, as the admin
    reader = ("reader", "a-reader-password-of-some-length")
    auth.create_user(*reader)
    auth.grant_user_permission(reader[0], "experiment", experiment_id, "READ")
    assert auth.get_user_permission(reader[0], "experiment", experiment_id).permission == "READ"

    status, found = call(uri, "/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id]}, user=reader)
    assert status == 200, found
    [read] = found["runs"]
    assert read["info"]["run_id"] == run.info.run_id
    assert read["data"]["metrics"][0]["key"] == "f1"
    writes = {
        "/api/2.0/mlflow/runs/create": {"experiment_id": experiment_id},
        "/api/2.0/mlflow/runs/log-metric": {
            "run_id": run.info.run_id,
            "key": "f1",
            "value": 1.0,
            "timestamp": 0,
        },
        "/api/2.0/mlflow/runs/update": {"run_id": run.info.run_id, "status": "FINISHED"},
    }
    for path, body in writes.items():
        status, answer = call(uri, path, body, user=reader)
        assert status == 403, (path, answer)
    [after] = admin.search_runs([experiment_id])
    assert after.info.status == "RUNNING" and after.data.metrics == {"f1": 0.5}


@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_closing_a_run_on_the_server_fetches_and_prints_nothing(tracking_server, monkeypatch, capsys):
    """MLflow's client fetches a run it closes, to print its links: a round-trip a cell does without
    (a sweep prints its own links); a user who asks for MLflow's lines still gets them."""
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    tracker = Tracker(tracking_server.tracking_uri, "quiet-closing")
    tracker.finish(tracker.start_run("cell", tags={}))
    assert "View run" not in capsys.readouterr().out

    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")
    tracker = Tracker(tracking_server.tracking_uri, "quiet-closing")
    tracker.finish(tracker.start_run("cell", tags={}))
    assert "View run cell at" in capsys.readouterr().out


# importing mlflow.server: starlette's deprecation of a module MLflow imports; not ours to fix
@pytest.mark.filterwarnings("ignore:starlette.middleware.wsgi is deprecated")
@pytest.mark.slow  # a real PostgreSQL and mlflow server
def test_a_cached_password_check_lets_no_wrong_or_changed_password_through(tracking_server):
    """MLflow caches a right password's check (AUTH_CACHE_SECONDS): a wrong password after
    a right one is still refused, and a password changed through MLflow's auth API stops working at
    once on this one-worker server (the worker that handles the change forgets what it cached; with
    several workers another one may take the old password until its entry expires)."""
    from mlflow.server import get_app_client

    uri = tracking_server.tracking_uri
    auth = get_app_client("basic-auth", tracking_uri=uri)
    old = ("changer", "the-first-password-of-changer")
    auth.create_user(*old)
    search = ("/api/2.0/mlflow/experiments/search", {"max_results": 1})
    assert call(uri, *search, user=old)[0] == 200  # checked once, now cached
    assert call(uri, *search, user=old)[0] == 200
    assert call(uri, *search, user=(old[0], "not-the-password"))[0] == 401
    assert call(uri, *search, user=(old[0], old[1] + "x"))[0] == 401

    new = (old[0], "the-second-password-of-changer")
    auth.update_user_password(*new)
    assert call(uri, *search, user=old)[0] == 401
    assert call(uri, *search, user=new)[0] == 200
    auth.delete_user(old[0])
    assert call(uri, *search, user=new)[0] == 401


@pytest.mark.slow
def test_a_sweep_with_the_admins_credentials_logs_finished_runs_that_read_back(
    tracking_server, start_module, make_spec, new_store_file, tmp_path
):
    experiment = ("experiment=server-auth",)
    expected = finished_cells(
        runs_by_role(
            one_process_sqlite(make_spec, new_store_file, tmp_path, *AUTH_GRID, *experiment), "server-auth"
        )
    )
    started = time.monotonic()
    sweep = start_module(
        tmp_path, tracking_server.tracking_uri, *AUTH_GRID, *experiment, env=tracking_server.credentials
    )
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    print(f"4 cells through the auth server: {time.monotonic() - started:.1f} s (process included)")
    runs = runs_by_role(tracking_server.tracking_uri, "server-auth")
    [parent] = runs[Role.SWEEP]
    assert parent.info.status == "FINISHED"
    assert {r.info.status for r in runs[Role.CELL]} == {"FINISHED"}
    assert finished_cells(runs) == expected


@pytest.mark.slow
@pytest.mark.parametrize("password", [None, "not-the-password"], ids=["no-credentials", "wrong-password"])
def test_a_sweep_without_the_right_credentials_fails_with_one_line_and_logs_nothing(
    tracking_server, start_module, tmp_path, password
):
    uri = tracking_server.tracking_uri
    env = (
        {}
        if password is None
        else {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}
    )
    sweep = start_module(tmp_path, uri, *AUTH_GRID, "experiment=server-refused", env=env)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 2
    [line] = err.strip().splitlines()
    print(line)
    assert line.startswith(f"imbalance-sweep: error: tracking_uri='{uri}' cannot be used: ")
    assert line.endswith(
        "the server refused the credentials (HTTP 401); set MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD (python -m imbalance_sweep.server start prints the admin's)"
    )
    assert MlflowClient(uri).get_experiment_by_name("server-refused") is None
