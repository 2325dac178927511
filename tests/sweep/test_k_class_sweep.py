"""K-class grids as sweeps, in-process (make_spec, run_sweep), read back from what MLflow stored:
a run per cell under one parent with what the core computes for it, overrides as typed, the K = 2
grid as the binary record bit for bit, resume after a failure, shards, the size line, and one line
for each bad setting."""

import json

import pytest
from helpers import finished_run_per_cell, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep import InvalidValue
from imbalance_sweep.app import run_sweep
from imbalance_sweep.core.expectations import beside_sampled
from imbalance_sweep.core.multiclass.cell import expected_confusion
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell
from imbalance_sweep.core.multiclass.expected import expected_of_cell
from imbalance_sweep.core.multiclass.metrics import MulticlassSettings
from imbalance_sweep.core.vocabulary import LOSS_NAMES, MULTICLASS_LOSS_NAMES
from imbalance_sweep.sweep import plan, runner
from imbalance_sweep.sweep.identity import cell_key, sweep_key
from imbalance_sweep.sweep.params import MAX_PARAM_TEXT, k_cell_file
from imbalance_sweep.tracking.tags import CELL_KEY_TAG, NOTE_TAG, Role
from imbalance_sweep.tracking.tracker import MAX_PARAM_LENGTH

# grid=long_tail at small sizes: 3 priors (200, 222 and 571 rows) x 2 models = 6 cells
SMALL = (
    "grid=long_tail",
    "grid.validation.0.per_class=20",
    "grid.validation.1.largest=200",
    "grid.validation.2.largest=200",
)


def cells_and_parents(store):
    runs = runs_by_role(store)
    return runs[Role.CELL], runs[Role.SWEEP]


def metrics_by_key(store):
    cells, _ = cells_and_parents(store)
    return {key: run.data.metrics for key, run in finished_run_per_cell(cells).items()}


