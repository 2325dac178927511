"""A sqlite store survives a crash at any moment of its creation, two creators at once, and a file
that is not a whole store, not MLflow's, damaged or read-only stops with one line naming it, left
byte for byte as it was (tracking.prepare_sqlite_store, tracking.sqlite_file)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import environment_without_mlflow_launch
from mlflow.tracking import MlflowClient

from imbalance_sweep.tracking.client import Tracker, TrackingError
from imbalance_sweep.tracking.sqlite_file import mlflow_schema

# A child that opens (so creates) the store and logs one run into it.
CREATE_AND_LOG = """
import sys
from imbalance_sweep.tracking.client import Tracker
tracker = Tracker(sys.argv[1], "e")
run = tracker.start_run("r", tags={})
tracker.finish(run)
"""


def start_creator(uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CREATE_AND_LOG, uri],
        env=environment_without_mlflow_launch(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished_runs(uri: str) -> int:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("e")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    return sum(run.info.status == "FINISHED" for run in runs)


@pytest.mark.slow
def test_sigkill_at_any_moment_of_a_new_stores_creation_leaves_a_usable_store(tmp_path):
    """Killed 0.3 to 2.1 s in (imports, then MLflow's migrations), the next creator always succeeds."""
    for index, delay in enumerate((0.3, 0.9, 1.5, 2.1)):
        uri = f"sqlite:///{tmp_path / f'store{index}.db'}"
        creator = start_creator(uri)
        time.sleep(delay)
        creator.send_signal(signal.SIGKILL)
        creator.wait()
        again = start_creator(uri)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, f"killed after {delay} s, the store broke: {stderr[-2000:]}"
        assert finished_runs(uri) >= 1
        assert not list(tmp_path.glob(f"store{index}.db.creating-*"))  # the killed creator's leftovers went


@pytest.mark.slow
def test_two_processes_creating_one_new_store_both_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    creators = [start_creator(uri) for _ in range(2)]
    for creator in creators:
        _, stderr = creator.communicate(timeout=120)
        assert creator.returncode == 0, stderr[-2000:]
    assert finished_runs(uri) == 2


@pytest.fixture
def whole_store(tmp_path, new_store_file) -> os.PathLike:
    """A whole store with an experiment: a copy of the session's new store, opened by a Tracker."""
    path = tmp_path / "whole.db"
    Tracker(new_store_file(path), "e")
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda path, whole: path.write_bytes(b""), "is empty (0 bytes), not a store; delete it to start a new store there"),
        (lambda path, whole: path.write_text("label,score\n1,0.5\n"), "is not an sqlite database; move it away"),
        (lambda path, whole: path.write_bytes(whole.read_bytes()[:150_000]), "is truncated (150000 of its "),
        (lambda path, whole: path.mkdir(), "is a directory, not a store file"),
    ],
    ids=["empty", "not-sqlite", "truncated", "directory"],
)  # fmt: skip
def test_a_file_that_is_not_a_whole_store_stops_with_one_line(tmp_path, whole_store, make, words):
    path = tmp_path / "mlflow.db"
    make(path, whole_store)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    message = str(refused.value)
    assert message.startswith(f"tracking_uri='sqlite:///{path}' cannot be used: {path} ") and words in message
    assert "\n" not in message
    if path.is_file():
        assert path.stat().st_size in (0, 18, 150_000)  # left as it was: nothing re-created over it


def test_a_store_of_another_mlflow_version_says_what_to_do(tmp_path, whole_store):
    whole = whole_store
    with sqlite3.connect(whole) as connection:
        connection.execute("update alembic_version set version_num = 'abcdef123456'")
    path = tmp_path / "other.db"  # a path this process has not opened (MLflow keeps its stores)
    with sqlite3.connect(whole) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    assert str(refused.value).startswith(
        f"tracking_uri='sqlite:///{path}' cannot be used: its MLflow schema is revision abcdef123456, mlflow 3.17.2"
    )
    assert f"`mlflow db upgrade sqlite:///{path}`" in str(refused.value)


@pytest.mark.slow
def test_through_the_command_a_broken_store_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep", "grid=single"],
        cwd=tmp_path,
        env=environment_without_mlflow_launch(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"imbalance-sweep: error: tracking_uri='sqlite:///{tmp_path / 'mlflow.db'}' cannot be used: "
        f"{tmp_path / 'mlflow.db'} is empty (0 bytes), not a store; delete it to start a new store there"
    ]


# --- files that are not this process's MLflow store: refused, and left byte for byte -----------------


def copy_of(store: os.PathLike, path: os.PathLike) -> os.PathLike:
    """A copy of a store (sqlite's backup API: what its write-ahead log holds too) at a path this
    process has not opened (MLflow keeps the stores it opened)."""
    with (
        contextlib.closing(sqlite3.connect(store)) as source,
        contextlib.closing(sqlite3.connect(path)) as copy,
    ):
        source.backup(copy)
    return path


