"""The directory's PostgreSQL: its programs, its cluster, its databases, started and stopped.

PostgreSQL (Debian's, from /usr/lib/postgresql/<version>/bin, else from PATH) listens on 127.0.0.1
only, with password authentication; only ``mlflow server`` talks to it. PostgreSQL refuses to run as
root, so a root user's PostgreSQL runs as the ``postgres`` system user (Debian's package creates it):
``postgres/`` is then owned by that user, which must be able to reach DIR.

PostgreSQL keeps ``synchronous_commit`` on: a commit's flush costs 0.15 ms on this disk, too little
to trade a committed run for. Stopping is ``pg_ctl stop -m fast``, a clean shutdown: the next start
reads everything back.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from .errors import ServerError
from .files import chown_tree, create_file, make_directory, read_file
from .layout import START_TIMEOUT_SECONDS, Layout, Settings
from .probes import port_answers

DB_HOST = "127.0.0.1"  # PostgreSQL serves mlflow server alone: never beyond loopback
DB_NAME = "mlflow"
AUTH_DB_NAME = "mlflow_auth"  # MLflow's basic-auth users and permissions, on the same PostgreSQL
DB_USER = "mlflow"  # the cluster's superuser, owner of the database
POSTGRES_SYSTEM_USER = "postgres"
DRIVER = "psycopg"  # the module of the pinned PostgreSQL driver; SQLAlchemy names it in the URI


class PostgresNotFound(ServerError):
    """No PostgreSQL binaries on this machine."""


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


def _run(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None, as_db_owner: bool = False
) -> subprocess.CompletedProcess[str]:
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


def prepare_postgres_dir(layout: Layout) -> None:
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


def initdb(layout: Layout, bin_dir: Path) -> None:
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


def postgres_port(layout: Layout) -> int:
    """The port of the directory's running PostgreSQL (line 4 of postmaster.pid)."""
    return int((layout.data / "postmaster.pid").read_text().splitlines()[3])


def start_postgres(layout: Layout, settings: Settings, bin_dir: Path) -> None:
    """Start PostgreSQL on DB_HOST:db_port (TCP only: no Unix socket) and wait until it is ready."""
    if port_answers(DB_HOST, settings.db_port):
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


def ensure_database(layout: Layout, settings: Settings, bin_dir: Path, name: str = DB_NAME) -> None:
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


def stop_postgres(layout: Layout, bin_dir: Path) -> None:
    _run(
        [str(bin_dir / "pg_ctl"), "stop", f"--pgdata={layout.data}", "--mode=fast", "--wait"],
        cwd=layout.postgres,
        as_db_owner=True,
    )


def backend_store_uri(layout: Layout, settings: Settings, database: str = DB_NAME) -> str:
    """The SQLAlchemy URI of a database, naming the pinned driver (psycopg 3) explicitly."""
    return f"postgresql+{DRIVER}://{DB_USER}:{_password(layout)}@{DB_HOST}:{settings.db_port}/{database}"
