"""A local MLflow tracking server for a team: PostgreSQL holds the runs, a directory the artifacts,
MLflow's basic-auth app guards it.

    python -m imbalance_sweep.server start  [--dir DIR] [--port PORT] [--db-port PORT] [--host HOST] [--workers N]
    python -m imbalance_sweep.server status [--dir DIR]
    python -m imbalance_sweep.server stop   [--dir DIR]

Everything lives in DIR (default ``./tracking-server``)::

    server.json          host and ports, recorded by the first start and reused by the next ones
    postgres/data/       PostgreSQL's data directory (initdb'd by the first start)
    postgres/password    the database password (mode 0600); postgres/postgres.log its log
    artifacts/           the server's artifact store (``--artifacts-destination``)
    auth/                mode 0700: admin-password (the admin's, generated), basic_auth.ini (the auth
                         app's config, rewritten at each start), flask-secret-key; each mode 0600
    mlflow-server.log    ``mlflow server``'s output
    mlflow-server.pid    the process ``start`` started: its id, start time and command line (JSON)

PostgreSQL (Debian's, from /usr/lib/postgresql/<version>/bin, else from PATH) listens on 127.0.0.1
only, with password authentication; only ``mlflow server`` talks to it. PostgreSQL refuses to run as
root, so a root user's PostgreSQL runs as the ``postgres`` system user (Debian's package creates it):
``postgres/`` is then owned by that user, which must be able to reach DIR.

``mlflow server`` runs MLflow's own authentication (``--app-name basic-auth``, from ``mlflow[auth]``):
its users and permissions live in their own database (``mlflow_auth``) on the same PostgreSQL, and the
first start creates the admin with a generated password. Clients pass MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD (or ``~/.mlflow/credentials``); only ``/health`` answers without them.

Where a sweep's time goes through the server (benchmarks/bench_server.py): a cell is three
requests (create_run, log_batch, set_terminated; tracking/client.py keeps MLflow's client from adding a
fourth), and the server spends 25 to 45 ms of CPU on them, nearly all in MLflow's own handlers and
store (SQLAlchemy, about 30 statements), which is why one process stays over 2x sqlite's cost per
cell and two processes on two cores share one CPU budget. Password checks are cached (below);
PostgreSQL keeps ``synchronous_commit`` on: a commit's flush costs 0.15 ms on this disk, too little
to trade a committed run for.

Stopping shuts ``mlflow server`` down, then PostgreSQL (``pg_ctl stop -m fast``, a clean shutdown):
the next start reads everything back. Stop signals only the process recorded by start (same id,
start time and command line): a stale pid file is removed, and nothing signalled. This module
imports neither mlflow nor the database driver: it starts them as processes.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..processes import command_line, pids, stat_fields

DEFAULT_DIR = "tracking-server"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DB_PORT = 5433  # not 5432: leave that to a system-wide PostgreSQL
DEFAULT_WORKERS = 2
DB_HOST = "127.0.0.1"  # PostgreSQL serves mlflow server alone: never beyond loopback
DB_NAME = "mlflow"
AUTH_DB_NAME = "mlflow_auth"  # MLflow's basic-auth users and permissions, on the same PostgreSQL
DB_USER = "mlflow"  # the cluster's superuser, owner of the database
POSTGRES_SYSTEM_USER = "postgres"
DRIVER = "psycopg"  # the module of the pinned PostgreSQL driver; SQLAlchemy names it in the URI
AUTH_APP = "basic-auth"  # MLflow's own authentication app (mlflow server --app-name)
AUTH_MODULE = "flask_wtf"  # what mlflow[auth] adds, pinned in pyproject.toml (Flask-WTF)
ADMIN_USERNAME = "admin"
# MLflow checks a password with scrypt (94 ms of CPU here), twice a request, unless it caches the
# check: without the cache a cell run (3 requests) costs over half a second more. With it, a worker
# checks a password once a minute; the rest of authentication is a user lookup (about 1 ms, MLflow's
# own, on every request). A changed password or a deleted user stops working at once on the worker
# that handled the change, and may still pass, for this long, on another worker.
AUTH_CACHE_SECONDS = 60
START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 60.0
PROGRAM = "python -m imbalance_sweep.server"
EXIT_NOT_RUNNING = 3  # status: as pg_ctl status and LSB init scripts


class ServerError(RuntimeError):
    """The server cannot be started, stopped or found: one line saying why."""


class PostgresNotFound(ServerError):
    """No PostgreSQL binaries on this machine."""


@dataclass(frozen=True)
class Settings:
    """Where the server listens; recorded in server.json so that a restart keeps its URI."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_port: int = DEFAULT_DB_PORT
    workers: int = DEFAULT_WORKERS

    @property
    def tracking_uri(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class Layout:
    """The files of a server directory."""

    directory: Path

    @property
    def settings(self) -> Path:
        return self.directory / "server.json"

    @property
    def postgres(self) -> Path:
        return self.directory / "postgres"

    @property
    def data(self) -> Path:
        return self.postgres / "data"

    @property
    def password(self) -> Path:
        return self.postgres / "password"

    @property
    def postgres_log(self) -> Path:
        return self.postgres / "postgres.log"

    @property
    def artifacts(self) -> Path:
        return self.directory / "artifacts"

    @property
    def mlflow_log(self) -> Path:
        return self.directory / "mlflow-server.log"

    @property
    def mlflow_pid(self) -> Path:
        return self.directory / "mlflow-server.pid"

    @property
    def auth(self) -> Path:
        return self.directory / "auth"

    @property
    def auth_config(self) -> Path:
        return self.auth / "basic_auth.ini"

    @property
    def admin_password(self) -> Path:
        return self.auth / "admin-password"

    @property
    def secret_key(self) -> Path:
        return self.auth / "flask-secret-key"


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


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The directory of PostgreSQL's server programs: Debian's newest, else the one on PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if debian:
        return Path(debian[-1]).parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    raise PostgresNotFound(
        "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb and no initdb on PATH"
        " (Debian: apt-get install postgresql, or scripts/install-test-deps)"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise ServerError(
            f"running as root, PostgreSQL must run as the {POSTGRES_SYSTEM_USER!r} system user,"
            " and there is none (Debian's postgresql package creates it)"
        ) from None


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, as_db_owner: bool = False):
    """Run a PostgreSQL program (as the postgres system user when we are root); ServerError on failure."""
    program = Path(command[0]).name
    if as_db_owner and _as_root():
        command = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", *command]
    done = subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ServerError(reason if reason.startswith(f"{program}:") else f"{program}: {reason}")
    return done


def _prepare_postgres_dir(layout: Layout) -> None:
    """postgres/ with mode 0700, owned by whoever runs PostgreSQL, which must reach it."""
    layout.postgres.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _as_root():
        return
    owner = _system_user()
    for path in [layout.postgres, *layout.postgres.rglob("*")]:
        if path.lstat().st_uid != owner.pw_uid:
            os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    reachable = subprocess.run(
        ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", "test", "-w", str(layout.postgres)],
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if reachable.returncode != 0:
        raise ServerError(
            f"the {POSTGRES_SYSTEM_USER!r} system user cannot reach {layout.postgres}: as root, PostgreSQL"
            " runs as that user, so every parent of --dir must be searchable by others"
            " (not under /root or pytest's private temp directory; /srv/mlflow or /tmp/NAME work)"
        )


def _password(layout: Layout) -> str:
    """The database password, made on first use (mode 0600, readable by PostgreSQL's initdb)."""
    if not layout.password.exists():
        descriptor = os.open(layout.password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
        if _as_root():
            owner = _system_user()
            os.chown(layout.password, owner.pw_uid, owner.pw_gid)
    return layout.password.read_text().strip()


def _initdb(layout: Layout, bin_dir: Path) -> None:
    """A new cluster whose superuser is DB_USER, password-authenticated on every connection."""
    _password(layout)
    _run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={layout.data}",
            f"--username={DB_USER}",
            f"--pwfile={layout.password}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ],
        cwd=layout.postgres,
        as_db_owner=True,
    )


def postgres_running(layout: Layout, bin_dir: Path | None = None) -> bool:
    if not (layout.data / "PG_VERSION").exists():
        return False
    bin_dir = bin_dir or postgres_bin()
    command = [str(bin_dir / "pg_ctl"), "status", f"--pgdata={layout.data}"]
    if _as_root():
        command = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", *command]
    status = subprocess.run(command, cwd=layout.postgres, stdin=subprocess.DEVNULL, capture_output=True)
    return status.returncode == 0


def _postgres_port(layout: Layout) -> int:
    """The port of the directory's running PostgreSQL (line 4 of postmaster.pid)."""
    return int((layout.data / "postmaster.pid").read_text().splitlines()[3])


def _start_postgres(layout: Layout, settings: Settings, bin_dir: Path) -> None:
    """Start PostgreSQL on DB_HOST:db_port (TCP only: no Unix socket) and wait until it is ready."""
    if _port_answers(DB_HOST, settings.db_port):
        raise ServerError(f"port {settings.db_port} on {DB_HOST} is in use: choose another with --db-port")
    options = f"-c listen_addresses={DB_HOST} -c port={settings.db_port} -c unix_socket_directories=''"
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "start",
            f"--pgdata={layout.data}",
            f"--log={layout.postgres_log}",
            f"--options={options}",
            "--wait",
            f"--timeout={int(START_TIMEOUT_SECONDS)}",
        ],
        cwd=layout.postgres,
        as_db_owner=True,
    )


