"""K-class predictions files on a K-class grid's ``models`` ({name, file, train, label}), in-process
(make_spec, run_sweep) and at the door (run_hydra_main), read back from what MLflow stored: a cell's
exact values are the file re-weighted to its prior, its sampled values a draw from the file's rows
(the same under two chunk sizes), the file is the runs' dataset, its digest in the cell key; a bad
file, a K other than grid.classes, a prior on a class the file lacks: one line, exit 2, no run."""

import json
import math
import sys

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from helpers import runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep import app
from imbalance_sweep.app import run_sweep
from imbalance_sweep.cli import run_hydra_main
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.expectations import beside_sampled
from imbalance_sweep.core.multiclass.evaluation import evaluate_rows
from imbalance_sweep.core.multiclass.file_model import (
    file_expected_values,
    file_score_chunks,
    load_class_file_model,
)
from imbalance_sweep.core.multiclass.metrics import MulticlassSettings
from imbalance_sweep.core.multiclass.predictions import class_predictions_table
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES
from imbalance_sweep.sweep.identity import cell_key, sweep_key
from imbalance_sweep.tracking.tags import CELL_KEY_TAG, Role

TRAIN = [900, 100, 20, 3]
SETTINGS = MulticlassSettings(top_k=5, ece_bins=15, many_above=100.0, few_below=20.0)
LOSS_SETTINGS = {"alpha": 0.25, "gamma": 2.0, "beta": 0.9999, "tau": 1.0, "max_margin": 0.5, "scale": 1.0}


