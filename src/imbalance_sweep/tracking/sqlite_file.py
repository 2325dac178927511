"""A sqlite store's file: judged before MLflow opens it, without changing a byte of it; and a new
one made whole, in milliseconds, from a template of the installed MLflow's schema.

MLflow writes its tables into any sqlite file it is handed (another application's too), retries a
damaged one for minutes, and answers a read-only one with tracebacks: so a file that is not an
MLflow store this process can use is named here first, in the words of one line. MLflow builds a
new store in about 70 migrations (seconds, and a file no run can open if killed among them): they
run once per installed MLflow, into a template in the user's cache, whose pages each new store copies.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
# what sqlite keeps beside a database while it is in use (WAL mode, rollback journal)
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")
MOVE_AWAY = "move it away, or set tracking_uri to the store you meant"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` store, or None for any other store."""
    prefix = "sqlite:///"
    return Path(tracking_uri[len(prefix) :]) if tracking_uri.startswith(prefix) else None


@dataclass(frozen=True)
class MlflowSchema:
    """The installed MLflow's store schema: its head revision, every revision it knows, its tables."""

    head: str
    revisions: frozenset[str]
    tables: frozenset[str]


@functools.cache
def mlflow_schema() -> MlflowSchema:
    """Read from MLflow's own migrations and table models (MLflow loads them to open a store anyway).

    No migration of MLflow 3.17 drops or renames a table, so a store of an older revision holds a
    subset of ``tables``; alembic's temporary tables (``_alembic_tmp_*``) are MLflow's too.
    """
    from alembic.script import ScriptDirectory
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    [head] = script.get_heads()
    revisions = frozenset(revision.revision for revision in script.walk_revisions())
    return MlflowSchema(head, revisions, frozenset([*Base.metadata.tables, "alembic_version"]))