def _ensure_database(layout: Layout, settings: Settings, bin_dir: Path, name: str = DB_NAME) -> None:
    """A database of the cluster, created on first start (MLflow creates its tables itself)."""
    env = {**os.environ, "PGPASSWORD": _password(layout), "PGCONNECT_TIMEOUT": "10"}
    connect = [f"--host={DB_HOST}", f"--port={settings.db_port}", f"--username={DB_USER}"]
    found = _run(
        [
            str(bin_dir / "psql"),
            *connect,
            "--dbname=postgres",
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            f"--command=SELECT 1 FROM pg_database WHERE datname = '{name}'",
        ],
        cwd=layout.directory,
        env=env,
    )
    if found.stdout.strip() != "1":
        _run([str(bin_dir / "createdb"), *connect, name], cwd=layout.directory, env=env)


def _stop_postgres(layout: Layout, bin_dir: Path) -> None:
    _run(
        [str(bin_dir / "pg_ctl"), "stop", f"--pgdata={layout.data}", "--mode=fast", "--wait"],
        cwd=layout.postgres,
        as_db_owner=True,
    )


def backend_store_uri(layout: Layout, settings: Settings, database: str = DB_NAME) -> str:
    """The SQLAlchemy URI of a database, naming the pinned driver (psycopg 3) explicitly."""
    return f"postgresql+{DRIVER}://{DB_USER}:{_password(layout)}@{DB_HOST}:{settings.db_port}/{database}"


