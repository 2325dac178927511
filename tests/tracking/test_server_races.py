"""Races through the real team server (PostgreSQL behind MLflow's basic-auth app, no file lock):
identical sweeps started together, shards racing a re-run, and a sweep racing its own resume end
with one parent and exactly one FINISHED run per cell, equal to the same sweep run alone.

Each race is forced with a barrier (:func:`helpers.race`): every process reaches the step
before any goes past it, so the race happens on every run, not by luck."""

import pytest
from helpers import fail_on_call, finished_run_per_cell, race, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep.app import run_sweep
from imbalance_sweep.tracking import tags
from imbalance_sweep.tracking.tags import Role

# a real PostgreSQL and mlflow server: the session's one, in one worker under pytest-xdist
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("team-server")]

# 2 balances x 3 models = 6 cells: the store is the work
GRID = (
    "grid.balances=[[2000,20],[300,300]]",
    "grid.models=[[0.9,0.6],[0.7,0.95],[1.0,0.0]]",
    "losses=[bce]",
    "report=false",
)


def alone(make_spec, store, experiment):
    """cell key -> metrics of the same sweep run alone, into its own sqlite ``store``."""
    run_sweep(make_spec(*GRID, f"experiment={experiment}", f"tracking_uri={store}"))
    return metrics_per_cell(runs_by_role(store, experiment)[Role.CELL])


def metrics_per_cell(cell_runs):
    return {key: run.data.metrics for key, run in finished_run_per_cell(cell_runs).items()}


def assert_one_parent_and_one_finished_run_per_cell(uri, experiment, parents, expected):
    runs = runs_by_role(uri, experiment)
    assert len(set(parents)) == 1, parents
    assert [run.info.run_id for run in runs[Role.SWEEP]] == parents[:1]  # the other parents are deleted
    assert {run.data.tags[tags.MLFLOW_PARENT_TAG] for run in runs[Role.CELL]} == set(parents[:1])
    assert metrics_per_cell(runs[Role.CELL]) == expected  # fails on a cell FINISHED twice
    assert MlflowClient(uri).get_run(parents[0]).info.status == "FINISHED"


@pytest.mark.parametrize(
    "at",
    ["chosen_parent", "finished_children"],
    ids=["both-look-for-the-parent-together", "both-run-every-cell"],
)
def test_two_identical_sweeps_at_once_end_with_one_parent_and_one_finished_run_per_cell(
    tracking_server, make_spec, tracking_uri, monkeypatch, at
):
    uri, experiment = tracking_server.tracking_uri, f"race-{at}"
    expected = alone(make_spec, tracking_uri, experiment)
    spec = make_spec(*GRID, f"experiment={experiment}", f"tracking_uri={uri}")
    parents = race(monkeypatch, [spec, spec], at=at)
    assert_one_parent_and_one_finished_run_per_cell(uri, experiment, parents, expected)


def test_two_shards_racing_a_rerun_of_their_sweep_end_with_one_parent(
    tracking_server, make_spec, tracking_uri, monkeypatch
):
    uri, experiment = tracking_server.tracking_uri, "race-shards-and-rerun"
    expected = alone(make_spec, tracking_uri, experiment)
    where = (f"experiment={experiment}", f"tracking_uri={uri}")
    shards = [make_spec(*GRID, *where, "shard.count=2", f"shard.index={index}") for index in (0, 1)]
    parents = race(monkeypatch, [*shards, make_spec(*GRID, *where)], at="chosen_parent")
    assert_one_parent_and_one_finished_run_per_cell(uri, experiment, parents, expected)


def test_a_sweep_racing_its_resume_ends_with_one_finished_run_per_cell(
    tracking_server, make_spec, tracking_uri, monkeypatch
):
    uri, experiment = tracking_server.tracking_uri, "race-resume"
    expected = alone(make_spec, tracking_uri, experiment)
    spec = make_spec(*GRID, f"experiment={experiment}", f"tracking_uri={uri}")
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        fail_on_call(patch, 3, KeyboardInterrupt())  # stopped part-way, as by Ctrl-C
        run_sweep(spec)
    [first] = [run.info.run_id for run in runs_by_role(uri, experiment)[Role.SWEEP]]
    parents = race(monkeypatch, [spec, spec], at="finished_children")
    assert parents == [first, first]
    assert_one_parent_and_one_finished_run_per_cell(uri, experiment, parents, expected)
