"""Start, stop and status of a directory's server: PostgreSQL, then ``mlflow server`` on it.

Start says the server is there only once an authenticated request reads the store through
PostgreSQL. Stop shuts ``mlflow server`` down, then PostgreSQL (a clean shutdown: the next start
reads everything back); it signals only the directory's server (identity.py), and says so while
something else still answers on the directory's port.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ...runtime.processes import stop_process_group
from .auth import AUTH_APP, AUTH_MODULE, admin_credentials, auth_environment
from .errors import ServerError
from .files import make_directory, remove_file, write_file
from .identity import ProcessRecord, find_server
from .layout import DEFAULT_DIR, Layout, Settings, open_layout, recorded_settings
from .mlflow_server import launch_mlflow_server, log_tail
from .postgres import (
    AUTH_DB_NAME,
    DB_HOST,
    DRIVER,
    PostgresNotFound,
    backend_store_uri,
    ensure_database,
    initdb,
    postgres_bin,
    postgres_port,
    postgres_running,
    prepare_postgres_dir,
    start_postgres,
    stop_postgres,
)
from .probes import answers_health, authenticated_status, port_answers, uri_host


@dataclass(frozen=True)
class Server:
    """A started server: the URI to export as MLFLOW_TRACKING_URI, and where its data lives."""

    directory: Path
    settings: Settings
    pid: int
    seconds: float  # how long start() took

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri

    @property
    def credentials(self) -> dict[str, str]:
        """The admin's MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."""
        return admin_credentials(self.directory)


def _start_mlflow(layout: Layout, settings: Settings) -> int:
    """Start the directory's ``mlflow server`` on its PostgreSQL and record its process id."""
    if importlib.util.find_spec(DRIVER) is None:
        raise ServerError(f"the PostgreSQL driver {DRIVER!r} is not installed: pip install -e . installs it")
    if importlib.util.find_spec(AUTH_MODULE) is None:
        raise ServerError(
            f"MLflow's {AUTH_APP} app needs {AUTH_MODULE!r} (mlflow[auth]), which is not installed:"
            " pip install -e . installs it"
        )
    make_directory(layout.artifacts, 0o755, owners={os.geteuid()})
    process = launch_mlflow_server(
        backend_store_uri(layout, settings),
        layout.artifacts,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log=layout.mlflow_log,
        cwd=layout.directory,
        app_name=AUTH_APP,
        app_env=auth_environment(layout, settings),
    )
    record = ProcessRecord.of(process.pid)
    if record is None:
        raise ServerError(
            f"mlflow server exited as it started: {log_tail(layout.mlflow_log)} (log: {layout.mlflow_log})"
        )
    write_file(layout.mlflow_pid, record.to_json() + "\n")
    return process.pid


def _check_working(layout: Layout, settings: Settings, bin_dir: Path) -> None:
    """PostgreSQL runs on the directory's port and the server reads the store through it, as the
    admin: what ``start`` checks before it says the server is there (a server that answers /health
    while its PostgreSQL is down answers every other call with 503)."""
    if not (postgres_running(layout, bin_dir) and port_answers(DB_HOST, settings.db_port)):
        raise ServerError(
            f"the PostgreSQL of {layout.directory} does not run on port {settings.db_port}"
            f" (log: {layout.postgres_log})"
        )
    credentials = admin_credentials(layout.directory)
    deadline = time.monotonic() + 30.0  # a pooled connection from before a restart of PostgreSQL fails once
    while (answer := authenticated_status(settings, credentials)) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    if answer != 200:
        raise ServerError(
            f"the server at {settings.tracking_uri} does not serve the store (an authenticated search"
            f" answered {answer}): see {layout.mlflow_log}"
        )