# --- MLflow's basic-auth app --------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` whole with mode 0600 (never readable by others, not even for a moment)."""
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    partial.replace(path)


def _secret(path: Path) -> str:
    """A generated secret kept in its own file (mode 0600), made on first use."""
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def admin_credentials(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, str]:
    """The admin's MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (generated by the first start)."""
    layout = Layout(Path(directory).resolve())
    try:
        password = layout.admin_password.read_text().strip()
    except FileNotFoundError:
        raise ServerError(f"{layout.directory} has no admin password: start the server once first") from None
    return {"MLFLOW_TRACKING_USERNAME": ADMIN_USERNAME, "MLFLOW_TRACKING_PASSWORD": password}


def _auth_environment(layout: Layout, settings: Settings) -> dict[str, str]:
    """The variables that turn on MLflow's basic-auth app for this directory, writing its config.

    The config (mode 0600: it holds the database password) keeps users and permissions in their
    own database on the directory's PostgreSQL. MLflow creates the admin from MLFLOW_AUTH_ADMIN_*
    on the first start against an empty user store and ignores them once the admin exists. The
    Flask secret key (CSRF of the sign-up form) must be the same in every worker and every start.
    """
    layout.auth.mkdir(mode=0o700, exist_ok=True)
    layout.auth.chmod(0o700)
    _write_private(
        layout.auth_config,
        "# Written by python -m imbalance_sweep.server start, at every start (edits are lost).\n"
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {backend_store_uri(layout, settings, AUTH_DB_NAME)}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n",
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(layout.auth_config),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN_USERNAME,
        "MLFLOW_AUTH_ADMIN_PASSWORD": _secret(layout.admin_password),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret(layout.secret_key),
    }


