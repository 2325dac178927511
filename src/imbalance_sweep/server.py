"""``python -m imbalance_sweep.server``: a local MLflow tracking server for a team (PostgreSQL holds
the runs, a directory the artifacts, MLflow's basic-auth app guards it); the command line and what it
prints. The server itself is tracking/server/.

    python -m imbalance_sweep.server start  [--dir DIR] [--port PORT] [--db-port PORT] [--host HOST] [--workers N]
    python -m imbalance_sweep.server status [--dir DIR]
    python -m imbalance_sweep.server stop   [--dir DIR]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .runtime.user_errors import report_user_error
from .tracking.server.auth import ADMIN_USERNAME
from .tracking.server.errors import ServerError
from .tracking.server.files import RefusedPath
from .tracking.server.layout import (
    DEFAULT_DB_PORT,
    DEFAULT_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    Layout,
    open_layout,
)
from .tracking.server.lifecycle import Server, Stopped, start, status, stop
from .tracking.server.postgres import DB_HOST

PROGRAM = "python -m imbalance_sweep.server"
EXIT_NOT_RUNNING = 3  # status: as pg_ctl status and LSB init scripts
EXIT_STILL_ANSWERING = 1  # stop: a server that is not this directory's still answers on its port


def _parser() -> argparse.ArgumentParser:
    """The command line: a command, the directory, and the settings only ``start`` takes."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Start, stop or check a local MLflow tracking server backed by PostgreSQL.",
    )
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument(
        "--dir", default=DEFAULT_DIR, help=f"where the server's data lives (default: ./{DEFAULT_DIR})"
    )
    parser.add_argument("--host", help=f"address mlflow server binds (default: {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"mlflow server's port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--db-port", type=int, help=f"PostgreSQL's port on {DB_HOST} (default: {DEFAULT_DB_PORT})"
    )
    parser.add_argument(
        "--workers", type=int, help=f"mlflow server's worker processes (default: {DEFAULT_WORKERS})"
    )
    return parser


def _print_started(server: Server) -> None:
    """Where the server is, and the lines that make a shell its client (the password stays in its
    file: the export reads it)."""
    password_file = Layout(server.directory).admin_password
    print(
        f"MLflow tracking server at {server.tracking_uri} (pid {server.pid}; PostgreSQL on"
        f" {DB_HOST}:{server.settings.db_port}; data in {server.directory})\n"
        f"MLflow's basic authentication: user {ADMIN_USERNAME}, password in {password_file} (mode 0600)\n"
        f"export MLFLOW_TRACKING_URI={server.tracking_uri}\n"
        f"export MLFLOW_TRACKING_USERNAME={ADMIN_USERNAME}\n"
        f'export MLFLOW_TRACKING_PASSWORD="$(cat {shlex.quote(str(password_file))})"'
    )


def _print_stopped(directory: Path, stopped: Stopped) -> None:
    """What ``stop`` did; a pid file that identified nothing, and a server left answering, on stderr."""
    if stopped.stale_pid_file:
        print(f"{PROGRAM}: {stopped.stale_pid_file}", file=sys.stderr)
    done = [f"mlflow server (pid {stopped.server_pid})"] if stopped.server_pid else []
    done += ["PostgreSQL"] if stopped.postgres else []
    print(f"stopped {' and '.join(done)} of {directory}" if done else f"nothing of {directory} was running")
    if stopped.still_answering:
        print(f"{PROGRAM}: error: {stopped.still_answering}", file=sys.stderr)


def _status_line(found: dict[str, object]) -> str:
    """``status``'s one line: the server (its pid, whether it answers, or what else answers on its
    port) and PostgreSQL."""
    uri, pid_file = found["tracking_uri"], found["pid_file"]
    if found["mlflow_server_pid"]:
        answering = "answering" if found["answers"] else "not answering /health"
        how = f"; found by its port, the pid file identified none: {pid_file}" if pid_file else ""
        server_state = f"mlflow server pid {found['mlflow_server_pid']} at {uri} ({answering}{how})"
    elif found["other_answers"]:
        why = pid_file or "no pid file"
        server_state = f"a server answers at {uri} but it is not one this directory recorded ({why})"
    elif found["port_in_use"]:
        server_state = f"mlflow server not running; another program listens on the port of {uri}"
    else:
        server_state = "mlflow server not running"
    database_state = (
        f"PostgreSQL {'running' if found['postgres'] else 'not running'} on port {found['db_port']}"
    )
    return f"{found['directory']}: {server_state}; {database_state}"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "start" and any(
        value is not None for value in (args.host, args.port, args.db_port, args.workers)
    ):
        parser.error(f"{args.command} takes only --dir (the ports are recorded in the directory)")
    try:
        if args.command == "start":
            server = start(
                args.dir, host=args.host, port=args.port, db_port=args.db_port, workers=args.workers
            )
            _print_started(server)
            return 0
        if args.command == "stop":
            stopped = stop(args.dir)
            _print_stopped(open_layout(args.dir).directory, stopped)
            return EXIT_STILL_ANSWERING if stopped.still_answering else 0
        found = status(args.dir)
        print(_status_line(found))
        return 0 if found["answers"] and found["postgres"] else EXIT_NOT_RUNNING
    except (ServerError, RefusedPath) as error:
        return report_user_error(error)


if __name__ == "__main__":
    sys.exit(main())
