"""Big sweeps as users run them: killed and resumed (SIGKILL, Ctrl-C), and shards in parallel
joblib workers writing to one sqlite file, bit for bit the numbers of one process."""

import signal
import time

import pytest
from helpers import cells_in, one_finished_run_per_cell, runs_by_role

from imbalance_sweep.app import run_sweep
from imbalance_sweep.runtime.processes import descendant_pids, stat_fields
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, Role

# one worker under pytest-xdist: kill_grid_metrics is computed once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("big-sweeps")]

# 5 balances x 10 models = 50 cells of 2 to 3 million samples: long enough to interrupt part-way
KILL_GRID = (
    "grid=single",
    "grid.balances=[[3e6,3e4],[2e6,2e5],[1e6,1e6],[2e6,2e4],[2.5e6,2.5e3]]",
    "grid.models=[[0.9,0.5],[0.95,0.6],[0.99,0.7],[0.8,0.9],[0.999,0.5],[0.98,0.9],[0.7,0.7],[0.6,0.99],[0.5,0.5],[0.85,0.75]]",
    "losses=[bce]",
    "mode=sampled",
    "report=false",
)
# 200 cells of 1,100 samples: for many writers, the store is the work
WIDE_GRID = (
    "grid=single",
    "grid.balances=[[1000,100],[100,1000]]",
    "grid.models=null",
    "grid.acc_0s=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]",
    "grid.acc_1s=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]",
    "losses=[bce,focal_tfa]",
    "report=false",
)


def interrupt_part_way(process, database, how):
    """Signal the sweep part-way, wait for it to end; its exit code. The worker that computes its
    cells ahead (sweep/ahead.py) was there, and is gone with it, however it ended."""
    deadline = time.monotonic() + 120
    # part-way: some cells FINISHED, and one at work (not between two cells)
    while cells_in(database, "FINISHED") < 3 or cells_in(database, "RUNNING") < 1:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    workers = descendant_pids(process.pid, "imbalance_sweep")
    process.send_signal(how)
    process.communicate(timeout=60)
    assert len(workers) == 1, workers
    assert all(ended(pid) for pid in workers)
    return process.returncode


def ended(pid, seconds=10.0):
    """Whether ``pid`` has ended (gone, or a zombie that no init reaps in a container) in ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fields = stat_fields(pid)
        if fields is None or fields[0] == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def kill_grid_metrics(tmp_path_factory, new_store_file):
    """The uninterrupted sweep's metrics per cell key, from one process."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR, sweep_spec

    store = new_store_file(tmp_path_factory.mktemp("whole") / "mlflow.db")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="config", overrides=[*KILL_GRID, f"tracking_uri={store}"])
    run_sweep(sweep_spec(OmegaConf.to_container(config, resolve=True)))
    return one_finished_run_per_cell(runs_by_role(store))


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_interrupted_sweep_resumes_to_one_finished_run_per_cell(
    start_module, tmp_path, tracking_uri, kill_grid_metrics, how
):
    database = tmp_path / "mlflow.db"
    returncode = interrupt_part_way(start_module(tmp_path, tracking_uri, *KILL_GRID), database, how)
    assert returncode != 0
    runs = runs_by_role(tracking_uri)
    [parent] = runs[Role.SWEEP]
    statuses = [r.info.status for r in runs[Role.CELL]]
    assert 3 <= statuses.count("FINISHED") < 50
    if how == signal.SIGINT:  # Ctrl-C: the interrupted cell and the sweep are KILLED, never FINISHED
        assert parent.info.status == "KILLED"
        assert set(statuses) == {"FINISHED", "KILLED"} and statuses.count("KILLED") == 1
    else:  # no chance to close anything: left RUNNING, for the re-run to mark FAILED
        assert parent.info.status == "RUNNING" and "RUNNING" in statuses
    done = start_module(tmp_path, tracking_uri, *KILL_GRID)
    assert done.wait(timeout=300) == 0, done.communicate()
    runs = runs_by_role(tracking_uri)
    assert [r.info.run_id for r in runs[Role.SWEEP]] == [parent.info.run_id]
    assert runs[Role.SWEEP][0].info.status == "FINISHED"
    assert "RUNNING" not in {r.info.status for r in runs[Role.CELL]}
    assert one_finished_run_per_cell(runs) == kill_grid_metrics


def test_two_joblib_workers_write_200_cells_to_one_sqlite_file_as_one_process_would(
    start_module, tmp_path, tracking_uri, make_spec, new_store_file
):
    """Shards in parallel (hydra/launcher=joblib): one parent, every cell once, same numbers."""
    whole = new_store_file(tmp_path / "whole.db")
    run_sweep(make_spec(*WIDE_GRID, f"tracking_uri={whole}"))
    expected = one_finished_run_per_cell(runs_by_role(whole))
    assert len(expected) == 200
    started = time.monotonic()
    sharded = start_module(
        tmp_path,
        tracking_uri,
        *WIDE_GRID,
        "shard.count=2",
        "shard.index=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        multirun=True,
    )
    _, err = sharded.communicate(timeout=300)
    assert sharded.returncode == 0, err
    print(f"2 joblib workers x 100 cells: {time.monotonic() - started:.1f} s")
    runs = runs_by_role(tracking_uri)
    [parent] = runs[Role.SWEEP]
    assert parent.info.status == "FINISHED"
    assert len(runs[Role.CELL]) == 200
    assert {r.data.tags[MLFLOW_PARENT_TAG] for r in runs[Role.CELL]} == {parent.info.run_id}
    assert one_finished_run_per_cell(runs) == expected  # every metric, bit for bit


def test_a_joblib_multirun_over_seed_is_one_sweep_per_job(start_module, tmp_path, tracking_uri):
    done = start_module(
        tmp_path,
        tracking_uri,
        "seed=0,1",
        "grid.balances=[[300,30]]",
        "losses=[bce]",
        "report=false",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        multirun=True,
    )
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    runs = runs_by_role(tracking_uri)
    assert sorted(r.data.params["seed"] for r in runs[Role.SWEEP]) == ["0", "1"]
    assert all(r.info.status == "FINISHED" for r in runs[Role.SWEEP] + runs[Role.CELL])
    assert len(runs[Role.CELL]) == 4