def write_file(path, rows, sharpness, seed):
    """A 4-class predictions file: ``rows`` per class, shuffled, the true class favoured."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(rows)), rows))
    scores = rng.dirichlet(np.ones(len(rows)), labels.size)
    scores[np.arange(labels.size), labels] += rng.uniform(0, sharpness, labels.size)
    scores = (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
    table = class_predictions_table(labels, scores)
    (pq.write_table if path.suffix == ".parquet" else pcsv.write_csv)(table, path)
    return path


@pytest.fixture
def files(tmp_path):
    (tmp_path / "preds").mkdir()
    return (
        write_file(tmp_path / "preds" / "sharp.parquet", (60, 40, 20, 10), 1.0, 0),
        write_file(tmp_path / "preds" / "vague.csv", (50, 50, 50, 50), 0.3, 1),
    )


def grid(*models, validation="[[40,20,10,5],{profile: balanced, per_class: 30}]"):
    return (
        "grid=long_tail",
        "grid.classes=4",
        f"grid.validation={validation}",
        f"grid.models=[{','.join(models)}]",
    )


FILES = (
    "{name: sharp, file: preds/sharp.parquet}",
    f"{{name: vague, file: preds/vague.csv, train: {TRAIN}}}",
)


def stored_cells(tracking_uri):
    return {run.data.tags[CELL_KEY_TAG]: run for run in runs_by_role(tracking_uri)[Role.CELL]}


def same(stored, computed):
    """Equal values, NaN equal to NaN (MLflow keeps float64 as it is)."""
    assert set(stored) == set(computed)
    for key, value in computed.items():
        assert stored[key] == value or (math.isnan(value) and math.isnan(stored[key])), key


def test_expected_cells_are_the_files_reweighted_to_each_prior(make_spec, files, tmp_path, tracking_uri):
    spec = make_spec(*grid(*FILES), "mode=expected", f"tracking_uri={tracking_uri}", start_dir=tmp_path)
    assert [(cell.model, cell.counts) for cell in spec.cells] == [
        ("sharp", (40, 20, 10, 5)),
        ("vague", (40, 20, 10, 5)),
        ("sharp", (30, 30, 30, 30)),
        ("vague", (30, 30, 30, 30)),
    ]
    models = {"sharp": load_class_file_model(files[0]), "vague": load_class_file_model(files[1])}
    parent = run_sweep(spec)
    cells = stored_cells(tracking_uri)
    client = MlflowClient(tracking_uri)
    assert {i.dataset.name for i in client.get_run(parent).inputs.dataset_inputs} == {
        "sharp.parquet",
        "vague.csv",
    }
    for cell in spec.cells:
        model = models[cell.model]
        run = cells[cell_key(sweep_key(spec), cell)]
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent
        training = list(model.class_counts) if cell.model == "sharp" else TRAIN  # default: the file's
        expected = file_expected_values(
            model,
            cell.counts,
            losses=MULTICLASS_LOSS_NAMES,
            training_counts=training,
            settings=SETTINGS,
            **LOSS_SETTINGS,
        )
        same(run.data.metrics, expected)
        params = run.data.params
        assert params["model"] == cell.model and params["model.digest"] == model.digest
        assert params["model.path"] == model.path and params["errors"] == "file"
        assert json.loads(params["training_counts"]) == training
        assert json.loads(params["accuracies"]) == list(model.accuracies)
        (dataset,) = run.inputs.dataset_inputs
        assert (dataset.dataset.name, dataset.dataset.digest) == (
            files[cell.model == "vague"].name,
            model.digest,
        )


def test_sampled_cells_are_draws_from_the_files_rows_the_same_under_two_chunk_sizes(
    make_spec, files, tmp_path, tracking_uri
):
    model = load_class_file_model(files[0])
    stored = []
    for chunk_size in (7, 4096):
        spec = make_spec(
            *grid(FILES[0], validation="[[40,20,10,5]]"),
            f"chunk_size={chunk_size}",
            "seed=3",
            f"tracking_uri={tracking_uri}",
            start_dir=tmp_path,
        )
        run_sweep(spec)
        (cell,) = spec.cells
        metrics = stored_cells(tracking_uri)[cell_key(sweep_key(spec), cell)].data.metrics
        drawn = evaluate_rows(
            file_score_chunks(model, cell.counts, seed=3, chunk_size=chunk_size),
            classes=4,
            training_counts=model.class_counts,
            ranked_rows=cell.size,
            settings=SETTINGS,
            **LOSS_SETTINGS,
        )
        exact = file_expected_values(
            model,
            cell.counts,
            losses=MULTICLASS_LOSS_NAMES,
            training_counts=model.class_counts,
            settings=SETTINGS,
            **LOSS_SETTINGS,
        )
        same(metrics, {**drawn, **beside_sampled(exact)})
        stored.append(metrics)
    same(stored[0], stored[1])


def test_a_files_cell_key_holds_its_digest(make_spec, files, tmp_path):
    (cell,) = make_spec(*grid(FILES[0], validation="[[40,20,10,5]]"), start_dir=tmp_path).cells
    assert cell.digest == load_class_file_model(files[0]).digest
    write_file(files[0], (60, 40, 20, 10), 1.0, 5)  # the same name, other rows
    (changed,) = make_spec(*grid(FILES[0], validation="[[40,20,10,5]]"), start_dir=tmp_path).cells
    assert changed.digest != cell.digest and cell_key("s", changed) != cell_key("s", cell)


@pytest.fixture
def k4(tmp_path):
    path = tmp_path / "preds" / "k3.parquet"
    path.parent.mkdir(exist_ok=True)
    return write_file(path, (10, 10, 10), 0.5, 2)


@pytest.mark.parametrize(
    "models, validation, line",
    [
        (
            ["{name: m, file: preds/nope.parquet}"],
            None,
            "grid.models[0].file: predictions file '<tmp>/preds/nope.parquet' does not exist",
        ),
        (
            ["{name: m, file: preds/k3.parquet}"],
            None,
            "grid.models[0].file='preds/k3.parquet' has K=3 score columns (score_0 .. score_2); allowed: 4 "
            "columns, one a class (grid.classes=4)",
        ),
        (
            ["{name: m, file: preds/sharp.parquet}", "{name: z, file: preds/zero.parquet}"],
            "[[40,20,10,5]]",
            "grid.validation[0] has 5 rows of class 3, and grid.models[1].file '<tmp>/preds/zero.parquet' has "
            "none; allowed: a file with rows of every class the prior has rows of",
        ),
        (
            ["{name: m, file: preds/sharp.parquet, errors: uniform}"],
            None,
            "grid.models[0].errors is not a key of a predictions file's model; its keys are: name, file, "
            "train, label (the file gives the accuracies and errors)",
        ),
        (
            ["{name: m, file: preds/sharp.parquet, label: y}"],
            None,
            "grid.models[0].file: predictions file '<tmp>/preds/sharp.parquet' has no column 'y'; its "
            "columns are: label, score_0, score_1, score_2, score_3",
        ),
        (
            ["{name: m, file: preds/sharp.parquet, train: [1, 2]}"],
            None,
            "grid.models[0].train has 2 values; allowed: 4, one a class (classes=4)",
        ),
    ],
)
def test_a_bad_file_model_at_the_door_is_one_line_exit_2_and_no_run(
    models, validation, line, files, k4, tmp_path, tracking_uri, monkeypatch, capsys
):
    labels = np.repeat([0, 1, 2], 5)  # no row of class 3
    pq.write_table(
        class_predictions_table(labels, np.full((15, 4), 0.25, np.float32)),
        tmp_path / "preds" / "zero.parquet",
    )
    monkeypatch.chdir(tmp_path)
    arguments = grid(*models, **({"validation": validation} if validation else {}))
    monkeypatch.setattr(sys, "argv", ["imbalance_sweep", f"tracking_uri={tracking_uri}", *arguments])
    with pytest.raises(SystemExit) as exited:
        run_hydra_main(app.main, config_name="config")
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "imbalance-sweep: error: " + line.replace("<tmp>", str(tmp_path))
    ]
    client = MlflowClient(tracking_uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_a_file_on_a_grid_of_two_classes_is_one_line(make_spec, tmp_path):
    path = write_file(tmp_path / "two.parquet", (10, 10), 0.5, 0)
    with pytest.raises(InvalidValue) as error:
        make_spec(
            "grid=long_tail",
            "grid.classes=2",
            "grid.validation=[[10,10]]",
            f"grid.models=[{{name: m, file: {path}}}]",
        )
    assert str(error.value).startswith(
        "grid.models[0].file: a K-class predictions file on a grid of classes=2 runs as a binary file"
    )
