"""Bootstrap intervals of predictions-file cells: against a direct resampling, width, seeding, logging."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imbalance_sweep import LOSS_NAMES, InvalidValue, evaluate, expected
from imbalance_sweep.core.bootstrap import bootstrap_intervals, bootstrap_values
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.metrics import CONFUSION_METRIC_NAMES
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.sweep.identity import sweep_key


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(5)
    labels = (rng.random(700) < 0.3).astype(np.int64)
    scores = np.where(labels == 1, rng.beta(3, 1.5, labels.size), rng.beta(1.2, 4, labels.size))
    path = tmp_path_factory.mktemp("boot") / "model.parquet"
    pq.write_table(pa.table({"label": labels, "score": scores}), path)
    return EmpiricalModel(load_predictions(path))


def cell_of(model, n0, n1, replicate=0):
    return Cell(n0, n1, *model.grid_accuracies, replicate, "model", model.predictions.digest)


def direct_bootstrap(model, cell, seed, replicates, level):
    """The same resampling written out: per class and replicate, Multinomial(n, 1/m) counts of the
    file's rows from the cell's third stream, those rows repeated, and ``evaluate`` on them."""
    root = cell.seed_sequence(seed)
    streams = np.random.SeedSequence(root.entropy, spawn_key=(2,)).spawn(2)
    rngs = [np.random.default_rng(stream) for stream in streams]
    labels, scores = model.predictions.labels, model.predictions.scores
    pools = scores[~labels], scores[labels]
    sizes = cell.num_0s, cell.num_1s
    rows = []
    for _ in range(replicates):
        drawn = [
            np.repeat(pool, rng.multinomial(size, np.full(pool.size, 1 / pool.size)))
            for pool, rng, size in zip(pools, rngs, sizes, strict=True)
        ]
        y_true = np.r_[np.zeros(sizes[0]), np.ones(sizes[1])]
        rows.append(evaluate(y_true, np.concatenate(drawn)))
    tails = [50 * (1 - level), 50 * (1 + level)]
    intervals = {}
    for key in [key for key in rows[0] if key.startswith("loss/") or key in CONFUSION_METRIC_NAMES]:
        low, high = np.percentile([row[key] for row in rows], tails)
        intervals[f"ci_low/{key}"], intervals[f"ci_high/{key}"] = low, high
    return intervals


@pytest.mark.parametrize("n0, n1, level", [(900, 100, 0.95), (50, 3000, 0.8), (2000, 0, 0.9)])
def test_intervals_are_those_of_the_resampling_written_out(model, n0, n1, level):
    cell = cell_of(model, n0, n1)
    ours = bootstrap_intervals(
        model, cell, seed=4, losses=LOSS_NAMES, alpha=0.25, gamma=2.0, replicates=60, level=level
    )
    direct = direct_bootstrap(model, cell, 4, 60, level)
    assert (
        set(ours)
        == set(direct)
        == {
            f"ci_{side}/{key}"
            for side in ("low", "high")
            for key in [*(f"loss/{n}" for n in LOSS_NAMES), *CONFUSION_METRIC_NAMES]
        }
    )
    for key, value in direct.items():
        # float32 chunk sums in evaluate, float64 sums of the same float32 terms here
        assert ours[key] == pytest.approx(value, rel=2e-6, abs=1e-12), key
    assert ours["ci_low/loss/bce"] < ours["ci_high/loss/bce"]


def test_width_shrinks_as_one_over_the_square_root_of_the_cell_size(model):
    widths = {}
    for scale in (1, 4, 16):
        cell = cell_of(model, 2000 * scale, 400 * scale)
        ci = bootstrap_intervals(
            model, cell, seed=0, losses=["bce", "brier"], alpha=0.25, gamma=2.0, replicates=400, level=0.9
        )
        widths[scale] = {
            key: ci[f"ci_high/{key}"] - ci[f"ci_low/{key}"]
            for key in ("loss/bce", "loss/brier", "f1", "recall")
        }
    for key in widths[1]:
        assert 1.7 < widths[1][key] / widths[4][key] < 2.3, key
        assert 1.7 < widths[4][key] / widths[16][key] < 2.3, key


def test_replicates_centre_on_the_exact_reweighting_and_spread_as_its_stderr(model):
    """The bootstrap's mean is the exact re-weighted value, its spread the standard error that
    expected mode logs (both describe resampling a cell of that size from the file)."""
    cell = cell_of(model, 5000, 800)
    values = bootstrap_values(
        model, cell, seed=1, losses=["bce", "brier"], alpha=0.25, gamma=2.0, replicates=2000
    )
    exact = expected(5000, 0, 800, 0, losses=["bce", "brier"], score_model=model)
    for key in ("loss/bce", "loss/brier", "recall", "f1"):
        stderr = exact[f"stderr/{key}"]
        assert abs(values[key].mean() - exact[key]) < 4 * stderr / np.sqrt(2000), key
        assert values[key].std(ddof=1) == pytest.approx(stderr, rel=0.1), key


def test_intervals_depend_on_the_cell_and_seed_only(make_spec, model):
    path = model.predictions.path
    balances = "grid.balances=[[1000,50],[300,300],[90,10]]"
    one = make_spec("grid=single", balances, f"grid.models=[{path}]", "bootstrap.replicates=30")
    reordered = make_spec(
        "grid=single",
        "grid.balances=[[90,10],[300,300]]",
        f"grid.models=[[0.9,0.5],{path}]",
        "bootstrap.replicates=30",
        "shard.count=2",
        "shard.index=1",
    )
    cell = next(c for c in one.cells if c.num_0s == 300)
    assert cell in reordered.shard_cells

    def intervals(spec, seed=0):
        return bootstrap_intervals(
            model, cell, seed=seed, losses=spec.losses, alpha=0.25, gamma=2.0, replicates=30, level=0.95
        )

    assert intervals(one) == intervals(reordered)
    assert intervals(one) != intervals(one, seed=1)
    # the bootstrap's stream is not the cell's draw: resampling and bootstrap do not share numbers
    draw_streams = [s.spawn_key for s in cell.seed_sequence(0).spawn(2)]
    assert (2,) not in draw_streams


def test_a_sweep_logs_intervals_for_file_cells_only(make_spec, model, tracking_uri):
    from mlflow.tracking import MlflowClient

    from imbalance_sweep.app import run_sweep

    spec = make_spec(
        "grid=single",
        "grid.balances=[[1000,100]]",
        f"grid.models=[[0.9,0.6],{model.predictions.path}]",
        "bootstrap.replicates=40",
        "bootstrap.level=0.9",
        "mode=expected",
        "report=false",
        f"tracking_uri={tracking_uri}",
    )
    client = MlflowClient(tracking_uri)
    parent = client.get_run(run_sweep(spec))
    children = {
        run.data.params.get("model", ""): run
        for run in client.search_runs(
            [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
        )
    }
    assert not any(key.startswith("ci_") for key in children[""].data.metrics)
    file_run = children["model"]
    cell = next(c for c in spec.cells if c.model)
    logged = {k: v for k, v in file_run.data.metrics.items() if k.startswith("ci_")}
    assert logged == bootstrap_intervals(
        model, cell, seed=0, losses=spec.losses, alpha=0.25, gamma=2.0, replicates=40, level=0.9
    )
    assert file_run.data.params["bootstrap.replicates"] == "40"
    assert parent.data.params["bootstrap.level"] == "0.9"


def test_bootstrap_settings_are_checked_and_enter_the_key_only_when_on(make_spec):
    assert sweep_key(make_spec("bootstrap.replicates=0")) == sweep_key(make_spec())
    assert sweep_key(make_spec("bootstrap.replicates=100")) != sweep_key(make_spec())
    with pytest.raises(
        InvalidValue, match=r"^bootstrap.replicates=-1 is not a whole number in \[0, 10000\]$"
    ):
        make_spec("bootstrap.replicates=-1")
    with pytest.raises(InvalidValue, match=r"^bootstrap.level=1.5 is not a number strictly between 0 and 1$"):
        make_spec("bootstrap.level=1.5")
