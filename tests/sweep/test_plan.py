"""A sweep's size before anything is logged: the bound on a sampled cell, and dry_run."""

import re

import pytest
from hydra import compose, initialize_config_dir

from imbalance_sweep import app
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.sweep import plan


def test_a_sampled_cell_too_large_to_draw_stops_before_anything_with_one_line(make_spec):
    with pytest.raises(InvalidValue) as refused:
        make_spec("grid.balances=[[1e30,10]]")
    assert str(refused.value) == (
        "grid.balances: the cell n0=1000000000000000019884624838656 n1=10 a0=0.999 a1=0.5 has 1e+30 samples, "
        "more than a sampled cell draws (at most 1e+12); mode=expected gives its exact values at once"
    )
    assert make_spec("grid.balances=[[1e30,10]]", "mode=expected").cells[0].size == int(1e30) + 10
    make_spec(f"grid.balances=[[{plan.SAMPLED_CELL_MAX_SAMPLES - 10},10]]")  # the bound itself is allowed


def test_the_size_line_counts_cells_samples_and_this_shards_time(make_spec, tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"")  # only whether the file is there counts here
    where = f"tracking_uri=sqlite:///{store}"
    two = ("grid=single", "grid.balances=[[1000,10],[99000,1000]]", "grid.models=[[0.9,0.5]]", where)
    line = plan.size_line(make_spec(*two, "shard.count=2"))
    assert line.startswith("single: 2 cells (this shard: 1), 1.01e+05 samples in all, sampled mode; about ")
    one = make_spec("grid=single", "grid.balances=[[1000,10]]", "mode=expected", where)
    seconds = plan.estimated_seconds(one)  # the store is there: start-up and the cell's run
    assert seconds == pytest.approx(
        plan.STARTUP_SECONDS + plan.SECONDS_PER_CELL_TRACKED + plan.SECONDS_PER_EXPECTED_CELL
    )
    assert (
        plan.size_line(one)
        == f"single: 1 cell, 1.01e+03 samples in all, expected mode; about {seconds:.0f} s"
    )


def test_the_estimate_is_the_whole_command(make_spec, tmp_path):
    """Start-up, a new store, each cell computed and logged, and the report of a grid."""
    store = f"tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"
    exact = make_spec("grid=dense", "mode=expected", store)
    cells = plan.SECONDS_PER_CELL_TRACKED + plan.SECONDS_PER_EXPECTED_CELL
    report = plan.REPORT_SECONDS + 2000 * plan.REPORT_SECONDS_PER_CELL  # report=answer: no heatmap per loss
    assert plan.estimated_seconds(exact) == pytest.approx(plan.STARTUP_SECONDS + 2000 * cells + report)
    every = make_spec("grid=dense", "mode=expected", "report=all", store)
    heatmaps = plan.estimated_seconds(every) - plan.estimated_seconds(exact)
    assert heatmaps == pytest.approx(6 * plan.REPORT_SECONDS_PER_LOSS)  # one per loss
    new = plan.estimated_seconds(exact, new_store=True) - plan.estimated_seconds(exact)
    assert new == pytest.approx(plan.NEW_STORE_SECONDS)
    bare = make_spec("grid=dense", "mode=expected", "report=false", store)
    assert plan.estimated_seconds(exact) - plan.estimated_seconds(bare) == pytest.approx(report)
    served = plan.estimated_seconds(exact, server=True) - plan.estimated_seconds(exact)
    assert served == pytest.approx(2000 * (plan.SERVER_TRACKING_FACTOR - 1) * plan.SECONDS_PER_CELL_TRACKED)
    one = make_spec("grid=single", "mode=expected", store)  # no store file yet: the line counts it
    assert plan.size_line(one).endswith(f"about {plan.estimated_seconds(one, new_store=True):.0f} s")
    # a sampled cell: per sample and loss, and dearer past the ranking table's capacity
    small, large = (
        plan.estimated_seconds(make_spec("grid=single", f"grid.balances=[[{n},10]]", "losses=[bce]", store))
        for n in (10**6 - 10, 10**7 - 10)
    )
    per_sample = plan.SECONDS_PER_SAMPLE + plan.SECONDS_PER_SAMPLE_PER_LOSS
    past = 10**7 - plan.RANKING_CAPACITY_CHUNKS * 65536
    assert large - small == pytest.approx(
        9 * 10**6 * per_sample + past * plan.SECONDS_PER_SAMPLE_PAST_CAPACITY
    )
    # Keras's losses: TensorFlow's import, and dearer samples
    one_keras, one_numpy = (
        plan.estimated_seconds(make_spec("grid=single", "losses=[bce,brier]", f"backend={backend}", store))
        for backend in ("keras", "numpy")
    )
    dearer = 2 * (plan.FRAMEWORK_SECONDS_PER_SAMPLE_PER_LOSS - plan.SECONDS_PER_SAMPLE_PER_LOSS) * 1_010_000
    assert one_keras - one_numpy == pytest.approx(plan.FRAMEWORK_STARTUP_SECONDS + dearer)


def test_a_sweep_of_days_says_days(make_spec):
    many = make_spec("grid=single", "grid.balances=[[1e11,1e11]]", "grid.seeds=[0,1,2,3,4,5,6,7,8,9]")
    assert plan.size_line(many).endswith(" days")


def test_dry_run_prints_the_plan_and_logs_nothing(tmp_path, capsys):
    store = tmp_path / "mlflow.db"
    with initialize_config_dir(config_dir=app.CONFIG_DIR, version_base="1.3"):
        config = compose("config", ["grid=dense", "dry_run=true", f"tracking_uri=sqlite:///{store}"])
    app.main.__wrapped__(config)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("dense: 2000 cells, 9.28e+08 samples in all, sampled mode; about ")
    assert re.search(r"; about \d+ (s|min)$", lines[0])  # start-up, a new store, the cells, the report
    assert lines[1:3] == ["  n0=10000 n1=10000 a0=0.05 a1=0.05", "  n0=10000 n1=10000 a0=0.05 a1=0.1"]
    assert lines[-2:] == ["  ... and 1995 more", "dry run: nothing was logged (dry_run=false to run it)"]
    assert not store.exists()
