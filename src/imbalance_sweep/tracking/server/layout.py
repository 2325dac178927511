"""A server directory: where each of its files lives, and the settings a start records there.

Everything lives in DIR (default ``./tracking-server``)::

    server.json          host and ports, recorded by the first start and reused by the next ones
    postgres/data/       PostgreSQL's data directory (initdb'd by the first start)
    postgres/password    the database password (mode 0600); postgres/postgres.log its log
    artifacts/           the server's artifact store (``--artifacts-destination``)
    auth/                mode 0700: admin-password (the admin's, generated), basic_auth.ini (the auth
                         app's config, rewritten at each start), flask-secret-key; each mode 0600
    mlflow-server.log    ``mlflow server``'s output
    mlflow-server.pid    the process ``start`` started: its id, start time and command line (JSON)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ServerError
from .files import check_entry, check_server_directory, read_file

DEFAULT_DIR = "tracking-server"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DB_PORT = 5433  # not 5432: leave that to a system-wide PostgreSQL
DEFAULT_WORKERS = 2
START_TIMEOUT_SECONDS = 180.0


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


def open_layout(directory: str | os.PathLike[str]) -> Layout:
    """The server directory as named, its parents resolved but not its own name: a link there, or
    where the server keeps one of its own files, is refused (RefusedPath) rather than followed."""
    named = Path(os.path.abspath(directory))
    path = named.parent.resolve() / named.name if named.name else named
    check_server_directory(path)
    layout = Layout(path)
    for entry in layout.own_entries():
        check_entry(entry)
    return layout


def recorded_settings(layout: Layout, **given: object) -> Settings:
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
