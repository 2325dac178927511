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
the next start reads everything back. Stop and status trust no pid file alone: the directory's
server is a process that runs the command start launches for this directory and listens on its
port (the pid file names it; a lost or older pid file falls back to the port's listener). Stop
signals nothing else, and fails while something else still answers on the directory's port; start
says the server is there only once an authenticated request reads the store through PostgreSQL.

The directory may be one others can reach, and root may run this: a link where the server keeps a
file or directory of its own is refused, and nothing is written, chowned or chmodded through one
(tracking/server_files.py). This module imports neither mlflow nor the database driver: it starts
them as processes.
"""

from __future__ import annotations

import argparse
import base64
import glob
import importlib.util
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..runtime.processes import (
    command_line,
    group_members,
    listening_sockets,
    pids,
    socket_inodes,
    stat_fields,
    state_and_group,
    stop_process_group,
)
from ..runtime.user_errors import report_user_error
from .server_files import (
    RefusedPath,
    check_entry,
    check_server_directory,
    chown_tree,
    create_file,
    make_directory,
    open_append,
    read_file,
    remove_file,
    write_file,
)

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
PROGRAM = "python -m imbalance_sweep.server"
EXIT_NOT_RUNNING = 3  # status: as pg_ctl status and LSB init scripts
EXIT_STILL_ANSWERING = 1  # stop: a server that is not this directory's still answers on its port


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

    def own_entries(self) -> list[Path]:
        """Every file and directory the server keeps here (a directory before what is in it)."""
        return [
            self.settings,
            self.postgres,
            self.data,
            self.password,
            self.postgres_log,
            self.artifacts,
            self.mlflow_log,
            self.mlflow_pid,
            self.auth,
            self.auth_config,
            self.admin_password,
            self.secret_key,
        ]


def _layout(directory: str | os.PathLike) -> Layout:
    """The server directory as named, its parents resolved but not its own name: a link there, or
    where the server keeps one of its own files, is refused (RefusedPath) rather than followed."""
    named = Path(os.path.abspath(directory))
    path = named.parent.resolve() / named.name if named.name else named
    check_server_directory(path)
    layout = Layout(path)
    for entry in layout.own_entries():
        check_entry(entry)
    return layout


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
    """postgres/ with mode 0700, owned by whoever runs PostgreSQL, which must reach it. As root,
    the tree is handed to the postgres user only when it is ours (made, and marked, by a start)."""
    owner = _system_user() if _as_root() else None
    owners = {os.geteuid()} | ({owner.pw_uid} if owner else set())
    make_directory(layout.postgres, 0o700, owners=owners, mark=True)
    if owner is None:
        return
    chown_tree(layout.postgres, owner.pw_uid, owner.pw_gid)
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
            " (not under /root or pytest's private temp directory; e.g. /srv/mlflow)"
        )


def _password(layout: Layout) -> str:
    """The database password, made on first use (mode 0600, readable by PostgreSQL's initdb)."""
    try:
        return read_file(layout.password).strip()
    except FileNotFoundError:
        pass
    owner = (_system_user().pw_uid, _system_user().pw_gid) if _as_root() else None
    create_file(layout.password, secrets.token_urlsafe(24) + "\n", 0o600, owner=owner)
    return read_file(layout.password).strip()


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


def _secret(path: Path) -> str:
    """A generated secret kept in its own file (mode 0600), made on first use."""
    try:
        return read_file(path).strip()
    except FileNotFoundError:
        write_file(path, secrets.token_urlsafe(24) + "\n", 0o600)
    return read_file(path).strip()


def admin_credentials(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, str]:
    """The admin's MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (generated by the first start)."""
    layout = _layout(directory)
    try:
        password = read_file(layout.admin_password).strip()
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
    make_directory(layout.auth, 0o700, owners={os.geteuid()})
    write_file(
        layout.auth_config,
        "# Written by python -m imbalance_sweep.server start, at every start (edits are lost).\n"
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {backend_store_uri(layout, settings, AUTH_DB_NAME)}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n",
        0o600,
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


def server_command(layout: Layout, settings: Settings) -> list[str]:
    """The command line of the ``mlflow server`` that ``start`` launches for this directory and
    these settings: with the port it listens on, what identifies the directory's server."""
    return _server_command(
        layout.artifacts, host=settings.host, port=settings.port, workers=settings.workers, app_name=AUTH_APP
    )


def _group_listens(group: int, port: int) -> bool:
    """A process of the group holds a TCP socket listening on ``port``."""
    listening = listening_sockets(port)
    return bool(listening) and any(socket_inodes(pid) & listening for pid in group_members(group))


def _not_the_server(pid: int, layout: Layout, settings: Settings) -> str | None:
    """None when process ``pid`` is this directory's ``mlflow server``: it leads its process group
    (``stop`` signals the group), runs the command ``start`` launches for this directory (whatever
    the interpreter's path), and its group listens on the directory's port. Else, why not."""
    fields, arguments = stat_fields(pid), command_line(pid)
    if fields is None or fields[0] == "Z" or arguments is None:
        return f"process {pid} is gone"
    if int(fields[2]) != pid:
        return f"process {pid} leads no process group"
    if arguments[1:] != tuple(server_command(layout, settings)[1:]):
        return f"process {pid} runs another command ({' '.join(arguments)[:120]})"
    if not _group_listens(pid, settings.port):
        return f"process {pid} does not listen on port {settings.port}"
    return None


def _recorded_server(layout: Layout, settings: Settings) -> tuple[int | None, str | None]:
    """(pid, None) when the pid file names a live process that matches its record (start time and
    command line) and is this directory's server; (None, why) when there is a pid file that does not;
    (None, None) when there is none."""
    try:
        text = read_file(layout.mlflow_pid)
    except FileNotFoundError:
        return None, None
    except (OSError, RefusedPath) as error:
        return None, f"it cannot be read ({getattr(error, 'strerror', None) or error})"
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
    why = _not_the_server(record.pid, layout, settings)
    return (record.pid, None) if why is None else (None, why)


def _port_group_leaders(port: int) -> list[int]:
    """The process groups of the processes that listen on ``port`` (those /proc lets us see)."""
    listening = listening_sockets(port)
    if not listening:
        return []
    groups = set()
    for pid in pids():
        stat = state_and_group(pid)
        if stat is not None and socket_inodes(pid) & listening:
            groups.add(stat[1])
    return sorted(groups)


@dataclass(frozen=True)
class Found:
    """The directory's ``mlflow server``, as ``stop`` and ``status`` identify it."""

    pid: int | None  # its process (and process group) id; None when none runs, or none we can tell is ours
    pid_file: str | None  # why the pid file did not identify it (None: it did, or there is none)


def _find_server(layout: Layout, settings: Settings) -> Found:
    """The process the pid file names, if it is the directory's server; else the one that listens
    on the directory's port and runs the directory's server command (a pid file lost, or written by
    an older version, still finds the server; a forged one signals nothing)."""
    pid, why = _recorded_server(layout, settings)
    if pid is not None:
        return Found(pid, None)
    for leader in _port_group_leaders(settings.port):
        if _not_the_server(leader, layout, settings) is None:
            return Found(leader, why)
    return Found(None, why)


def mlflow_server_pid(directory: str | os.PathLike = DEFAULT_DIR) -> int | None:
    """The process (and process group) id of the directory's running ``mlflow server``, or None.

    Only this directory's server counts: the process runs the command ``start`` launches for the
    directory and listens on its port. ``mlflow server`` leads the process group of its workers,
    which ``stop`` signals.
    """
    layout = _layout(directory)
    return _find_server(layout, _settings(layout)).pid


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
        app_env=_auth_environment(layout, settings),
    )
    record = ProcessRecord.of(process.pid)
    if record is None:
        raise ServerError(
            f"mlflow server exited as it started: {_log_tail(layout.mlflow_log)} (log: {layout.mlflow_log})"
        )
    write_file(layout.mlflow_pid, record.to_json() + "\n")
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


# --- the three commands -----------------------------------------------------------------------


def _settings(layout: Layout, **given: object) -> Settings:
    """The recorded settings, with the ones given (not None) replacing them."""
    recorded = {}
    try:
        recorded = json.loads(read_file(layout.settings))
    except FileNotFoundError:
        pass
    except ValueError:
        raise ServerError(
            f"{layout.settings} is not the JSON that start writes: remove it to start afresh"
        ) from None
    known = Settings.__dataclass_fields__
    values = {key: value for key, value in recorded.items() if key in known}
    values.update({key: value for key, value in given.items() if value is not None})
    return Settings(**values)


def _uri_host(settings: Settings) -> str | None:
    return urllib.parse.urlparse(settings.tracking_uri).hostname


def _authenticated_status(settings: Settings, credentials: dict[str, str]) -> int | str:
    """The HTTP status of one authenticated read of the store (searching experiments), which
    /health does not make: it answers 200 only when the server reaches its PostgreSQL."""
    user = f"{credentials['MLFLOW_TRACKING_USERNAME']}:{credentials['MLFLOW_TRACKING_PASSWORD']}"
    request = urllib.request.Request(
        f"{settings.tracking_uri}/api/2.0/mlflow/experiments/search",
        data=b'{"max_results": 1}',
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(user.encode()).decode(),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10.0) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def _check_working(layout: Layout, settings: Settings, bin_dir: Path) -> None:
    """PostgreSQL runs on the directory's port and the server reads the store through it, as the
    admin: what ``start`` checks before it says the server is there (a server that answers /health
    while its PostgreSQL is down answers every other call with 503)."""
    if not (postgres_running(layout, bin_dir) and _port_answers(DB_HOST, settings.db_port)):
        raise ServerError(
            f"the PostgreSQL of {layout.directory} does not run on port {settings.db_port}"
            f" (log: {layout.postgres_log})"
        )
    credentials = admin_credentials(layout.directory)
    deadline = time.monotonic() + 30.0  # a pooled connection from before a restart of PostgreSQL fails once
    while (answer := _authenticated_status(settings, credentials)) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    if answer != 200:
        raise ServerError(
            f"the server at {settings.tracking_uri} does not serve the store (an authenticated search"
            f" answered {answer}): see {layout.mlflow_log}"
        )


def start(
    directory: str | os.PathLike = DEFAULT_DIR,
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
    layout = _layout(directory)
    layout.directory.parent.mkdir(parents=True, exist_ok=True)
    make_directory(layout.directory, 0o755, owners={os.geteuid(), 0})
    recorded = _settings(layout)
    running = _find_server(layout, recorded)
    settings = _settings(layout, host=host, port=port, db_port=db_port, workers=workers)
    if running.pid is not None and settings != recorded:
        raise ServerError(
            f"the server of {layout.directory} is running on {recorded.tracking_uri}: stop it first"
        )
    if running.pid is None and _port_answers(_uri_host(settings), settings.port):
        raise ServerError(
            f"port {settings.port} is in use by a program that is not this directory's mlflow server:"
            " choose another with --port"
        )
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


def stop(directory: str | os.PathLike = DEFAULT_DIR) -> Stopped:
    """Stop ``mlflow server``, then PostgreSQL (fast shutdown: clean, nothing lost).

    Only this directory's server is signalled (with its process group): the process the pid file
    names, else the one listening on the directory's port, and only when it runs the directory's
    server command and listens on its port. A pid file that identifies no such process is removed
    and says why. A server left answering on the directory's port is said, not signalled.
    """
    layout = _layout(directory)
    settings = _settings(layout)
    found = _find_server(layout, settings)
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
            _stop_postgres(layout, bin_dir)
            database = True
    still = None
    if answers_health(settings.tracking_uri):
        still = (
            f"a server still answers at {settings.tracking_uri}/health and it is not this directory's"
            " mlflow server (its command line and listening port are not the ones start gives it, or"
            " not visible to this user): nothing signalled it"
        )
    return Stopped(found.pid is not None or database, stale, found.pid, database, still)


def status(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, object]:
    """What runs for ``directory``: its server (identified as :func:`stop` does) and whether it
    answers, whether anything else answers on its port, and whether its PostgreSQL runs there."""
    layout = _layout(directory)
    settings = _settings(layout)
    found = _find_server(layout, settings)
    health = answers_health(settings.tracking_uri)
    try:
        database = postgres_running(layout) and _port_answers(DB_HOST, settings.db_port)
    except PostgresNotFound:
        database = False
    return {
        "directory": str(layout.directory),
        "tracking_uri": settings.tracking_uri,
        "mlflow_server_pid": found.pid,
        "answers": found.pid is not None and health,
        "other_answers": found.pid is None and health,  # a server not this directory's, on its port
        "port_in_use": found.pid is None and _port_answers(_uri_host(settings), settings.port),
        "pid_file": found.pid_file,
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
            _print_stopped(_layout(args.dir).directory, stopped)
            return EXIT_STILL_ANSWERING if stopped.still_answering else 0
        found = status(args.dir)
        print(_status_line(found))
        return 0 if found["answers"] and found["postgres"] else EXIT_NOT_RUNNING
    except (ServerError, RefusedPath) as error:
        return report_user_error(error)