@pytest.fixture(scope="module")
def whole_sweep(tmp_path_factory, new_store_file):
    """SMALL run once, uninterrupted and unsharded: each cell key's metrics."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR, sweep_spec

    store = new_store_file(tmp_path_factory.mktemp("whole") / "mlflow.db")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="config", overrides=[*SMALL, f"tracking_uri={store}"])
    run_sweep(sweep_spec(OmegaConf.to_container(config, resolve=True)))
    return metrics_by_key(store)


def artifact_text(store, run_id, path):
    with open(MlflowClient(store).download_artifacts(run_id, path)) as file:
        return file.read()


def test_each_cell_is_a_run_under_one_parent_with_the_cores_values(make_spec, tracking_uri):
    spec = make_spec(*SMALL, f"tracking_uri={tracking_uri}")
    parent = run_sweep(spec)
    cells, parents = cells_and_parents(tracking_uri)
    assert [run.info.run_id for run in parents] == [parent]
    assert MlflowClient(tracking_uri).get_run(parent).info.status == "FINISHED"
    assert len(cells) == 6 and {run.info.status for run in cells} == {"FINISHED"}
    by_key = {run.data.tags[CELL_KEY_TAG]: run for run in cells}
    settings = MulticlassSettings(top_k=5, ece_bins=15, many_above=100.0, few_below=20.0)
    for cell in spec.cells:
        run = by_key[cell_key(sweep_key(spec), cell)]
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.info.run_name == cell.name  # e.g. "head_heavy on balanced per_class=20"
        params = run.data.params
        assert params["classes"] == "10" and params["prior"] == cell.prior and params["model"] == cell.model
        assert json.loads(params["counts"]) == list(cell.counts)
        assert json.loads(params["accuracies"]) == list(cell.accuracies)  # exactly: repr round-trips
        assert json.loads(params["training_counts"]) == list(cell.training_counts)
        assert params["errors"] == cell.errors and params["replicate"] == "0" and params["seed"] == "0"
        assert params["losses"] == ",".join(MULTICLASS_LOSS_NAMES)
        assert params["multiclass.beta"] == "0.9999" and params["multiclass.top_k"] == "5"
        core = evaluate_multiclass_cell(
            cell.multiclass_cell(), seed=0, settings=settings, alpha=0.25, gamma=2.0, beta=0.9999
        )
        exact = expected_of_cell(cell.multiclass_cell(), alpha=0.25, gamma=2.0, beta=0.9999)
        # every loss, metric, class_<k> and band, bit for bit; the exact values beside the draw
        assert run.data.metrics == core | beside_sampled(exact)
        assert run.data.metrics["expected/loss/cce"] == exact["loss/cce"] and "stderr/loss/cce" in exact
    assert "recall/class_009" in core and "recall/many" in core and "loss/ldam" in core
    client = MlflowClient(tracking_uri)
    assert {"cells.csv", "summary"} <= {a.path for a in client.list_artifacts(parent)}
    summary = json.loads(artifact_text(tracking_uri, parent, "summary/k_classes.json"))
    rows = [dict(zip(summary["columns"], row, strict=True)) for row in summary["data"]]
    assert [(row["prior"], row["model"]) for row in rows] == [(cell.prior, cell.model) for cell in spec.cells]
    first = by_key[cell_key(sweep_key(spec), spec.cells[0])].data.metrics
    for key in ("loss/cce", "f1_macro", "balanced_accuracy", "recall/many", "recall/medium"):
        assert rows[0][key] == pytest.approx(first[key], abs=1e-9)  # MLflow's table: 10 decimals
    assert "comes later" in client.get_run(parent).data.tags[NOTE_TAG]  # the answer: not yet
    assert not [a for a in client.list_artifacts(parent) if a.path == "figures"]  # no binary figure


def test_expected_mode_logs_each_cells_exact_values(make_spec, tracking_uri):
    spec = make_spec(
        *SMALL, "mode=expected", "grid.validation.0.per_class=1e6", f"tracking_uri={tracking_uri}"
    )
    run_sweep(spec)
    cells, _ = cells_and_parents(tracking_uri)
    by_key = {run.data.tags[CELL_KEY_TAG]: run for run in cells}
    assert len(by_key) == 6
    for cell in spec.cells:
        exact = expected_of_cell(cell.multiclass_cell(), alpha=0.25, gamma=2.0, beta=0.9999)
        assert by_key[cell_key(sweep_key(spec), cell)].data.metrics == exact
    assert cell.counts[0] == 200 and spec.cells[0].counts == (10**6,) * 10  # no draw: any size at once


def test_overrides_as_a_hydra_user_types_them(make_spec, tracking_uri):
    spec = make_spec(
        *SMALL,
        "grid.validation.1.ratio=50",
        "grid.seeds=[0,1]",
        "grid.classes=5",
        "seed=1",
        "multiclass.losses=[cce,ldam]",
        "multiclass.beta=0.99",
        "multiclass.many_above=1e4",
        f"tracking_uri={tracking_uri}",
    )
    assert len(spec.cells) == 12 and spec.losses == ("cce", "ldam")
    assert spec.cells[4].prior == "exponential ratio=50 largest=200" and spec.cells[4].classes == 5
    run_sweep(spec)
    cells, _ = cells_and_parents(tracking_uri)
    assert len(cells) == 12
    run = next(r for r in cells if r.data.params["replicate"] == "1")
    assert run.data.params["seed"] == "1" and run.data.params["multiclass.many_above"] == "10000.0"
    assert {key for key in run.data.metrics if key.startswith("loss/")} == {"loss/cce", "loss/ldam"}
    assert "recall/class_004" in run.data.metrics and "recall/class_005" not in run.data.metrics
    assert "recall/many" not in run.data.metrics  # no class has more than 10,000 training samples


def test_a_k_2_grid_logs_the_binary_record_bit_for_bit(make_spec, tracking_uri):
    store = f"tracking_uri={tracking_uri}"
    k2 = make_spec(
        "grid=long_tail",
        "grid.classes=2",
        "grid.validation=[[900,100],[50,50]]",
        "grid.models=[{name:m,accuracy:{profile:explicit,values:[0.95,0.6]}}]",
        "grid.seeds=[0,3]",
        "sweep_name=k2",
        store,
    )
    binary = make_spec(
        "grid=single",
        "grid.balances=[[900,100],[50,50]]",
        "grid.models=[[0.95,0.6]]",
        "grid.seeds=[0,3]",
        "sweep_name=binary",
        store,
    )
    assert k2.losses == LOSS_NAMES == binary.losses  # the binary losses
    run_sweep(k2)
    run_sweep(binary)
    cells, _ = cells_and_parents(tracking_uri)
    assert len(cells) == 8 and len({run.data.tags[CELL_KEY_TAG] for run in cells}) == 8  # keys apart

    def record(sweep):
        return {
            (
                run.data.params["num_0s"],
                run.data.params["num_1s"],
                run.data.params["replicate"],
            ): run.data.metrics
            for run in cells
            if run.data.tags["imbalance_sweep.sweep"] == sweep
        }

    drawn = record("k2")
    assert len(drawn) == 4 and "loss/bce" in drawn[("900", "100", "3")]
    assert drawn == record("binary")  # every value, the exact expectations beside the draw too


def test_a_k_class_sweep_resumes_after_a_failure(make_spec, tracking_uri, whole_sweep, monkeypatch):
    spec = make_spec(*SMALL, f"tracking_uri={tracking_uri}")
    real, calls = runner.evaluate_multiclass_cell, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_multiclass_cell", failing)
    with pytest.raises(RuntimeError):
        run_sweep(spec)
    monkeypatch.setattr(runner, "evaluate_multiclass_cell", real)
    counted = []
    monkeypatch.setattr(
        runner, "evaluate_multiclass_cell", lambda *a, **k: counted.append(1) or real(*a, **k)
    )
    parent = run_sweep(spec)
    assert len(counted) == 4  # the failed cell and the three never started
    cells, parents = cells_and_parents(tracking_uri)
    assert [run.info.run_id for run in parents] == [parent]
    assert sorted(run.info.status for run in cells) == ["FAILED"] + ["FINISHED"] * 6
    assert metrics_by_key(tracking_uri) == whole_sweep
    run_sweep(spec)  # once more: nothing to do
    assert len(counted) == 4


def test_two_shards_log_one_sweep(make_spec, tracking_uri, whole_sweep):
    first = make_spec(*SMALL, "shard.count=2", "shard.index=0", f"tracking_uri={tracking_uri}")
    assert len(first.shard_cells) == 3
    parent = run_sweep(first)
    assert MlflowClient(tracking_uri).get_run(parent).info.status != "FINISHED"  # half of it
    assert (
        run_sweep(make_spec(*SMALL, "shard.count=2", "shard.index=1", f"tracking_uri={tracking_uri}"))
        == parent
    )
    assert MlflowClient(tracking_uri).get_run(parent).info.status == "FINISHED"
    assert metrics_by_key(tracking_uri) == whole_sweep
    assert "summary/k_classes.json" in [
        a.path for a in MlflowClient(tracking_uri).list_artifacts(parent, "summary")
    ]


def test_a_confusion_matrix_model_draws_its_own_rates():
    from imbalance_sweep.sweep.kgrid import k_grid_cells

    grid = {
        "classes": 3,
        "validation": [[30, 20, 10]],
        "models": [{"name": "m", "confusion": [[8, 1, 1], [0, 5, 0], [3, 1, 0]]}],
    }
    (spec,) = k_grid_cells(grid)
    rates = expected_confusion(spec.multiclass_cell())
    assert [float(rate) for row in rates for rate in row] == pytest.approx(
        [0.8, 0.1, 0.1, 0.0, 1.0, 0.0, 0.75, 0.25, 0.0], abs=1e-15
    )


def test_vectors_too_long_for_a_param_go_to_cell_json(make_spec, tracking_uri):
    assert MAX_PARAM_TEXT == MAX_PARAM_LENGTH
    classes = 20  # a 20 x 20 error spread of long floats: over 6,000 characters of JSON
    confusion = [[50 if i == j else 1 + (7 * i + 3 * j) % 11 for j in range(classes)] for i in range(classes)]
    spec = make_spec(
        "grid=long_tail",
        f"grid.classes={classes}",
        "grid.validation=[{profile:balanced,per_class:2}]",
        f"grid.models=[{{name:m,confusion:{confusion}}}]".replace(" ", ""),
        f"tracking_uri={tracking_uri}",
    )
    (cell,) = spec.cells
    run_id = run_sweep(spec)
    params = MlflowClient(tracking_uri).get_run(run_id).data.params
    assert params["counts"] == "[" + ",".join(["2"] * classes) + "]"
    assert json.loads(params["accuracies"]) == list(cell.accuracies)
    assert params["errors"].startswith("20 classes, ") and params["errors"].endswith(
        "see the run's cell.json"
    )
    stored = json.loads(artifact_text(tracking_uri, run_id, "cell.json"))
    assert stored == json.loads(k_cell_file(cell))
    assert stored["errors"] == [list(row) for row in cell.errors] and stored["counts"] == [2] * classes


def test_the_size_line_and_a_dry_run(make_spec, tmp_path, capsys):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"")
    spec = make_spec(*SMALL, f"tracking_uri=sqlite:///{store}", "dry_run=true")
    cells = sum(plan.k_cell_seconds(cell.classes, cell.size) for cell in spec.cells)
    tracked = 6 * plan.SECONDS_PER_CELL_TRACKED + 60 * 4 * plan.SECONDS_PER_METRIC_TRACKED
    assert plan.estimated_seconds(spec) == pytest.approx(
        plan.STARTUP_SECONDS + cells + tracked + plan.K_CLASS_REPORT_SECONDS
    )
    lines = plan.dry_run_lines(spec)
    samples = sum(cell.size for cell in spec.cells)
    assert lines[0].startswith(f"long_tail: 6 cells, {samples:.3g} samples in all, sampled mode; about ")
    assert lines[1] == "  head_heavy on balanced per_class=20"
    # K = 100 at 10^5 rows: the pairs of classes and the scores dominate
    assert (
        plan.k_cell_seconds(100, 100_000) > plan.k_cell_seconds(10, 100_000) > plan.k_cell_seconds(10, 1000)
    )


@pytest.mark.parametrize(
    "overrides, line",
    [
        (
            ["multiclass.losses=[cce,bce]"],
            "multiclass.losses[1]='bce' is a binary loss; a K-class grid of grid.classes=10 takes: "
            + ", ".join(MULTICLASS_LOSS_NAMES),
        ),
        (
            ["multiclass.losses=[cce,focall]"],
            "multiclass.losses[1]='focall' is not one of: " + ", ".join(MULTICLASS_LOSS_NAMES),
        ),
        (
            ["losses=[bce]"],
            "losses=bce names binary losses, which a K-class grid of grid.classes=10 does not take; give "
            "its losses as multiclass.losses=[...] (from: " + ", ".join(MULTICLASS_LOSS_NAMES) + ")",
        ),
        (["multiclass.beta=1"], "multiclass.beta=1 is not a number in [0, 1)"),
        (["multiclass.tau=-1"], "multiclass.tau=-1 is not a finite number >= 0"),
        (["multiclass.scale=0"], "multiclass.scale=0 is not a finite number > 0"),
        (["multiclass.top_k=0"], "multiclass.top_k=0 is not a whole number >= 1"),
        (
            ["multiclass.few_below=200"],
            "multiclass.few_below=200 is above many_above=100; allowed: few_below <= many_above",
        ),
        (
            ["+multiclass.gama=1"],
            "multiclass.gama is not a key of multiclass; its keys are: losses, beta, tau, max_margin, "
            "scale, top_k, many_above, few_below",
        ),
        (
            ["backend=keras"],
            "backend=keras: the K-class losses of grid.classes=10 are numpy's; leave backend=numpy",
        ),
        (
            ["score_model=beta"],
            "score_model=beta: a K-class grid draws the uniform model's scores "
            "(docs/background/k-class-cell.md); leave score_model=uniform",
        ),
        (
            ["threshold=0.3"],
            "threshold: a K-class grid predicts each row's highest score (the argmax); leave threshold at "
            "0.5 and grid.thresholds unset",
        ),
        (
            ["grid.validation.0.per_class=2e11"],
            "grid.validation: the cell head_heavy on balanced per_class=200000000000.0 has 2e+12 samples, "
            "more than a sampled cell draws (at most 1e+12); mode=expected gives its exact values at once",
        ),
        (
            [
                "grid.validation=[[10,10,10,10,10,10,10,10,10,0]]",
                "grid.models=[{name:m,accuracy:{profile:uniform,value:0.5}}]",
                "multiclass.losses=[cce,ldam]",
            ],
            "multiclass.losses names ldam, which take the training prior, and the cell 'm on explicit' has "
            "a training count of 0; leave them out (null: every loss that applies)",
        ),
        (
            ["+grid.thresholds=[0.5]"],
            "grid.thresholds is not a K-class grid key; its keys are: name, classes, validation, models, seeds",
        ),
    ],
)
def test_a_bad_setting_gets_one_line(make_spec, overrides, line):
    with pytest.raises(InvalidValue) as error:
        make_spec(*SMALL, *overrides)
    assert str(error.value) == line


def test_a_cell_with_a_training_count_of_0_logs_the_losses_that_apply(make_spec, tracking_uri):
    spec = make_spec(
        "grid=long_tail",
        "grid.classes=3",
        "grid.validation=[[10,10,0]]",
        "grid.models=[{name:m,accuracy:{profile:uniform,value:0.5}}]",
        f"tracking_uri={tracking_uri}",
    )
    run_id = run_sweep(spec)
    losses = {
        key for key in MlflowClient(tracking_uri).get_run(run_id).data.metrics if key.startswith("loss/")
    }
    assert losses == {"loss/cce", "loss/categorical_focal", "loss/multiclass_brier"}
