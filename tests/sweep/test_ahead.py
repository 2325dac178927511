"""Cells computed ahead by a forked worker: the same stored numbers and pictures bit for bit as
computed in turn, a cell's error met as it would be, and a lost worker's cells computed here.

The worker runs only in a command's own process; these tests make the test process one
(``lifetime._whole_process``) so that the fork happens here, where the two ways can be compared."""

import hashlib
import logging
import os
import signal
from pathlib import Path

import pytest
from helpers import one_finished_run_per_cell, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep import InvalidValue
from imbalance_sweep.app import run_sweep
from imbalance_sweep.runtime import forked, lifetime
from imbalance_sweep.sweep import runner
from imbalance_sweep.tracking.tags import NOTE_TAG, Role

GRID = (
    "grid=single",
    "grid.balances=[[3000,30],[500,500]]",
    "grid.models=[[0.99,0.5],[0.9,0.8],[0.6,0.95]]",
    "losses=[bce,focal_tfa]",
)


@pytest.fixture
def forks(monkeypatch):
    """This process as a command's own (the worker is used), and the pids of the workers forked."""
    monkeypatch.setattr(lifetime, "_whole_process", [True])
    monkeypatch.setattr(forked, "usable_cpus", lambda: 2)
    pids = []
    enter = forked.ForkedResults.__enter__

    def spy(self):
        entered = enter(self)
        pids.append(self._pid)
        return entered

    monkeypatch.setattr(forked.ForkedResults, "__enter__", spy)
    return pids


def artifacts(tracking_uri, run_id):
    """Artifact path -> sha256 of a parent run's artifacts (but cells.csv and config.yaml, which
    hold run ids and the store's address)."""
    client = MlflowClient(tracking_uri)
    root = Path(client.download_artifacts(run_id, ""))
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and path.name not in ("cells.csv", "config.yaml")
    }


def sweep_record(tracking_uri):
    runs = runs_by_role(tracking_uri)
    [parent] = runs[Role.SWEEP]
    return (
        one_finished_run_per_cell(runs),
        parent.data.metrics,
        parent.data.tags[NOTE_TAG].replace(parent.info.run_id, "RUN"),
        artifacts(tracking_uri, parent.info.run_id),
    )


def test_a_worker_stores_the_same_numbers_and_pictures_bit_for_bit(
    make_spec, tracking_uri, tmp_path, new_store_file, forks, monkeypatch
):
    run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    assert len(forks) == 1
    monkeypatch.setattr(lifetime, "_whole_process", [])  # as a test or a session: computed in turn
    in_turn = new_store_file(tmp_path / "in_turn.db")
    run_sweep(make_spec(*GRID, f"tracking_uri={in_turn}"))
    assert len(forks) == 1
    ahead, turn = sweep_record(tracking_uri), sweep_record(in_turn)
    cells, answer, _, pictures = ahead
    assert len(cells) == 6 and {"figures/heatmap_f1.png", "answer.png"} <= set(pictures)
    assert any(key.startswith("agreement/") for key in answer)
    assert ahead == turn  # metrics compared as floats: equal, and no NaN among them
    assert all(value == value for metrics in cells.values() for value in metrics.values())


def test_a_cells_error_in_the_worker_is_met_as_in_turn(make_spec, tracking_uri, forks, monkeypatch):
    real = runner.cell_values

    def failing(spec, cell, model, term_sums):
        if cell.acc_0s == 0.9 and cell.num_1s == 30:
            raise InvalidValue("a cell's own error")
        return real(spec, cell, model, term_sums)

    monkeypatch.setattr(runner, "cell_values", failing)
    with pytest.raises(InvalidValue, match=r"^a cell's own error$"):
        run_sweep(make_spec(*GRID, f"tracking_uri={tracking_uri}"))
    assert len(forks) == 1
    runs = runs_by_role(tracking_uri)
    assert [run.info.status for run in runs[Role.SWEEP]] == ["FAILED"]
    assert sorted(run.info.status for run in runs[Role.CELL]) == ["FAILED", "FINISHED"]


def test_a_lost_worker_leaves_its_cells_to_this_process(make_spec, tracking_uri, forks, monkeypatch, caplog):
    real, parent = runner.cell_values, os.getpid()

    def killed_in_the_worker(spec, cell, model, term_sums):
        if os.getpid() != parent and cell.acc_0s == 0.6:  # the worker, at the third model
            os.kill(os.getpid(), signal.SIGKILL)
        return real(spec, cell, model, term_sums)

    monkeypatch.setattr(runner, "cell_values", killed_in_the_worker)
    with caplog.at_level(logging.WARNING):
        run_sweep(make_spec(*GRID, "report=false", f"tracking_uri={tracking_uri}"))
    assert "the worker computing cells ahead was lost" in caplog.text
    monkeypatch.setattr(runner, "cell_values", real)
    monkeypatch.setattr(lifetime, "_whole_process", [])
    runs = runs_by_role(tracking_uri)
    assert [run.info.status for run in runs[Role.SWEEP]] == ["FINISHED"]
    assert len(one_finished_run_per_cell(runs)) == 6
