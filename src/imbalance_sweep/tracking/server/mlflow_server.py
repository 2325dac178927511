"""``mlflow server`` as a process: its command line and environment, started in its own session,
ready once ``/health`` answers.

Where a sweep's time goes through the server (benchmarks/bench_server.py): a cell is three
requests (create_run, log_batch, set_terminated; tracking/tracker.py keeps MLflow's client from adding a
fourth), and the server spends 25 to 45 ms of CPU on them, nearly all in MLflow's own handlers and
store (SQLAlchemy, about 30 statements), which is why one process stays over 2x sqlite's cost per
cell and two processes on two cores share one CPU budget. Password checks are cached (auth.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ...runtime.processes import stop_process_group
from .errors import ServerError
from .files import open_append
from .layout import START_TIMEOUT_SECONDS
from .probes import answers_health


def log_tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


# Several workers are served by gunicorn, not uvicorn: uvicorn's worker processes accept connections
# on a socket rebuilt with protocol 0, so asyncio never sets TCP_NODELAY on them and every response
# on a kept-alive connection waits ~40 ms for the client's delayed ACK (uvicorn issue #3149; MLflow's
# client keeps its connections alive). gunicorn sets TCP_NODELAY; gthread workers keep HTTP
# keep-alive; 120 s lets a large artifact upload finish. One worker stays on uvicorn (unaffected).
# MLflow prints a FutureWarning that recommends uvicorn: that is the trade.
GUNICORN_OPTIONS = "--timeout=120 --worker-class=gthread --threads=2"


def launch_mlflow_server(
    backend_store_uri: str,
    artifacts: Path,
    *,
    host: str,
    port: int,
    workers: int,
    log: Path,
    cwd: Path,
    app_name: str | None = None,
    app_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``mlflow server`` on ``backend_store_uri`` with its own artifact store, in its own session
    (it outlives this process); returns once /health answers. Stop it with :func:`stop_process_group`.

    ``app_name`` (``--app-name``, e.g. ``basic-auth``) and the variables it reads (``app_env``)
    wrap the tracking server in one of MLflow's apps. MLflow's job runner (GenAI jobs) is of no use
    to sweeps and is left off: two fewer processes.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    env = _server_environment(backend_store_uri, app_env)
    command = mlflow_server_command(artifacts, host=host, port=port, workers=workers, app_name=app_name)
    tracking_uri = f"http://{host}:{port}"
    process = _spawn_server(command, env, cwd=cwd, log=log, tracking_uri=tracking_uri)
    _wait_until_healthy(process, tracking_uri, log)
    return process


def _server_environment(backend_store_uri: str, app_env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment for the server, without the variables that would make it a client
    of another run or server, or hand it the caller's auth settings; then the app's own."""
    env = {key: value for key, value in os.environ.items() if key not in _CLIENT_VARIABLES | _APP_VARIABLES}
    env.update(app_env or {})
    # The URI may hold a password: through the environment, it stays out of `ps`.
    env["MLFLOW_BACKEND_STORE_URI"] = backend_store_uri
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def mlflow_server_command(
    artifacts: Path, *, host: str, port: int, workers: int, app_name: str | None
) -> list[str]:
    """``mlflow server``'s command line: gunicorn's options when it serves several workers (see
    GUNICORN_OPTIONS), ``--app-name`` when an app wraps it; no store URI (it may hold a password)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        f"--artifacts-destination={artifacts}",
        f"--host={host}",
        f"--port={port}",
        f"--workers={workers}",
        *([f"--gunicorn-opts={GUNICORN_OPTIONS}"] if workers > 1 else []),
        *([f"--app-name={app_name}"] if app_name else []),
    ]


def _spawn_server(
    command: list[str], env: dict[str, str], *, cwd: Path, log: Path, tracking_uri: str
) -> subprocess.Popen[bytes]:
    """Start the server in its own session (it outlives this process, and ``stop`` signals its
    group), its output appended to ``log`` after a line that dates this start."""
    with open_append(log) as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start {tracking_uri}\n".encode())
        out.flush()
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_healthy(process: subprocess.Popen[bytes], tracking_uri: str, log: Path) -> None:
    """Return once /health answers; a server that exits first, or does not answer within
    START_TIMEOUT_SECONDS (then it is stopped), is a ServerError naming its log."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not answers_health(tracking_uri):
        if process.poll() is not None:
            raise ServerError(
                f"mlflow server exited with code {process.returncode}: {log_tail(log)} (log: {log})"
            )
        if time.monotonic() > deadline:
            stop_process_group(process.pid)
            raise ServerError(
                f"mlflow server did not answer {tracking_uri}/health within"
                f" {START_TIMEOUT_SECONDS:.0f} s (log: {log})"
            )
        time.sleep(0.2)


# Variables that make an MLflow process a client of some other run or server; not the server's.
_CLIENT_VARIABLES = {
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
}
# What MLflow's basic-auth app reads: only ever the directory's own (app_env), never the caller's
_APP_VARIABLES = {
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_AUTH_ADMIN_USERNAME",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
}
