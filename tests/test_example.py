"""The breast cancer example, end to end: two scikit-learn models, their files, the flip run in MLflow."""

from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from helpers import run_example
from mlflow.tracking import MlflowClient
from sklearn.metrics import log_loss

from imbalance_sweep.analysis.preference import Model, preferences
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.tracking import where
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "breast_cancer.py"


@pytest.mark.slow
def test_the_breast_cancer_example_logs_the_flip_points_of_its_two_models(tmp_path, new_store_file):
    uri = new_store_file(tmp_path / "mlflow.db")  # the session's new store, not built again here
    lines = run_example(EXAMPLE, tmp_path, uri)
    files = tmp_path / "preds" / "logreg.csv", tmp_path / "preds" / "naive_bayes.parquet"
    labels = pcsv.read_csv(files[0])["label"].to_numpy()
    assert (labels == pq.read_table(files[1])["label"].to_numpy()).all()
    assert labels.size == 209 and labels.sum() == 30  # half of 357 benign + 60 malignant, stratified

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("imbalance-sweep")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.`{ROLE_TAG}` = '{Role.FLIP}'")
    assert run.info.status == "FINISHED" and run.info.run_name == "flip logreg vs naive_bayes"
    end = lines.index("", 2)  # the flip lines, then where the run is
    assert lines[end + 1 :] == where.summary_lines(
        uri,
        experiment_name="imbalance-sweep",
        experiment_id=experiment.experiment_id,
        run_id=run.info.run_id,
        what="flip points, chart flip.png",
    )
    params = run.data.params
    assert (params["model_a"], params["model_b"]) == ("logreg", "naive_bayes")
    assert {entry.dataset.name for entry in run.inputs.dataset_inputs} == {
        "logreg.csv",
        "naive_bayes.parquet",
    }

    # What MLflow stored is what the files give, recomputed here from the files alone.
    models = [EmpiricalModel(load_predictions(path)) for path in files]
    a, b = (
        Model(*m.grid_accuracies, title=path.stem, score_model=m)
        for m, path in zip(models, files, strict=True)
    )
    losses = params["losses"].split(",")
    found = preferences(a, b, losses=losses, metrics=params["metrics"].split(","), alpha=0.25, gamma=2.0)
    assert run.data.metrics == {f"flip/{p.key}": p.flips[0] for p in found if p.flips}
    assert set(run.data.metrics) == {"flip/loss/brier", "flip/f1", "flip/mcc"}
    assert run.data.metrics["flip/f1"] == pytest.approx(0.367, abs=5e-4)
    # the naive Bayes model is right more often on the malignant, but its confident mistakes cost
    # it bce on every validation set: logistic regression has the lower bce at 1:1 too
    scores = [pcsv.read_csv(files[0])["score"].to_numpy(), pq.read_table(files[1])["score"].to_numpy()]
    weights = [1 / (labels == 0).sum() if y == 0 else 1 / (labels == 1).sum() for y in labels]
    balanced = [log_loss(labels, s, sample_weight=weights) for s in scores]
    assert balanced[0] < balanced[1]
    assert "loss/bce               prefers A at every prevalence" in lines
    text = Path(client.download_artifacts(run.info.run_id, "flip.txt", str(tmp_path))).read_text()
    assert text.splitlines() == lines[2:end]