# --- mlflow server ----------------------------------------------------------------------------


def _port_answers(host: str | None, port: int) -> bool:
    """Something accepts TCP connections on host:port (no host: the local host)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for tests and for picking ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a process, from /proc; None when it is gone."""
    fields = stat_fields(pid)
    return None if fields is None else (fields[0], int(fields[2]))


def _group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    members = []
    for pid in pids():
        stat = _proc_stat(pid)
        if stat and stat[1] == group and stat[0] != "Z":
            members.append(pid)
    return members


@dataclass(frozen=True)
class ProcessRecord:
    """What identifies one process for as long as it lives: a process id is reused once the process
    is gone, but not together with the same start time (field 22 of /proc/<pid>/stat, clock ticks
    since boot) and command line."""

    pid: int
    start_time: int
    cmdline: tuple[str, ...]

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        """The live process ``pid`` as it is now; None when it is gone or a zombie."""
        fields, arguments = stat_fields(pid), command_line(pid)
        if fields is None or fields[0] == "Z" or not arguments:
            return None
        # field 22 is the 20th after the command name (field 2)
        return cls(pid, int(fields[19]), arguments)

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start_time": self.start_time, "cmdline": list(self.cmdline)})

    @classmethod
    def from_json(cls, text: str) -> ProcessRecord:
        """ValueError when ``text`` is not such a record (an older plain process id included)."""
        try:
            found = json.loads(text)
            record = cls(int(found["pid"]), int(found["start_time"]), tuple(str(a) for a in found["cmdline"]))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError("it holds no process record (pid, start time, command line)") from error
        if record.pid <= 1:
            raise ValueError(f"it names process {record.pid}")
        return record


def _recorded_server(layout: Layout) -> tuple[int | None, str | None]:
    """(pid, None) when the pid file names a live process that matches its record, start time and
    command line; (None, why) when there is a pid file that does not; (None, None) when there is none."""
    try:
        text = layout.mlflow_pid.read_text()
    except FileNotFoundError:
        return None, None
    except OSError as error:
        return None, f"it cannot be read ({error.strerror})"
    try:
        record = ProcessRecord.from_json(text)
    except ValueError as error:
        return None, str(error)
    live = ProcessRecord.of(record.pid)
    if live is None:
        return None, f"process {record.pid} is gone"
    if live.start_time != record.start_time:
        return None, (
            f"process {record.pid} is another process (started at tick {live.start_time} after boot,"
            f" the recorded one at tick {record.start_time})"
        )
    if live.cmdline != record.cmdline:
        return None, f"process {record.pid} runs another command ({' '.join(live.cmdline)[:120]})"
    return record.pid, None


def mlflow_server_pid(directory: str | os.PathLike = DEFAULT_DIR) -> int | None:
    """The process (and process group) id of the directory's running ``mlflow server``, or None.

    Only the process that ``start`` recorded counts: the same process id, start time and command
    line. ``mlflow server`` leads the process group of its workers, which ``stop`` signals.
    """
    return _recorded_server(Layout(Path(directory).resolve()))[0]


def answers_health(tracking_uri: str) -> bool:
    """The server at ``tracking_uri`` answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"{tracking_uri}/health", timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 1) -> str:
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
) -> subprocess.Popen:
    """``mlflow server`` on ``backend_store_uri`` with its own artifact store, in its own session
    (it outlives this process); returns once /health answers. Stop it with :func:`stop_process_group`.

    ``app_name`` (``--app-name``, e.g. ``basic-auth``) and the variables it reads (``app_env``)
    wrap the tracking server in one of MLflow's apps. MLflow's job runner (GenAI jobs) is of no use
    to sweeps and is left off: two fewer processes.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    env = _server_environment(backend_store_uri, app_env)
    command = _server_command(artifacts, host=host, port=port, workers=workers, app_name=app_name)
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


