"""A sweep's size before anything is logged: the bound on a sampled cell, and dry_run."""

import pytest
from hydra import compose, initialize_config_dir

from imbalance_sweep import app
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.sweep import plan
from imbalance_sweep.sweep.grid import build_cells


def test_a_sampled_cell_too_large_to_draw_stops_before_anything_with_one_line(make_spec):
    with pytest.raises(InvalidValue) as refused:
        make_spec("grid.balances=[[1e30,10]]")
    assert str(refused.value) == (
        "grid.balances: the cell n0=1000000000000000019884624838656 n1=10 a0=0.999 a1=0.5 has 1e+30 samples, "
        "more than a sampled cell draws (at most 1e+12); mode=expected gives its exact values at once"
    )
    assert make_spec("grid.balances=[[1e30,10]]", "mode=expected").cells[0].size == int(1e30) + 10
    make_spec(f"grid.balances=[[{plan.SAMPLED_CELL_MAX_SAMPLES - 10},10]]")  # the bound itself is allowed


def test_the_size_line_counts_cells_samples_and_this_shards_time():
    cells = build_cells(
        balances=[[1000, 10], [99000, 1000]], models=[[0.9, 0.5]], acc_0s=None, acc_1s=None, seeds=[0]
    )
    line = plan.size_line("g", cells, cells[:1], "sampled", server=False)
    assert line == "g: 2 cells (this shard: 1), 1.01e+05 samples in all, sampled mode; under a second"
    one = plan.size_line("g", cells[:1], cells[:1], "expected", server=False)
    assert one == "g: 1 cell, 1.01e+03 samples in all, expected mode; under a second"
    many = [cells[1]] * 100_000
    assert plan.size_line("g", many, many, "sampled", server=True).endswith("about 2.5 h")  # 9000 s + 50 s


def test_dry_run_prints_the_plan_and_logs_nothing(tmp_path, capsys):
    store = tmp_path / "mlflow.db"
    with initialize_config_dir(config_dir=app.CONFIG_DIR, version_base="1.3"):
        config = compose("config", ["grid=dense", "dry_run=true", f"tracking_uri=sqlite:///{store}"])
    app.main.__wrapped__(config)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dense: 2000 cells, 9.28e+08 samples in all, sampled mode; about 65 s"
    assert lines[1:3] == ["  n0=10000 n1=10000 a0=0.05 a1=0.05", "  n0=10000 n1=10000 a0=0.05 a1=0.1"]
    assert lines[-2:] == ["  ... and 1995 more", "dry run: nothing was logged (dry_run=false to run it)"]
    assert not store.exists()
