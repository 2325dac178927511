"""A sqlite store survives a crash at any moment of its creation, two creators at once, and a file
that is not a whole store, not MLflow's, damaged or read-only stops with one line naming it, left
byte for byte as it was (tracking.sqlite_store, tracking.sqlite_file)."""

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

from imbalance_sweep.tracking.errors import TrackingError
from imbalance_sweep.tracking.reader import RunReader
from imbalance_sweep.tracking.sqlite_file import (
    create_store,
    is_template,
    mlflow_schema,
    new_store_template,
    template_path,
)
from imbalance_sweep.tracking.tracker import Tracker

# A child that opens (so creates) the store and logs one run into it.
CREATE_AND_LOG = """
import sys
from imbalance_sweep.tracking.tracker import Tracker
tracker = Tracker(sys.argv[1], "e")
run = tracker.start_run("r", tags={})
tracker.finish(run)
"""


def start_creator(uri: str, cache: os.PathLike | None = None) -> subprocess.Popen:
    """A process that creates the store and logs a run; with ``cache``, its user's cache folder
    (where it builds the new store's template, if none is there)."""
    env = environment_without_mlflow_launch()
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.Popen(
        [sys.executable, "-c", CREATE_AND_LOG, uri],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished_runs(uri: str) -> int:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("e")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    return sum(run.info.status == "FINISHED" for run in runs)


# Moments to kill a creator at: (what, the file that shows it has begun, seconds after it appears).
KILL_MOMENTS = [
    ("importing", None, 0.3),
    ("migrating into the template", "cache/imbalance-sweep/*.building-*", 0.0),
    ("migrating into the template", "cache/imbalance-sweep/*.building-*", 0.4),
    ("migrating into the template", "cache/imbalance-sweep/*.building-*", 1.0),
    ("copying the template beside the store", "store.db.creating-*", 0.0),
]


@pytest.mark.slow
@pytest.mark.parametrize("what, sign, after", KILL_MOMENTS, ids=[f"{m[0]}+{m[2]}s" for m in KILL_MOMENTS])
def test_sigkill_at_any_moment_of_a_new_stores_creation_leaves_a_usable_store(tmp_path, what, sign, after):
    """Killed while importing, while MLflow's migrations build the template (in an empty cache), or
    while the template is copied, the next creator succeeds and the killed one's leftovers go."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    creator = start_creator(uri, tmp_path / "cache")
    deadline = time.monotonic() + 120
    while sign and not list(tmp_path.glob(sign)) and creator.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    seen = not sign or bool(list(tmp_path.glob(sign)))
    time.sleep(after)
    creator.send_signal(signal.SIGKILL)
    creator.wait()
    if what != "copying the template beside the store":  # milliseconds: not always caught
        assert seen and creator.returncode == -signal.SIGKILL, f"never caught {what}"
    again = start_creator(uri, tmp_path / "cache")
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, f"killed {what}, the store broke: {stderr[-2000:]}"
    assert finished_runs(uri) >= 1
    assert not list(tmp_path.glob("store.db.creating-*"))
    assert not list(tmp_path.glob("cache/imbalance-sweep/*.building-*"))


@pytest.mark.slow
def test_two_processes_creating_one_new_store_both_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    creators = [start_creator(uri, tmp_path / "cache") for _ in range(2)]  # both build the template
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
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as store:
        [page_size] = store.execute("PRAGMA page_size").fetchone()
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


# --- a new store: a copy of the installed MLflow's template, kept in the user's cache ----------------


def contents(path: os.PathLike) -> tuple[list, dict]:
    """A store's schema (sqlite_master, without its page numbers) and every table's rows but the
    experiments' (which say when and for whom they were made). Each statement's lines are compared
    in any order: MLflow's own migrations order the runs table's constraints by the hash seed."""
    with contextlib.closing(sqlite3.connect(path)) as store:
        schema = sorted(
            (type_, name, table, sorted((sql or "").splitlines()))
            for type_, name, table, sql in store.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            )
        )
        tables = [name for type_, name, _, _ in schema if type_ == "table" and name != "experiments"]
        return schema, {table: sorted(store.execute(f'SELECT * FROM "{table}"'), key=str) for table in tables}


@pytest.mark.slow
def test_a_new_store_is_what_mlflow_makes_and_mlflow_db_upgrade_accepts_it(tmp_path):
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    RunReader(f"sqlite:///{ours}").experiments()  # this project's door that adds nothing of its own
    MlflowClient(f"sqlite:///{theirs}").search_experiments()  # MLflow's own migrations
    assert contents(ours) == contents(theirs)
    with contextlib.closing(
        sqlite3.connect(ours)
    ) as store:  # the Default experiment, made where MLflow makes it
        [ours_default] = store.execute(
            "SELECT name, artifact_location FROM experiments WHERE experiment_id = 0"
        )
    with contextlib.closing(sqlite3.connect(theirs)) as store:
        [theirs_default] = store.execute(
            "SELECT name, artifact_location FROM experiments WHERE experiment_id = 0"
        )
    assert ours_default == theirs_default
    upgraded = subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{ours}"],
        env=environment_without_mlflow_launch(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    assert contents(ours)[0] == contents(theirs)[0]


def spoiled_template(tmp_path, monkeypatch, spoil) -> os.PathLike:
    """A user's cache (``tmp_path/cache``) whose template is the session's, spoiled by ``spoil``."""
    template = new_store_template()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spoiled = template_path()
    assert spoiled.parent.parent == tmp_path / "cache" and spoiled.parent.name == "imbalance-sweep"
    spoiled.parent.mkdir(parents=True)
    spoil(copy_of(template, spoiled))
    return spoiled


def other_revision(path):
    sqlite_file(path, "UPDATE alembic_version SET version_num = '0123456789ab'")


@pytest.mark.parametrize(
    "spoil",
    [
        other_revision,
        lambda path: garbage_over_pages(path, 2, 1),
        lambda path: sqlite_file(path, "INSERT INTO experiments (name) VALUES ('made here')"),
    ],
    ids=["other-revision", "damaged", "with-an-experiment"],
)
def test_a_template_is_only_the_installed_mlflows_new_store(tmp_path, monkeypatch, spoil):
    assert is_template(new_store_template())
    assert not is_template(spoiled_template(tmp_path, monkeypatch, spoil))


def test_a_template_of_another_revision_is_rebuilt(tmp_path, monkeypatch):
    spoiled = spoiled_template(tmp_path, monkeypatch, other_revision)
    path = tmp_path / "mlflow.db"
    tracker = Tracker(f"sqlite:///{path}", "e")
    tracker.finish(tracker.start_run("r", tags={}))
    assert is_template(spoiled)
    with contextlib.closing(sqlite3.connect(path)) as store:
        assert store.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (mlflow_schema().head,)
        ]


@pytest.mark.slow
def test_where_the_cache_cannot_be_written_a_new_store_is_made_all_the_same(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    path = tmp_path / "mlflow.db"
    tracker = Tracker(f"sqlite:///{path}", "e")
    tracker.finish(tracker.start_run("r", tags={}))
    assert finished_runs(f"sqlite:///{path}") == 1


def test_a_new_store_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    """Another program's file made between the look and the copy stays as it is (a link, not a rename)."""
    path = sqlite_file(tmp_path / "app.db", *FOREIGN["one-table"])
    before = as_found(path)
    assert create_store(path) is False
    assert as_found(path) == before