def _server_command(
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
) -> subprocess.Popen:
    """Start the server in its own session (it outlives this process, and ``stop`` signals its
    group), its output appended to ``log`` after a line that dates this start."""
    with open(log, "ab") as out:
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


def _wait_until_healthy(process: subprocess.Popen, tracking_uri: str, log: Path) -> None:
    """Return once /health answers; a server that exits first, or does not answer within
    START_TIMEOUT_SECONDS (then it is stopped), is a ServerError naming its log."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not answers_health(tracking_uri):
        if process.poll() is not None:
            raise ServerError(
                f"mlflow server exited with code {process.returncode}: {_log_tail(log)} (log: {log})"
            )
        if time.monotonic() > deadline:
            stop_process_group(process.pid)
            raise ServerError(
                f"mlflow server did not answer {tracking_uri}/health within"
                f" {START_TIMEOUT_SECONDS:.0f} s (log: {log})"
            )
        time.sleep(0.2)


def _start_mlflow(layout: Layout, settings: Settings) -> int:
    """Start the directory's ``mlflow server`` on its PostgreSQL and record its process id."""
    if importlib.util.find_spec(DRIVER) is None:
        raise ServerError(f"the PostgreSQL driver {DRIVER!r} is not installed: pip install -e . installs it")
    if importlib.util.find_spec(AUTH_MODULE) is None:
        raise ServerError(
            f"MLflow's {AUTH_APP} app needs {AUTH_MODULE!r} (mlflow[auth]), which is not installed:"
            " pip install -e . installs it"
        )
    process = launch_mlflow_server(
        backend_store_uri(layout, settings),
        layout.artifacts,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log=layout.mlflow_log,
        cwd=layout.directory,
        app_name=AUTH_APP,
        app_env=_auth_environment(layout, settings),
    )
    record = ProcessRecord.of(process.pid)
    if record is None:
        raise ServerError(
            f"mlflow server exited as it started: {_log_tail(layout.mlflow_log)} (log: {layout.mlflow_log})"
        )
    partial = layout.mlflow_pid.with_name(layout.mlflow_pid.name + ".new")
    partial.write_text(record.to_json() + "\n")
    partial.replace(layout.mlflow_pid)
    return process.pid


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


