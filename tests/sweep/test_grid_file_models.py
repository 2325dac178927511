"""Predictions files on a grid's ``models`` axis: config, cell identity, values, the sweep's tables."""

import hashlib
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import f1_score, log_loss

from imbalance_sweep import InvalidValue, evaluate, expected, simulate
from imbalance_sweep.analysis.agreement import agreement, replicate_summary
from imbalance_sweep.analysis.compare.alignment import compare_cells
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.sweep.identity import cell_key, sweep_key


def write_predictions(path, labels, scores):
    table = pa.table({"label": np.asarray(labels), "score": np.asarray(scores)})
    (pq.write_table if path.suffix == ".parquet" else pcsv.write_csv)(table, path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two candidate models on one validation set of 3,000 rows (10 % positives): ``sharp`` is
    confident and right more often on negatives, ``recall`` finds more positives."""
    rng = np.random.default_rng(11)
    labels = (rng.random(3000) < 0.1).astype(np.int64)
    sharp = np.where(labels == 1, rng.beta(3, 2, labels.size), rng.beta(1, 8, labels.size))
    recall = np.where(labels == 1, rng.beta(6, 1.5, labels.size), rng.beta(2, 4, labels.size))
    folder = tmp_path_factory.mktemp("preds")
    return (
        write_predictions(folder / "sharp.csv", labels, sharp),
        write_predictions(folder / "recall.parquet", labels, recall),
    )


def model_of(path):
    return EmpiricalModel(load_predictions(path))


def test_files_and_pairs_form_the_models_axis(make_spec, files):
    sharp, recall = files
    spec = make_spec(
        "grid=single",
        "grid.balances=[[1000,10],[50,50]]",
        f"grid.models=[[0.9,0.6],{sharp},{{path:{recall},name:forest}}]",
    )
    assert [(c.num_1s, c.model) for c in spec.cells] == [
        (10, None),
        (10, "sharp"),
        (10, "forest"),
        (50, None),
        (50, "sharp"),
        (50, "forest"),
    ]
    assert set(spec.file_models) == {"sharp", "forest"}
    for cell in spec.cells[1:3]:
        model = spec.file_models[cell.model]
        assert (cell.acc_0s, cell.acc_1s) == model.grid_accuracies
        assert cell.digest == model.predictions.digest
        assert spec.model_of(cell) is model
    assert spec.cells[1].name == "n0=1000 n1=10 model=sharp"
    assert spec.model_of(spec.cells[0]) is spec.score_model


def test_a_uniform_cell_keeps_its_key_and_a_files_key_holds_its_digest(make_spec, files, tmp_path):
    spec = make_spec()
    uniform = spec.cells[0]
    # The key before predictions files existed: the same hash of the same values.
    text = json.dumps(
        {
            "sweep": "s",
            "num_0s": uniform.num_0s,
            "num_1s": uniform.num_1s,
            "acc_0s": repr(uniform.acc_0s),
            "acc_1s": repr(uniform.acc_1s),
            "replicate": 0,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    assert cell_key("s", uniform) == hashlib.sha256(text.encode()).hexdigest()[:16]
    old_entropy = [0, 0, uniform.num_0s, uniform.num_1s]
    old_entropy += [int(b) for b in np.array([uniform.acc_0s, uniform.acc_1s]).view(np.uint64)]
    assert uniform.seed_sequence(0).entropy == np.random.SeedSequence(old_entropy).entropy

    sharp = files[0]
    moved = shutil.copy(sharp, tmp_path / "sharp.csv")
    labels, scores = np.loadtxt(sharp, delimiter=",", skiprows=1, unpack=True)
    (tmp_path / "other").mkdir()
    changed = write_predictions(tmp_path / "other" / "sharp.csv", labels.astype(int), scores * 0.999)
    keys = []
    for path in (sharp, moved, changed):
        (cell,) = make_spec("grid=single", f"grid.models=[{path}]").cells
        keys.append(cell_key("s", cell))
        assert cell.digest == load_predictions(path).digest
    assert keys[0] == keys[1] != keys[2]  # the file's content, not where it lies
    same_accuracies = Cell(1, 1, 0.5, 0.5, 0, "a", "0" * 16), Cell(1, 1, 0.5, 0.5, 0, "a", "1" * 16)
    assert cell_key("s", same_accuracies[0]) != cell_key("s", same_accuracies[1])
    # files are part of the grid, which is not part of the sweep's identity (a grown grid resumes)
    assert sweep_key(make_spec("grid=single", f"grid.models=[{sharp}]")) == sweep_key(
        make_spec("grid=single")
    )


def test_file_cells_are_reweighted_exactly_in_expected_mode(make_spec, files, tracking_uri):
    from mlflow.tracking import MlflowClient

    from imbalance_sweep.app import run_sweep

    sharp, recall = files
    spec = make_spec(
        "grid=single",
        "grid.balances=[[99000,1000],[5000,5000]]",
        f"grid.models=[{sharp},{recall}]",
        "mode=expected",
        f"tracking_uri={tracking_uri}",
    )
    client = MlflowClient(tracking_uri)
    parent = client.get_run(run_sweep(spec))
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert sorted(run.info.run_name for run in children) == [
        "n0=5000 n1=5000 model=recall",
        "n0=5000 n1=5000 model=sharp",
        "n0=99000 n1=1000 model=recall",
        "n0=99000 n1=1000 model=sharp",
    ]
    assert {entry.dataset.name for entry in parent.inputs.dataset_inputs} == {"sharp.csv", "recall.parquet"}
    for run in children:
        params = run.data.params
        predictions = load_predictions(params["model.path"])
        (entry,) = run.inputs.dataset_inputs
        assert entry.dataset.digest == params["model.digest"] == predictions.digest
        n0, n1 = int(params["num_0s"]), int(params["num_1s"])
        # scikit-learn on the file itself, each class weighted to the cell's class size
        labels, scores = predictions.labels, predictions.scores.astype(np.float64)
        weights = np.where(labels, n1 / labels.sum(), n0 / (~labels).sum())
        assert run.data.metrics["loss/bce"] == pytest.approx(
            log_loss(labels, scores, sample_weight=weights), rel=1e-6
        )
        assert run.data.metrics["f1"] == pytest.approx(
            f1_score(labels, scores > 0.5, sample_weight=weights), rel=1e-9
        )
        assert run.data.metrics == pytest.approx(
            expected(n0, 0, n1, 0, score_model=model_of(params["model.path"]))
        )

    artifacts = client.download_artifacts(parent.info.run_id, "", str(tracking_uri.split("///")[1] + ".d"))
    with open(f"{artifacts}/cells.csv") as table:
        header = table.readline().strip().split(",")
    assert "model" in header and "model.digest" in header
    with open(f"{artifacts}/summary/agreement.json") as stream:
        stored = json.load(stream)
    rows = [dict(zip(stored["columns"], row, strict=True)) for row in stored["data"]]
    bce_vs_f1 = {r["num_1s"]: r for r in rows if r["loss"] == "bce" and r["reference"] == "f1"}
    for n1, row in bce_vs_f1.items():
        assert row["n_models"] == 2 and row["n_pairs"] == 1
        n0 = 100_000 - n1 if n1 == 1000 else 5000
        a, b = (expected(n0, 0, n1, 0, score_model=model_of(p)) for p in files)
        agree = (a["loss/bce"] < b["loss/bce"]) == (a["f1"] > b["f1"])
        assert row["pair_agreement"] == float(agree)
    with open(f"{artifacts}/figures/agreement_f1.png", "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_rows_group_by_model_name_even_when_accuracies_coincide():
    rows = [
        {"num_0s": 9, "num_1s": 1, "acc_0s": 0.9, "acc_1s": 0.5, "model": name, "loss/bce": bce, "f1": f1}
        for name, bce, f1 in (("a", 0.3, 0.4), ("b", 0.2, 0.5), ("a", 0.5, 0.2))
    ]
    summary = replicate_summary(rows)
    assert [(e["model"], e["n_replicates"], e["loss/bce_mean"]) for e in summary] == [
        ("a", 2, 0.4),
        ("b", 1, 0.2),
    ]
    (row,) = agreement(rows, losses=["bce"], references=["f1"])
    assert row["n_models"] == 2 and row["pair_agreement"] == 1.0  # b: lower bce, higher f1


def test_comparison_aligns_file_cells_by_model_name():
    def sweep(values):
        return [
            {
                "params": {"num_0s": "90", "num_1s": "10", "acc_0s": "0.9", "acc_1s": "0.5", "model": name},
                "metrics": {"loss/bce": value},
            }
            for name, value in values
        ]

    comparison = compare_cells([sweep([("a", 0.3), ("b", 0.2)]), sweep([("b", 0.25), ("a", 0.3)])])
    assert [cell.model for cell in comparison.cells] == ["a", "b"]
    assert comparison.columns[:6] == ["num_0s", "num_1s", "acc_0s", "acc_1s", "replicate", "model"]
    assert [row["B - A"] for row in comparison.rows()] == [0.0, pytest.approx(0.05)]


def test_sampled_file_cells_resample_their_own_file(make_spec, files):
    from imbalance_sweep.core.evaluation import evaluate_cell
    from imbalance_sweep.core.losses import make_terms

    spec = make_spec("grid=single", "grid.balances=[[2000,300]]", f"grid.models=[{files[0]},{files[1]}]")
    terms = make_terms("numpy", spec.losses, alpha=0.25, gamma=2.0)
    values = [
        evaluate_cell(
            cell, seed=0, losses=spec.losses, term_sums=terms, chunk_size=512, model=spec.model_of(cell)
        )
        for cell in spec.cells
    ]
    assert values[0] != values[1]
    # the draw is the empirical model's resampling, from the cell's own (digest-seeded) streams
    cell = spec.cells[0]
    model = spec.model_of(cell)
    rng = [np.random.default_rng(s) for s in cell.seed_sequence(0).spawn(2)]
    scores = [
        np.concatenate(list(model.class_scores(rng[c], n, c, 0, 4096))) for c, n in ((0, 2000), (1, 300))
    ]
    y_true = np.r_[np.zeros(2000), np.ones(300)]
    direct = evaluate(y_true, np.concatenate(scores), losses=spec.losses)
    assert values[0] == pytest.approx(direct, rel=1e-12)
    assert simulate(2000, 0, 300, 0, score_model=model)[1].tolist() != np.concatenate(scores).tolist()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["grid.models=[{FILE},{path:{FILE}}]"],
            r"^grid.models\[1\]: the model name 'sharp' is already grid.models\[0\]'s; give each file its own name",
        ),
        (
            ["grid.models=[{path:{FILE},colour:red}]"],
            r"^grid.models\[0\].colour is not a key of a predictions file entry",
        ),
        (["grid.models=[nope.csv]"], r"^predictions file '.*nope.csv' does not exist$"),
        (
            ["grid.models=[{FILE}]", "score_model=empirical", "score_model.path={FILE}"],
            r"^grid.models lists predictions files and score_model=empirical: a file is its own score model",
        ),
    ],
)
def test_bad_file_entries_are_one_line(make_spec, files, overrides, message):
    with pytest.raises(InvalidValue, match=message) as error:
        make_spec("grid=single", *(o.replace("{FILE}", str(files[0])) for o in overrides))
    assert "\n" not in str(error.value)