@contextlib.contextmanager
def store_lock(database: Path) -> Iterator[None]:
    """One process of this project at a time in the block: an advisory lock on a file beside the
    sqlite database (sqlite's writers all share that file system)."""
    with open(database.with_name(database.name + ".imbalance-sweep.lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


@contextlib.contextmanager
def read_only(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection that cannot change the file, nor leave a -wal or -shm file beside it.

    A read-only connection to a WAL-mode database creates both side files and cannot remove them;
    ``immutable=1`` reads the file as it is, exact while no other connection has a log or journal
    open on it. When one has, its side files are there already, and a plain read-only connection
    reads through them (with sqlite's locks).
    """
    in_use = any(Path(f"{database}{suffix}").exists() for suffix in ("-wal", "-journal"))
    mode = "mode=ro" if in_use else "mode=ro&immutable=1"
    connection = sqlite3.connect(f"{database.absolute().as_uri()}?{mode}", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def _not_a_file(database: Path) -> str | None:
    """What the file's size and header say (no page read): a directory, empty, not sqlite, truncated."""
    if database.is_dir():
        return "is a directory, not a store file"
    size = database.stat().st_size
    if size == 0:
        return "is empty (0 bytes), not a store; delete it to start a new store there"
    with open(database, "rb") as stored:
        header = stored.read(100)
    if not header.startswith(SQLITE_HEADER) or len(header) < 100:
        return f"is not an sqlite database; {MOVE_AWAY}"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] == header[92:96] and size < pages * page_size:  # the page count is valid
        return f"is truncated ({size} of its {pages * page_size} bytes); restore it from a backup"
    return None


def _listed(names: set[str], most: int = 5) -> str:
    shown = sorted(names)[:most]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def _not_mlflows(tables: set[str], revision: str | None) -> str | None:
    """Whether these tables (and alembic revision) are an MLflow store's, of this MLflow or another.

    An empty database is a new store. A revision this MLflow does not know is a newer MLflow's
    when every table of this MLflow is there (MLflow then names the versions); else the file is
    another application's, as is one with a table MLflow never creates.
    """
    if not tables:
        return None
    schema = mlflow_schema()
    foreign = {table for table in tables if not table.startswith("_alembic_tmp_")} - schema.tables
    if "alembic_version" not in tables:
        if foreign:
            return f"is not an MLflow store: its tables ({_listed(foreign)}) are not MLflow's; {MOVE_AWAY}"
        return "has MLflow's tables but no schema revision (alembic_version): not a whole store; restore it from a backup"
    if revision is not None and revision not in schema.revisions:
        if schema.tables <= tables:
            return None  # a newer MLflow's store: MLflow's own check names both revisions
        return f"is not an MLflow store: its schema revision {revision!r} is not MLflow's; {MOVE_AWAY}"
    if foreign:
        return (
            f"is not an MLflow store: it has tables MLflow does not create ({_listed(foreign)}); {MOVE_AWAY}"
        )
    return None


def _content_problem(database: Path) -> str | None:
    """The file's tables and pages, read without a change: another application's, or damaged."""
    try:
        with read_only(database) as connection:
            tables = {
                name
                for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not name.startswith("sqlite_")
            }
            revisions = (
                [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
            unlike = _not_mlflows(tables, revisions[0] if len(revisions) == 1 else None)
            if unlike:
                return unlike
            [verdict] = connection.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            return f"is damaged (sqlite: {error}); restore it from a backup"
        return None  # busy, or a journal to roll back first: not a verdict on the file; MLflow's turn
    if verdict != "ok":
        found = "; ".join(line for line in verdict.splitlines() if not line.startswith("*** in database"))
        return f"is damaged (sqlite's quick_check: {found[:200]}); restore it from a backup"
    return None


def _not_writable(database: Path) -> str | None:
    """The file and its folder, writable: every command writes runs, and sqlite reads a WAL-mode
    store (as this project's are) only where it may write its index beside it."""
    if not os.access(database, os.W_OK):
        return "is read-only for this user; make it writable, or copy it to a store you can write"
    folder = database.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"is in a folder this user cannot write ({folder}), where sqlite keeps the store's log; "
            "make the folder writable, or move the store"
        )
    return None


def refusal(database: Path) -> str | None:
    """Why an existing file cannot be this process's store (words that follow its path), or None.

    Its size and header, then its tables and pages (sqlite's quick_check, 1 to 2 ms a megabyte),
    read-only; then whether this user can write it.
    """
    return _not_a_file(database) or _content_problem(database) or _not_writable(database)


# --- a new store ------------------------------------------------------------------------------------


def migrate(database: Path) -> None:
    """MLflow's own tables in a new file, by MLflow's own migrations (its engine closed after)."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{database}"
    try:
        SqlAlchemyStore(uri, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    finally:
        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


def _remove_partials(path: Path, suffix: str) -> None:
    """What a process killed while writing ``path`` left (its ``<name><suffix><pid>`` file and
    journal); called under the lock every writer of ``path`` takes, so no live writer's."""
    for stale in path.parent.glob(f"{path.name}{suffix}*"):
        stale.unlink(missing_ok=True)


def cache_folder() -> Path:
    """This project's folder in the user's cache: $XDG_CACHE_HOME (an absolute path), else ~/.cache."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "imbalance-sweep"


def template_path() -> Path:
    import mlflow

    return cache_folder() / f"mlflow-{mlflow.__version__}-new-store.db"


def is_template(path: Path) -> bool:
    """A whole store of exactly the installed MLflow's schema, without experiments: its head
    revision, its tables, quick_check ok (a template of another MLflow, or damaged, is rebuilt)."""
    schema = mlflow_schema()
    try:
        with read_only(path) as connection:
            revisions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
            tables = {
                name
                for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not name.startswith("sqlite_")
            }
            experiments = connection.execute("SELECT count(*) FROM experiments").fetchone()[0]
            [verdict] = connection.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.Error:
        return False
    return revisions == [(schema.head,)] and tables == schema.tables and not experiments and verdict == "ok"


def new_store_template() -> Path | None:
    """The template a new store copies, migrated once per installed MLflow (under a lock in the cache
    folder, into a temporary file moved into place whole); None where the cache cannot be written."""
    template = template_path()
    if is_template(template):
        return template
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with store_lock(template):
            if not is_template(template):
                _remove_partials(template, ".building-")
                partial = template.with_name(f"{template.name}.building-{os.getpid()}")
                migrate(partial)
                with contextlib.closing(sqlite3.connect(partial)) as built, built:
                    # MLflow's one row that says where and when it was made (the Default experiment's
                    # artifact folder, under the current directory): MLflow adds it when a store opens
                    built.execute("DELETE FROM experiments WHERE experiment_id = 0")
                os.replace(partial, template)
    except OSError:
        return None
    return template if is_template(template) else None


def create_store(database: Path) -> bool:
    """A new store at ``database``, whole or not at all; False when a file appeared there meanwhile
    (kept as it is). The caller holds :func:`store_lock`.

    The template's pages are copied (sqlite's backup API) into a temporary file beside the store,
    which is then linked into place: a link, unlike a rename, never replaces a file another program
    put there. Without a template (an unwritable cache) the temporary file is migrated in place.
    """
    template = new_store_template()
    _remove_partials(database, ".creating-")
    partial = database.with_name(f"{database.name}.creating-{os.getpid()}")
    try:
        if template is None:
            migrate(partial)
        else:
            with read_only(template) as source, contextlib.closing(sqlite3.connect(partial)) as copy:
                source.backup(copy)
        try:
            os.link(partial, database)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: a rename, after a last look
            if database.exists():
                return False
            os.replace(partial, database)
        return True
    finally:
        partial.unlink(missing_ok=True)
