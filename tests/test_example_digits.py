"""The digits long-tail example, end to end: two scikit-learn models trained on a long tail, their
K-class predictions files, the K-class flip run in MLflow held to the flips recomputed from the files."""

from pathlib import Path

import pytest
from helpers import run_example
from mlflow.tracking import MlflowClient

from imbalance_sweep.core.multiclass.file_flip_inputs import file_class_values
from imbalance_sweep.core.multiclass.file_model import load_class_file_model
from imbalance_sweep.core.multiclass.prior_flip import path_flips
from imbalance_sweep.core.multiclass.prior_paths import exponential_path
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_long_tail.py"
TRAIN = [120, 86, 61, 44, 31, 22, 16, 11, 8, 6]


@pytest.mark.slow
def test_the_digits_example_logs_the_flips_of_its_two_files(tmp_path, new_store_file):
    uri = new_store_file(tmp_path / "mlflow.db")
    lines = run_example(EXAMPLE, tmp_path, uri)
    assert lines[0] == f"training images a digit: {TRAIN}"
    files = [load_class_file_model(tmp_path / "preds" / name) for name in ("plain.parquet", "balanced.csv")]
    assert [model.class_counts for model in files] == [(50,) * 10] * 2  # the balanced validation set

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("imbalance-sweep")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.`{ROLE_TAG}` = '{Role.FLIP}'")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["model_a"], params["model_b"], params["model_a.train"]) == (
        "plain",
        "balanced",
        str(TRAIN).replace(" ", ""),
    )
    assert {entry.dataset.name for entry in run.inputs.dataset_inputs} == {"plain.parquet", "balanced.csv"}

    # What MLflow stored is what the two files give, recomputed here from the files alone.
    losses, metrics = params["losses"].split(","), params["metrics"].split(",")
    a, b = (
        file_class_values(name, model, training_counts=TRAIN, losses=losses)
        for name, model in zip(("plain", "balanced"), files, strict=True)
    )
    found = path_flips(a, b, exponential_path(10, 1, 20), losses=losses, metrics=metrics)
    keys = {f"flip/{'loss/' if p.is_loss else ''}{p.name}": p.flips[0] for p in found.preferences if p.flips}
    assert run.data.metrics == keys
    # every metric prefers the re-balanced model all along; cross-entropy flips to the plain one
    assert set(keys) >= {"flip/loss/cce"} and not any(
        key in keys for key in ("flip/accuracy", "flip/f1_macro")
    )
    text = Path(client.download_artifacts(run.info.run_id, "flip.txt", str(tmp_path))).read_text()
    assert text.splitlines() == lines[3 : lines.index("", 7)]  # A, B, the path, the table
