"""A sqlite store as this process uses it: made whole before MLflow opens it, and committing
without waiting for the disk (a listener on SQLAlchemy's connections, registered once, by the first
Tracker that opens such a store)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import sqlalchemy

from .errors import TrackingError
from .sqlite_file import create_store, refusal, sqlite_path, store_lock
from .store_errors import store_errors

# sqlite's default commit waits for the disk twice (synchronous=FULL, rollback journal): on a busy
# disk that is most of a cell's time. In WAL mode with synchronous=NORMAL a commit only appends to
# the log; the disk is synced at checkpoints. A killed process loses nothing and a power cut at most
# the last commits, never the file's consistency (and a resumed sweep re-runs any cell not FINISHED).
_FAST_COMMIT_DATABASES: set[str] = set()


def _commit_without_waiting_for_the_disk(connection: object, _record: object) -> None:
    if not isinstance(connection, sqlite3.Connection):
        return
    database = connection.execute("PRAGMA database_list").fetchone()[2]
    if os.path.realpath(database) not in _FAST_COMMIT_DATABASES:
        return
    with contextlib.suppress(sqlite3.OperationalError):  # another writer busy: stays as it was, still correct
        connection.execute("PRAGMA journal_mode=WAL")  # kept in the file: a no-op once set
    connection.execute("PRAGMA synchronous=NORMAL")


def commit_fast(tracking_uri: str) -> None:
    """Let this process's connections to a sqlite store commit in WAL mode (above), from the next
    connection on. The listener is process-wide (every engine's connections), so it is registered
    once, here, and acts only on the databases named here."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return
    _FAST_COMMIT_DATABASES.add(os.path.realpath(database))
    if not sqlalchemy.event.contains(
        sqlalchemy.engine.Engine, "connect", _commit_without_waiting_for_the_disk
    ):
        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", _commit_without_waiting_for_the_disk)


def prepare_sqlite_store(tracking_uri: str) -> None:
    """A sqlite store that is whole, and MLflow's, before anything uses it.

    A missing file is created whole or not at all, under :func:`store_lock`: a copy of the installed
    MLflow's new store, made in a temporary file beside it and linked into place
    (:func:`sqlite_file.create_store`; MLflow's own migrations, killed part-way, left a file no later
    run could open). An existing file, or one that appeared meanwhile, is judged read-only first
    (:func:`sqlite_file.refusal`: empty, not sqlite, truncated, damaged, another application's, or
    one this user cannot write): such a file stops with one line naming it and what to do, and is
    left as it was.
    """
    database = sqlite_path(tracking_uri)
    if database is None:
        return
    if not database.exists():
        with store_errors(tracking_uri):
            database.parent.mkdir(parents=True, exist_ok=True)  # as MLflow would
            with store_lock(database):
                if not database.exists() and create_store(database):
                    return
    with store_errors(tracking_uri):
        problem = refusal(database)
    if problem:
        raise TrackingError(f"tracking_uri={tracking_uri!r} cannot be used: {database} {problem}")
