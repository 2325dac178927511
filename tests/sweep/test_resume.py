"""Resume and idempotence in-process: re-runs skip FINISHED cells, redo the rest, never duplicate;
shards split a grid and share one parent; each cell costs three tracking round-trips."""

import concurrent.futures
import contextlib
import sqlite3
import threading

import pytest
import sqlalchemy
from helpers import fail_on_call, finished_run_per_cell, race
from hypothesis import given
from hypothesis import strategies as st
from mlflow.entities import Metric, Param, RunStatus, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient

from imbalance_sweep import InvalidValue
from imbalance_sweep.app import run_sweep
from imbalance_sweep.sweep import resume, runner
from imbalance_sweep.tracking import retrying, tags
from imbalance_sweep.tracking.errors import TrackingError
from imbalance_sweep.tracking.runs import StoredRun
from imbalance_sweep.tracking.sqlite_file import sqlite_path
from imbalance_sweep.tracking.tags import ROLE_TAG, SWEEP_KEY_TAG, Role
from imbalance_sweep.tracking.tracker import CLOSING_ATTEMPTS, Tracker

GRID = (
    "grid.balances=[[2000,20],[300,300]]",
    "grid.models=[[0.9,0.6],[0.7,0.95],[1.0,0.0]]",
    "losses=[bce]",
    "report=false",
)


def cell_runs(tracking_uri):
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name("imbalance-sweep").experiment_id
    runs = client.search_runs([experiment_id], max_results=10_000)
    return [r for r in runs if r.data.tags[ROLE_TAG] == Role.CELL], [
        r for r in runs if r.data.tags[ROLE_TAG] == Role.SWEEP
    ]


def finished_metrics(tracking_uri):
    """cell key -> metrics of its FINISHED run; fails on a cell FINISHED twice."""
    return {key: run.data.metrics for key, run in finished_run_per_cell(cell_runs(tracking_uri)[0]).items()}


@pytest.fixture
def uninterrupted(make_spec, tmp_path, new_store_file):
    store = new_store_file(tmp_path / "uninterrupted.db")
    run_sweep(make_spec(*GRID, f"tracking_uri={store}"))
    return finished_metrics(store)


def test_resume_after_a_failure_runs_exactly_the_missing_cells(
    make_spec, tracking_uri, monkeypatch, uninterrupted
):
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    fail_on_call(monkeypatch, 3)
    with pytest.raises(RuntimeError):
        run_sweep(spec)
    monkeypatch.undo()
    counted = []
    real = runner.evaluate_cell
    monkeypatch.setattr(runner, "evaluate_cell", lambda *a, **k: counted.append(1) or real(*a, **k))
    parent = run_sweep(spec)
    assert len(counted) == 4  # the failed cell and the three never started
    cells, parents = cell_runs(tracking_uri)
    assert [p.info.run_id for p in parents] == [parent]
    assert MlflowClient(tracking_uri).get_run(parent).info.status == "FINISHED"
    assert sorted(r.info.status for r in cells) == ["FAILED"] + ["FINISHED"] * 6
    assert finished_metrics(tracking_uri) == uninterrupted
    assert "cells.csv" in [a.path for a in MlflowClient(tracking_uri).list_artifacts(parent)]