def start(
    directory: str | os.PathLike[str] = DEFAULT_DIR,
    *,
    host: str | None = None,
    port: int | None = None,
    db_port: int | None = None,
    workers: int | None = None,
) -> Server:
    """Start PostgreSQL and ``mlflow server`` for ``directory`` (each unless already running) and
    return once the server serves the store; the first start creates the directory, cluster and
    database.

    Settings not given are those of the previous start (server.json), else the defaults.
    """
    started = time.monotonic()
    layout = open_layout(directory)
    layout.directory.parent.mkdir(parents=True, exist_ok=True)
    make_directory(layout.directory, 0o755, owners={os.geteuid(), 0})
    recorded = recorded_settings(layout)
    running = find_server(layout, recorded)
    settings = recorded_settings(layout, host=host, port=port, db_port=db_port, workers=workers)
    if running.pid is not None and settings != recorded:
        raise ServerError(
            f"the server of {layout.directory} is running on {recorded.tracking_uri}: stop it first"
        )
    if running.pid is None and port_answers(uri_host(settings), settings.port):
        raise ServerError(
            f"port {settings.port} is in use by a program that is not this directory's mlflow server:"
            " choose another with --port"
        )
    bin_dir = postgres_bin()
    prepare_postgres_dir(layout)
    if not (layout.data / "PG_VERSION").exists():
        initdb(layout, bin_dir)
    if not postgres_running(layout, bin_dir):
        start_postgres(layout, settings, bin_dir)
    elif postgres_port(layout) != settings.db_port:
        raise ServerError(
            f"the PostgreSQL of {layout.directory} is running on port {postgres_port(layout)}:"
            " stop the server first to change --db-port"
        )
    ensure_database(layout, settings, bin_dir)
    ensure_database(layout, settings, bin_dir, AUTH_DB_NAME)
    if running.pid is None:
        write_file(layout.settings, json.dumps(settings.__dict__, indent=2) + "\n")
        pid = _start_mlflow(layout, settings)
    else:
        pid = running.pid
    _check_working(layout, settings, bin_dir)
    return Server(layout.directory, settings, pid, time.monotonic() - started)


@dataclass(frozen=True)
class Stopped:
    """What :func:`stop` did, and what it left answering."""

    was_running: bool  # mlflow server or PostgreSQL was running, and is stopped
    stale_pid_file: str | None = None  # the line saying the pid file identified no server of ours
    server_pid: int | None = None  # the mlflow server stopped (with its process group)
    postgres: bool = False  # PostgreSQL was running, and is stopped
    still_answering: str | None = None  # the line saying a server still answers on the directory's port

    def __bool__(self) -> bool:
        return self.was_running


def stop(directory: str | os.PathLike[str] = DEFAULT_DIR) -> Stopped:
    """Stop ``mlflow server``, then PostgreSQL (fast shutdown: clean, nothing lost).

    Only this directory's server is signalled (with its process group): the process the pid file
    names, else the one listening on the directory's port, and only when it runs the directory's
    server command and listens on its port. A pid file that identifies no such process is removed
    and says why. A server left answering on the directory's port is said, not signalled.
    """
    layout = open_layout(directory)
    settings = recorded_settings(layout)
    found = find_server(layout, settings)
    if found.pid is not None:
        stop_process_group(found.pid)
    remove_file(layout.mlflow_pid)
    stale = None
    if found.pid_file is not None:
        stale = f"the pid file {layout.mlflow_pid} identified no mlflow server of this directory: {found.pid_file}"
        stale += (
            f"; stopped the one listening on port {settings.port}"
            if found.pid is not None
            else "; removed it"
        )
    database = False
    if (layout.data / "PG_VERSION").exists():
        bin_dir = postgres_bin()
        if postgres_running(layout, bin_dir):
            stop_postgres(layout, bin_dir)
            database = True
    still = None
    if answers_health(settings.tracking_uri):
        still = (
            f"a server still answers at {settings.tracking_uri}/health and it is not this directory's"
            " mlflow server (its command line and listening port are not the ones start gives it, or"
            " not visible to this user): nothing signalled it"
        )
    return Stopped(found.pid is not None or database, stale, found.pid, database, still)


def status(directory: str | os.PathLike[str] = DEFAULT_DIR) -> dict[str, object]:
    """What runs for ``directory``: its server (identified as :func:`stop` does) and whether it
    answers, whether anything else answers on its port, and whether its PostgreSQL runs there."""
    layout = open_layout(directory)
    settings = recorded_settings(layout)
    found = find_server(layout, settings)
    health = answers_health(settings.tracking_uri)
    try:
        database = postgres_running(layout) and port_answers(DB_HOST, settings.db_port)
    except PostgresNotFound:
        database = False
    return {
        "directory": str(layout.directory),
        "tracking_uri": settings.tracking_uri,
        "mlflow_server_pid": found.pid,
        "answers": found.pid is not None and health,
        "other_answers": found.pid is None and health,  # a server not this directory's, on its port
        "port_in_use": found.pid is None and port_answers(uri_host(settings), settings.port),
        "pid_file": found.pid_file,
        "postgres": database,
        "db_port": settings.db_port,
    }