def sqlite_file(path, *statements: str, wal: bool = False) -> os.PathLike:
    """Another application's sqlite file (rollback journal, or WAL mode), closed."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    return path


def garbage_over_pages(path: os.PathLike, first: int, count: int) -> os.PathLike:
    """Pages ``first`` to ``first + count - 1`` (1 is the header's) overwritten with a byte pattern."""
    page_size = (
        sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        .execute("PRAGMA page_size")
        .fetchone()[0]
    )
    with open(path, "r+b") as stored:
        stored.seek((first - 1) * page_size)
        stored.write(bytes(range(256)) * (page_size // 256) * count)
    return path


def as_found(path) -> tuple[bytes, int, list[str]]:
    """A file's bytes, its mtime, and what lies beside it (a -wal, -shm or lock file would show)."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))


FOREIGN = {
    "one-table": ("CREATE TABLE foo (x)", "INSERT INTO foo VALUES (1)"),
    "alembic-app": (
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
        "INSERT INTO alembic_version VALUES ('1f2e3d4c5b6a')",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
    ),
}


@pytest.mark.parametrize("wal", [False, True], ids=["journal", "wal"])
@pytest.mark.parametrize("kind", FOREIGN)
def test_another_applications_sqlite_file_is_refused_and_left_byte_for_byte(tmp_path, kind, wal):
    path = sqlite_file(tmp_path / "app.db", *FOREIGN[kind], wal=wal)
    before = as_found(path)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    message = str(refused.value)
    assert message.startswith(
        f"tracking_uri='sqlite:///{path}' cannot be used: {path} is not an MLflow store: "
    )
    assert "\n" not in message and "move it away" in message
    assert as_found(path) == before


def test_an_mlflow_store_with_a_table_mlflow_does_not_create_is_refused(tmp_path, whole_store):
    path = copy_of(whole_store, tmp_path / "mixed.db")
    sqlite_file(path, "CREATE TABLE notes (text TEXT)")
    before = as_found(path)
    with pytest.raises(
        TrackingError, match=r"is not an MLflow store: it has tables MLflow does not create \(notes\)"
    ):
        Tracker(f"sqlite:///{path}", "e")
    assert as_found(path) == before


def test_an_sqlite_database_without_tables_is_a_new_store(tmp_path):
    """(A missing file is a new store too: the tests above create theirs so.)"""
    path = sqlite_file(tmp_path / "empty.db", "PRAGMA user_version = 0")
    tracker = Tracker(f"sqlite:///{path}", "e")
    tracker.finish(tracker.start_run("r", tags={}))
    with contextlib.closing(sqlite3.connect(path)) as store:
        assert store.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (mlflow_schema().head,)
        ]


@pytest.mark.parametrize(
    "first, count", [(3, 20), (2, 1), (100, 3)], ids=["schema-pages", "page-2", "data-pages"]
)
def test_a_store_with_damaged_pages_is_refused_with_one_line(tmp_path, whole_store, first, count):
    path = garbage_over_pages(copy_of(whole_store, tmp_path / "damaged.db"), first, count)
    with pytest.raises(TrackingError) as refused:
        Tracker(f"sqlite:///{path}", "e")
    message = str(refused.value)
    assert message.startswith(f"tracking_uri='sqlite:///{path}' cannot be used: {path} is damaged (sqlite")
    assert message.endswith("); restore it from a backup") and "\n" not in message


def without_root_powers() -> list[str]:
    """A command prefix under which this user cannot write a file its mode says it cannot: as root,
    setpriv drops CAP_DAC_OVERRIDE (root's power to write any file) from the child."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    if shutil.which("setpriv") is None or subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here: root writes any file")
    return prefix


def read_only_file(path):
    path.chmod(0o444)


def read_only_folder(path):
    path.parent.chmod(0o555)


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, words",
    [
        (lambda path, whole: sqlite_file(path, *FOREIGN["one-table"]), "is not an MLflow store: its tables (foo) are not MLflow's; move it away"),
        (lambda path, whole: garbage_over_pages(copy_of(whole, path), 3, 20), "is damaged (sqlite: database disk image is malformed); restore it from a backup"),
        (lambda path, whole: read_only_file(copy_of(whole, path)), "is read-only for this user; make it writable"),
        (lambda path, whole: read_only_folder(copy_of(whole, path)), "is in a folder this user cannot write ({folder}), where sqlite keeps"),
    ],
    ids=["foreign", "damaged", "read-only", "read-only-folder"],
)  # fmt: skip
def test_through_the_command_a_store_it_cannot_use_is_one_line_and_the_file_is_left(
    tmp_path, whole_store, make, words
):
    folder = tmp_path / "stores"
    folder.mkdir()
    path = folder / "mlflow.db"
    make(path, whole_store)
    before = as_found(path)
    prefix = without_root_powers() if "read-only" in words or "cannot write" in words else []
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "imbalance_sweep", "grid=single", "mode=expected"],
            cwd=tmp_path,
            env={**environment_without_mlflow_launch(), "MLFLOW_TRACKING_URI": f"sqlite:///{path}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        folder.chmod(0o755)
    [line] = done.stderr.splitlines()  # one line, and nothing before it
    assert line.startswith(
        f"imbalance-sweep: error: tracking_uri='sqlite:///{path}' cannot be used: {path} "
        + words.format(folder=folder)
    )
    assert done.returncode == 2
    assert as_found(path) == before