def test_stale_running_cells_are_marked_failed_and_run_again(
    make_spec, tracking_uri, monkeypatch, uninterrupted
):
    """As after SIGKILL: the cell and the parent were left RUNNING."""
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    fail_on_call(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        run_sweep(spec)
    monkeypatch.undo()
    client = MlflowClient(tracking_uri)
    cells, [parent] = cell_runs(tracking_uri)
    for run in [parent, *cells]:
        if run.info.status == "FAILED":
            client.update_run(run.info.run_id, status="RUNNING")
    assert run_sweep(spec) == parent.info.run_id
    cells, _ = cell_runs(tracking_uri)
    assert RunStatus.to_string(RunStatus.RUNNING) not in {r.info.status for r in cells}
    assert sorted(r.info.status for r in cells) == ["FAILED"] + ["FINISHED"] * 6
    assert finished_metrics(tracking_uri) == uninterrupted


def test_a_rerun_of_a_finished_sweep_changes_nothing_and_resume_false_starts_afresh(
    make_spec, tracking_uri, caplog
):
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    first = run_sweep(spec)
    with caplog.at_level("INFO", logger="imbalance_sweep"):
        assert run_sweep(spec) == first
    assert f"continues run {first}: 6 of its 6 cells already FINISHED" in caplog.text
    assert len(cell_runs(tracking_uri)[0]) == 6
    fresh = run_sweep(make_spec(*GRID, "resume=false", f"tracking_uri={tracking_uri}"))
    assert fresh != first and len(cell_runs(tracking_uri)[0]) == 12
    assert run_sweep(spec) == fresh  # the most recent parent


def test_a_grown_grid_resumes_into_its_sweep_and_runs_only_new_cells(make_spec, tracking_uri):
    parent = run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    grown = ("grid.balances=[[2000,20],[300,300],[50,5]]", *GRID[1:])
    assert run_sweep(make_spec(*grown, f"tracking_uri={tracking_uri}")) == parent
    assert len(finished_metrics(tracking_uri)) == 9 and len(cell_runs(tracking_uri)[0]) == 9


def test_settings_that_change_numbers_make_another_sweep(make_spec, tracking_uri):
    run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    run_sweep(make_spec(*GRID, "focal.gamma=1.0", f"tracking_uri={tracking_uri}"))
    _, parents = cell_runs(tracking_uri)
    assert len({p.data.tags[SWEEP_KEY_TAG] for p in parents}) == 2


def test_shards_split_the_grid_and_share_one_parent(make_spec, tracking_uri, uninterrupted):
    specs = [
        make_spec(*GRID, "shard.count=2", f"shard.index={i}", f"tracking_uri={tracking_uri}") for i in (0, 1)
    ]
    assert [c for c in specs[0].cells[0::2]] == list(specs[0].shard_cells)
    first = run_sweep(specs[0])
    client = MlflowClient(tracking_uri)
    assert client.get_run(first).info.status == "RUNNING"  # shard 1 still to come
    assert run_sweep(specs[1]) == first
    assert client.get_run(first).info.status == "FINISHED"
    assert finished_metrics(tracking_uri) == uninterrupted


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_racing_shards_without_a_lock_keep_one_parent(make_spec, tracking_uri, uninterrupted, monkeypatch):
    """As on a tracking server: no file lock, and both shards look for a parent before either has
    created one. Both create one; after settling they keep the same run and the other is deleted."""
    monkeypatch.setattr(Tracker, "exclusive_is_locked", property(lambda self: False))
    monkeypatch.setattr(Tracker, "exclusive", lambda self: contextlib.nullcontext())
    monkeypatch.setattr(resume, "PARENT_SETTLE_SECONDS", 0.5)
    both_looked = threading.Barrier(2, timeout=30)
    real_start_run = Tracker.start_run

    def start_run_after_both_looked(self, name, **kwargs):
        if kwargs["tags"][ROLE_TAG] == Role.SWEEP:
            both_looked.wait()
        return real_start_run(self, name, **kwargs)

    monkeypatch.setattr(Tracker, "start_run", start_run_after_both_looked)
    specs = [
        make_spec(*GRID, "shard.count=2", f"shard.index={i}", f"tracking_uri={tracking_uri}") for i in (0, 1)
    ]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        parents = list(pool.map(run_sweep, specs))

    assert parents[0] == parents[1]
    cells, sweeps = cell_runs(tracking_uri)
    assert [run.info.run_id for run in sweeps] == parents[:1]  # the other parent is deleted
    assert {run.data.tags[tags.MLFLOW_PARENT_TAG] for run in cells} == {parents[0]}
    assert MlflowClient(tracking_uri).get_run(parents[0]).info.status == "FINISHED"
    assert finished_metrics(tracking_uri) == uninterrupted


@given(
    st.lists(
        st.tuples(st.uuids(), st.integers(0, 200_000), st.sampled_from(["1", "2", "3"])),
        min_size=1,
        max_size=6,
        unique_by=lambda run: run[0],
    )
)
def test_every_order_of_the_same_parents_chooses_the_same_one(runs):
    stored = [
        StoredRun(run_id.hex, "FINISHED", start, tags={tags.SHARD_COUNT_TAG: shards})
        for run_id, start, shards in runs
    ]
    chosen = resume.chosen_parent(stored)
    assert (
        resume.chosen_parent(list(reversed(stored)))
        == chosen
        == resume.chosen_parent(sorted(stored, key=str))
    )
    newest = max(stored, key=lambda run: (run.start_time, run.run_id))
    if newest.tags[tags.SHARD_COUNT_TAG] == "1":
        assert chosen == newest  # a fresh (resume=false) sweep is always the one resumed
    else:
        assert chosen.run_id <= newest.run_id
        assert newest.start_time - chosen.start_time <= resume.PARENT_RACE_SECONDS * 1000


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["shard.count=2", "shard.index=3"], "shard.index=3 is outside [0, 1]"),
        (["shard.count=0"], "shard.count=0 is not a whole number in [1, 100000]"),
        (["shard.index=-1"], "shard.index=-1 is not a whole number >= 0"),
        (["resume=maybe"], "resume='maybe' must be true or false"),
        (["shard.count=2", "resume=false"], "resume=false with shard.count=2"),
    ],
)
def test_bad_resume_and_shard_values_are_one_line(make_spec, overrides, message):
    with pytest.raises(InvalidValue, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_spec(*overrides)


def test_a_cell_costs_three_round_trips(make_spec, tracking_uri, monkeypatch):
    """create_run (name and tags), one log_batch (params and metrics), set_terminated."""
    calls = []
    for name in (
        "create_run",
        "log_batch",
        "set_terminated",
        "log_param",
        "log_metric",
        "set_tag",
        "get_run",
    ):
        real = getattr(MlflowClient, name)
        monkeypatch.setattr(
            MlflowClient,
            name,
            lambda self, *a, _real=real, _name=name, **k: calls.append(_name) or _real(self, *a, **k),
        )
    run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    # the parent: create_run, log_batch (its params), log_batch (its worker tag), get_run (the other
    # workers' tags, at the end), its answer (log_batch its metrics, get_run its description,
    # log_batch the description with the answer), set_terminated; then 3 per cell
    parent = [
        "create_run",
        "log_batch",
        "log_batch",
        "get_run",
        "log_batch",
        "get_run",
        "log_batch",
        "set_terminated",
    ]
    assert sorted(calls) == sorted(parent + ["create_run", "log_batch", "set_terminated"] * 6)


def test_the_sqlite_store_commits_in_wal_mode_without_syncing_each_commit(make_spec, tracking_uri, tmp_path):
    """Only the tracker's own store is switched; other sqlite files keep sqlite's defaults."""
    run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    database = sqlite_path(tracking_uri)
    with contextlib.closing(sqlite3.connect(database)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    def synchronous(path):
        engine = sqlalchemy.create_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        engine.dispose()
        return level

    assert synchronous(database) == 1  # NORMAL
    assert synchronous(tmp_path / "other.db") == 2  # FULL, sqlite's default


def test_writes_are_retried_while_the_database_is_locked(monkeypatch):
    delays, attempts = [], []
    monkeypatch.setattr(retrying.time, "sleep", delays.append)
    locked = MlflowException(
        "(sqlite3.OperationalError) database is locked", error_code=TEMPORARILY_UNAVAILABLE
    )

    def write():
        attempts.append(1)
        if len(attempts) < 3:
            raise locked
        return "done"

    assert retrying.retry_when_locked(write) == "done"
    assert len(delays) == 2 and 0.05 <= delays[0] <= 0.1 and 0.1 <= delays[1] <= 0.2

    def always_locked():
        raise locked

    with pytest.raises(MlflowException, match="database is locked"):
        retrying.retry_when_locked(always_locked)
    assert len(delays) == 2 + retrying.WRITE_ATTEMPTS - 1

    def other_error():
        attempts.append(1)
        raise MlflowException("no such run")

    attempts.clear()
    with pytest.raises(MlflowException, match="no such run"):
        retrying.retry_when_locked(other_error)
    assert len(attempts) == 1


def test_after_an_interrupt_a_locked_store_gets_fewer_tries(tracking_uri, monkeypatch, capsys):
    """Ctrl-C or SIGTERM: the runs at work are closed KILLED with CLOSING_ATTEMPTS tries, not
    WRITE_ATTEMPTS (each may wait out MLflow's 20 s busy timeout). A store that stays locked leaves
    them RUNNING, and the interruption's one line names them."""
    from imbalance_sweep.runtime.signals import Interrupted, report_interrupt

    tracker = Tracker(tracking_uri, "interrupted")
    parent = tracker.start_run("sweep", tags={}, params={})
    cell = tracker.start_run("cell", tags={}, params={}, parent_run_id=parent)
    monkeypatch.setattr(retrying.time, "sleep", lambda _: None)
    tries = []

    def locked(self, run_id, *args, **kwargs):
        tries.append(run_id)
        raise MlflowException(
            "(sqlite3.OperationalError) database is locked", error_code=TEMPORARILY_UNAVAILABLE
        )

    monkeypatch.setattr(MlflowClient, "set_terminated", locked)
    with pytest.raises(Interrupted) as interrupted, tracker.closing(parent), tracker.closing(cell):
        raise Interrupted(progress="3 of 6 cells FINISHED")  # as the project's handler raises it
    assert tries == [cell] * CLOSING_ATTEMPTS + [parent] * CLOSING_ATTEMPTS
    assert CLOSING_ATTEMPTS < retrying.WRITE_ATTEMPTS
    assert interrupted.value.unclosed == [cell, parent]
    assert report_interrupt(interrupted.value) == 130
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        f"3 of 6 cells FINISHED; left RUNNING, the store stayed locked: {cell}, {parent}; run the same"
        in line
    )
    tries.clear()
    with pytest.raises(TrackingError, match="database is locked"), tracker.closing(cell):
        raise RuntimeError("a failure, not an interrupt: no hurry")
    assert tries == [cell] * retrying.WRITE_ATTEMPTS


def test_two_identical_sweeps_at_once_end_with_one_finished_run_per_cell(
    make_spec, tracking_uri, uninterrupted, monkeypatch, caplog
):
    """Both open the one parent (sqlite's lock), then both run every cell: the duplicates go."""
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    with caplog.at_level("INFO", logger="imbalance_sweep"):
        parents = race(monkeypatch, [spec, spec], at="finished_children")
    assert parents[0] == parents[1]
    cells, sweeps = cell_runs(tracking_uri)
    assert [run.info.run_id for run in sweeps] == parents[:1]
    assert finished_metrics(tracking_uri) == uninterrupted  # fails on a cell FINISHED twice
    assert {run.data.tags[tags.MLFLOW_PARENT_TAG] for run in cells} == {parents[0]}
    deleted = MlflowClient(tracking_uri).search_runs(
        [sweeps[0].info.experiment_id], run_view_type=ViewType.DELETED_ONLY
    )
    assert len(deleted) == 6  # each cell ran twice
    said = [int(line.rsplit(" ", 1)[1]) for line in caplog.messages if "FINISHED more than once" in line]
    assert sum(said) == 6  # the process that finished first deletes what it sees, the other the rest
    assert MlflowClient(tracking_uri).get_run(parents[0]).info.status == "FINISHED"


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_two_identical_sweeps_at_once_on_a_server_keep_one_parent_and_one_run_per_cell(
    make_spec, tracking_uri, uninterrupted, monkeypatch
):
    """No lock (as on a server), and both look for a parent before either creates one."""
    monkeypatch.setattr(Tracker, "exclusive_is_locked", property(lambda self: False))
    monkeypatch.setattr(Tracker, "exclusive", lambda self: contextlib.nullcontext())
    monkeypatch.setattr(resume, "PARENT_SETTLE_SECONDS", 0.5)
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    parents = race(monkeypatch, [spec, spec], at="chosen_parent")
    assert parents[0] == parents[1]
    cells, sweeps = cell_runs(tracking_uri)
    assert [run.info.run_id for run in sweeps] == parents[:1]  # the other parent is deleted
    assert finished_metrics(tracking_uri) == uninterrupted
    assert {run.data.tags[tags.MLFLOW_PARENT_TAG] for run in cells} == {parents[0]}


def test_a_sweep_racing_its_resume_ends_with_one_finished_run_per_cell(
    make_spec, tracking_uri, uninterrupted, monkeypatch
):
    """A sweep interrupted part-way, then resumed twice at once."""
    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    fail_on_call(monkeypatch, 3, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec)
    monkeypatch.undo()
    parents = race(monkeypatch, [spec, spec], at="finished_children")
    assert parents[0] == parents[1]
    assert finished_metrics(tracking_uri) == uninterrupted


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_duplicates_already_in_a_store_are_chosen_between_and_said_once(make_spec, tracking_uri, capsys):
    """An older store holds a cell FINISHED twice: resume counts one, compare compares the earliest."""
    from imbalance_sweep import compare

    spec = make_spec(*GRID, f"tracking_uri={tracking_uri}")
    parent = run_sweep(spec)
    client = MlflowClient(tracking_uri)
    cells, _ = cell_runs(tracking_uri)
    original = cells[0]
    copy = client.create_run(original.info.experiment_id, tags=original.data.tags).info.run_id
    client.log_batch(copy, metrics=[Metric(k, v + 1.0, 0, 0) for k, v in original.data.metrics.items()],
                     params=[Param(k, v) for k, v in original.data.params.items()])  # fmt: skip
    client.set_terminated(copy)
    assert run_sweep(spec) == parent  # resume: nothing to do, no refusal
    reseeded = make_spec(*GRID, "sweep_name=other", f"tracking_uri={tracking_uri}")
    run_sweep(reseeded)
    capsys.readouterr()
    assert compare.main([parent, "other", "--tracking-uri", tracking_uri]) == 0
    out = capsys.readouterr().out
    assert "1 more FINISHED runs of cells it already holds" in out
    assert "no metric differs on the cells in common (" in out  # the earliest run, not the altered copy