def stop_process_group(pid: int) -> None:
    """SIGTERM to a process group (mlflow server and its workers), SIGKILL if it lingers; returns
    once none of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while _group_members(pid):
            time.sleep(0.05)


def _stop_mlflow(layout: Layout) -> str | None:
    """Stop the recorded ``mlflow server`` and remove its pid file. A pid file that names no process
    this directory started (stale, or reused by another process) is removed and nothing is signalled:
    returns the line that says so."""
    pid, stale = _recorded_server(layout)
    if pid is not None:
        stop_process_group(pid)
    layout.mlflow_pid.unlink(missing_ok=True)
    if stale is None:
        return None
    return f"removed the stale pid file {layout.mlflow_pid} and signalled nothing: {stale}"


# --- the three commands -----------------------------------------------------------------------


def _settings(layout: Layout, **given: object) -> Settings:
    """The recorded settings, with the ones given (not None) replacing them."""
    recorded = {}
    if layout.settings.exists():
        recorded = json.loads(layout.settings.read_text())
    known = Settings.__dataclass_fields__
    values = {key: value for key, value in recorded.items() if key in known}
    values.update({key: value for key, value in given.items() if value is not None})
    return Settings(**values)


def start(
    directory: str | os.PathLike = DEFAULT_DIR,
    *,
    host: str | None = None,
    port: int | None = None,
    db_port: int | None = None,
    workers: int | None = None,
) -> Server:
    """Start PostgreSQL and ``mlflow server`` for ``directory`` (each unless already running) and
    return once the server answers; the first start creates the directory, cluster and database.

    Settings not given are those of the previous start (server.json), else the defaults.
    """
    started = time.monotonic()
    layout = Layout(Path(directory).resolve())
    layout.directory.mkdir(parents=True, exist_ok=True)
    running = mlflow_server_pid(layout.directory)
    settings = _settings(layout, host=host, port=port, db_port=db_port, workers=workers)
    if running is not None:
        recorded = _settings(layout)
        if settings != recorded:
            raise ServerError(
                f"the server of {layout.directory} is running on {recorded.tracking_uri}: stop it first"
            )
        return Server(layout.directory, settings, running, time.monotonic() - started)
    if _port_answers(urllib.parse.urlparse(settings.tracking_uri).hostname, settings.port):
        raise ServerError(f"port {settings.port} is in use: choose another with --port")
    bin_dir = postgres_bin()
    _prepare_postgres_dir(layout)
    if not (layout.data / "PG_VERSION").exists():
        _initdb(layout, bin_dir)
    if not postgres_running(layout, bin_dir):
        _start_postgres(layout, settings, bin_dir)
    elif _postgres_port(layout) != settings.db_port:
        raise ServerError(
            f"the PostgreSQL of {layout.directory} is running on port {_postgres_port(layout)}:"
            " stop the server first to change --db-port"
        )
    _ensure_database(layout, settings, bin_dir)
    _ensure_database(layout, settings, bin_dir, AUTH_DB_NAME)
    layout.settings.write_text(json.dumps(settings.__dict__, indent=2) + "\n")
    pid = _start_mlflow(layout, settings)
    return Server(layout.directory, settings, pid, time.monotonic() - started)


@dataclass(frozen=True)
class Stopped:
    """What :func:`stop` did."""

    was_running: bool  # mlflow server or PostgreSQL was running, and is stopped
    stale_pid_file: str | None = None  # the line saying a pid file named no server of ours

    def __bool__(self) -> bool:
        return self.was_running


def stop(directory: str | os.PathLike = DEFAULT_DIR) -> Stopped:
    """Stop ``mlflow server``, then PostgreSQL (fast shutdown: clean, nothing lost).

    Only the process recorded by ``start`` is signalled (with its process group): a pid file whose
    process is gone, or whose process id now belongs to another process, is removed and nothing is
    signalled. Returns whether anything was running, and the line about a stale pid file if any.
    """
    layout = Layout(Path(directory).resolve())
    was_running = mlflow_server_pid(layout.directory) is not None
    stale = _stop_mlflow(layout)
    if (layout.data / "PG_VERSION").exists():
        bin_dir = postgres_bin()
        if postgres_running(layout, bin_dir):
            _stop_postgres(layout, bin_dir)
            was_running = True
    return Stopped(was_running, stale)


def status(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, object]:
    """What runs for ``directory``: the server's pid, whether it answers, whether PostgreSQL runs."""
    layout = Layout(Path(directory).resolve())
    settings = _settings(layout)
    pid = mlflow_server_pid(layout.directory)
    try:
        database = postgres_running(layout)
    except PostgresNotFound:
        database = False
    return {
        "directory": str(layout.directory),
        "tracking_uri": settings.tracking_uri,
        "mlflow_server_pid": pid,
        "answers": pid is not None and answers_health(settings.tracking_uri),
        "postgres": database,
        "db_port": settings.db_port,
    }


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


def _print_stopped(directory: str, stopped: Stopped) -> None:
    """What ``stop`` did; a stale pid file is said on stderr, as a warning."""
    if stopped.stale_pid_file:
        print(f"{PROGRAM}: {stopped.stale_pid_file}", file=sys.stderr)
    print(f"stopped the server of {Path(directory).resolve()}" if stopped else "nothing was running")


def _status_line(found: dict[str, object]) -> str:
    """``status``'s one line: the server (its pid, whether it answers) and PostgreSQL."""
    server_state = (
        f"mlflow server pid {found['mlflow_server_pid']} at {found['tracking_uri']}"
        f" ({'answering' if found['answers'] else 'not answering'})"
        if found["mlflow_server_pid"]
        else "mlflow server not running"
    )
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
            _print_stopped(args.dir, stop(args.dir))
            return 0
        found = status(args.dir)
        print(_status_line(found))
        return 0 if found["answers"] and found["postgres"] else EXIT_NOT_RUNNING
    except ServerError as error:
        from ..cli import report_user_error

        return report_user_error(error)
