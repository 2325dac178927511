"""The shards of one sweep as jobs of Hydra's Ray launcher on a local Ray instance (``ray.init`` with
no address): one parent, every cell once, and the numbers of one process, bit for bit."""

import time
from pathlib import Path

import pytest
from helpers import SMALL_RAY, one_finished_run_per_cell, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep.app import run_sweep
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, Role

# one local Ray instance at a time (2 cores): Ray's tests share one worker under pytest-xdist
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

# 2 balances x 4 x 4 models = 32 cells of 1,100 samples: the shards and the store are the work
RAY_GRID = (
    "grid=single",
    "grid.balances=[[1000,100],[100,1000]]",
    "grid.models=null",
    "grid.acc_0s=[0.2,0.5,0.8,1.0]",
    "grid.acc_1s=[0.3,0.6,0.9,1.0]",
    "losses=[bce,focal_tfa]",
    "report=false",
)
N_CELLS = 32


def test_two_ray_shards_log_one_sweep_as_one_process_would(
    start_module, tmp_path, tracking_uri, make_spec, ray_temp_dir, new_store_file
):
    whole = new_store_file(tmp_path / "whole.db")
    run_sweep(make_spec(*RAY_GRID, f"tracking_uri={whole}"))
    expected = one_finished_run_per_cell(runs_by_role(whole))
    assert len(expected) == N_CELLS

    started = time.monotonic()
    sharded = start_module(
        tmp_path,
        tracking_uri,
        *RAY_GRID,
        "shard.count=2",
        "shard.index=0,1",
        "hydra/launcher=ray",
        *SMALL_RAY,
        f"+hydra.launcher.ray.init._temp_dir={ray_temp_dir}",
        multirun=True,
    )
    try:
        out, err = sharded.communicate(timeout=300)
    finally:
        if sharded.poll() is None:
            sharded.kill()
            sharded.communicate()
    assert sharded.returncode == 0, err
    print(f"2 Ray shards x {N_CELLS // 2} cells, process start to exit: {time.monotonic() - started:.1f} s")
    # the jobs went to a Ray instance of their own, started here: not run in-process, not joined
    assert "Ray Launcher is launching 2 jobs" in out
    assert "Started a local Ray instance" in err

    runs = runs_by_role(tracking_uri)
    [parent] = runs[Role.SWEEP]
    assert parent.info.status == "FINISHED"
    assert len(runs[Role.CELL]) == N_CELLS
    assert {r.data.tags[MLFLOW_PARENT_TAG] for r in runs[Role.CELL]} == {parent.info.run_id}
    assert {r.info.status for r in runs[Role.CELL]} == {"FINISHED"}
    assert one_finished_run_per_cell(runs) == expected  # every metric, bit for bit
    # the last shard to finish saw every cell FINISHED and wrote the sweep's table
    table = MlflowClient(tracking_uri).download_artifacts(parent.info.run_id, "cells.csv", str(tmp_path))
    assert len(Path(table).read_text().splitlines()) == 1 + N_CELLS
