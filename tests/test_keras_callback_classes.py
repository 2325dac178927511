"""The Keras callback on a softmax model of 3 classes: what it logs to MLflow equals the K-class
re-weighting (core.multiclass.reweighting) on the epoch's predictions file read back from MLflow, as
the set is and at each prior; Keras's logs get the exposed values; bad arguments get one line."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.predictions import load_class_predictions
from imbalance_sweep.core.multiclass.reweighting import class_validation_values, reweighted_values
from imbalance_sweep.keras_callback import ValidationPanel, logs_key, mlflow_key

pytestmark = pytest.mark.xdist_group("keras_callback")

EXPERIMENT = "keras-panel-classes"
PRIORS = {"deploy": [0.8, 0.15, 0.05], "balanced": [1 / 3, 1 / 3, 1 / 3]}
TRAINING = [500, 60, 8]  # many, medium and few shot
EPOCHS = 2


def data(rows: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four features, each class shifted along its own: a task a softmax layer half learns."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(rows)), rows))
    features = rng.normal(size=(labels.size, 4))
    features[np.arange(labels.size), labels] += 1.2
    return features.astype(np.float32), labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory, new_store_file):
    folder = tmp_path_factory.mktemp("keras-panel-classes")
    uri = new_store_file(folder / "mlflow.db")
    MlflowClient(uri).create_experiment(EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
    x_train, y_train = data((200, 60, 20), seed=1)
    x_val, y_val = data((60, 30, 10), seed=2)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        panel = ValidationPanel(
            x_val,
            keras.utils.to_categorical(y_val, 3),  # one-hot labels
            priors=PRIORS,
            training_counts=TRAINING,
            expose=["cce", "balanced_accuracy"],
            experiment=EXPERIMENT,
        )
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
        history = model.fit(x_train, y_train, epochs=EPOCHS, callbacks=[panel], verbose=0)
    client = MlflowClient(uri)
    files = [
        Path(client.download_artifacts(panel.run_id, f"predictions/epoch_{epoch:03d}.parquet", str(folder)))
        for epoch in range(1, EPOCHS + 1)
    ]
    return {"client": client, "panel": panel, "history": history.history, "y_val": y_val, "files": files}


def logged(client: MlflowClient, run_id: str, key: str) -> list[float]:
    history = sorted(client.get_metric_history(run_id, key), key=lambda metric: metric.step)
    assert [metric.step for metric in history] == list(range(EPOCHS)), key
    return [metric.value for metric in history]


def test_logged_values_equal_the_reweighting_of_the_epochs_predictions_file(trained):
    client, panel = trained["client"], trained["panel"]
    run = client.get_run(panel.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["panel.classes"] == "3" and run.data.params["panel.priors"] == "deploy,balanced"
    per_epoch = []
    for path in trained["files"]:
        labels, scores = load_class_predictions(path)
        assert np.array_equal(labels, trained["y_val"])
        per_epoch.append(class_validation_values(labels, scores, PRIORS, training_counts=TRAINING))
    as_is = per_epoch[0][None]
    assert {
        "loss/cce",
        "loss/ldam",
        "balanced_accuracy",
        "recall/class_002",
        "recall/few",
        "roc_auc_ovo",
    } <= set(as_is)
    for key in as_is:
        assert logged(client, panel.run_id, mlflow_key(key)) == [values[None][key] for values in per_epoch], (
            key
        )
    for name, prior in PRIORS.items():
        labels, scores = load_class_predictions(trained["files"][-1])
        expected = reweighted_values(labels, scores, prior, training_counts=TRAINING)
        assert expected.keys() == as_is.keys()
        for key, value in expected.items():
            assert logged(client, panel.run_id, mlflow_key(key, name))[-1] == value, (name, key)
    # the balanced prior moves accuracy to the mean recall: balanced accuracy, as the set has every class
    balanced = logged(client, panel.run_id, "val_at_balanced/accuracy")
    assert balanced == pytest.approx(logged(client, panel.run_id, "val/balanced_accuracy"), rel=1e-12)


def test_exposed_values_reach_kerass_history(trained):
    client, run_id, history = trained["client"], trained["panel"].run_id, trained["history"]
    for name, key in (("cce", "loss/cce"), ("balanced_accuracy", "balanced_accuracy")):
        for prior in (None, *PRIORS):
            assert history[logs_key(name, prior)] == logged(client, run_id, mlflow_key(key, prior))
    assert "val_cce_at_deploy" in history
    panel = trained["panel"]
    assert panel.watch("log_loss", "deploy") == {"monitor": "val_log_loss_at_deploy", "mode": "min"}
    assert panel.watch("recall_macro") == {"monitor": "val_recall_macro", "mode": "max"}


def test_class_indices_and_one_hot_labels_are_the_same_labels():
    indices = np.array([0, 2, 1, 2])
    as_indices = ValidationPanel(np.zeros((4, 4)), indices, classes=3)
    one_hot = ValidationPanel(np.zeros((4, 4)), np.eye(3)[indices])
    assert np.array_equal(as_indices.labels, indices) and np.array_equal(one_hot.labels, indices)
    assert one_hot.classes == 3 and one_hot.expose == ["cce", "accuracy", "balanced_accuracy"]
    assert len(as_indices.losses) == 7
    # training counts default to the set's: with a class of none, the training-prior losses are left out
    missing = ValidationPanel(np.zeros((4, 4)), [0, 2, 2, 0], classes=3)
    assert missing.losses == ("cce", "categorical_focal", "multiclass_brier")


@pytest.mark.parametrize(
    "arguments, line",
    [
        ({"classes": 1}, "classes=1 is not a whole number >= 2"),
        ({"y_val": [0, 1, 3, 0]}, "y_val[2]=3 is not a class index in 0..2 (K=3)"),
        ({"y_val": [0, 1, 0.5, 0]}, "y_val[2]=0.5 is not a class index in 0..2 (K=3)"),
        ({"y_val": np.ones((4, 3))}, "y_val[0]=[1.0, 1.0, 1.0] is not a one-hot row (one 1, the others 0)"),
        ({"y_val": np.eye(4)}, "y_val has 4 one-hot columns; allowed: 3, one a class"),
        ({"priors": {"deploy": [0.5, 0.6, -0.1]}}, "priors['deploy'][2]=-0.1 is not a finite number >= 0"),
        (
            {"priors": {"deploy": [0.5, float("nan"), 0.5]}},
            "priors['deploy'][1]=nan is not a finite number >= 0",
        ),
        (
            {"priors": {"deploy": [0.5, 0.6, 0.1]}},
            "priors['deploy'] sums to 1.2; allowed: class priors summing",
        ),
        (
            {"priors": {"deploy": [0.5, 0.5]}},
            "priors['deploy'] has shape (2,); allowed: (3,), one number a class",
        ),
        ({"classes": None, "priors": {"deploy": [1.0]}}, "classes=1 is not a whole number >= 2"),
        (
            {"y_val": [0, 1, 1, 0], "priors": {"d": [0.5, 0.25, 0.25]}},
            "priors['d'][2]=0.25 is a share of class 2, which has no rows",
        ),
        ({"priors": {"at 1%": [0.5, 0.25, 0.25]}}, "priors: the name 'at 1%' is not a prior's name"),
        ({"priors": {"val": [0.5, 0.25, 0.25]}}, "priors: the name 'val' is not a prior's name"),
        (
            {"priors": [[0.5, 0.25, 0.25]]},
            "priors=[[0.5, 0.25, 0.25]] is not a mapping of names to class priors",
        ),
        (
            {"prevalences": [0.01]},
            "prevalences=[0.01] is for a binary (one sigmoid) model; a K-class panel takes priors",
        ),
        ({"losses": ["bce"]}, "losses[0]='bce' is not one of: cce,"),
        ({"expose": ["recall"]}, "expose[0]='recall' is not one of: cce,"),
        ({"expose": ["ldam"], "losses": ["cce"]}, "expose: 'ldam' is not one of losses=['cce']"),
        ({"training_counts": [5, -1, 3]}, "training_counts[1]=-1 is not a finite number >= 0"),
    ],
)
def test_bad_arguments_get_one_line(arguments, line):
    given = {"x_val": np.zeros((4, 4)), "y_val": [0, 1, 2, 0], "classes": 3, **arguments}
    with pytest.raises(InvalidValue) as refused:
        ValidationPanel(given.pop("x_val"), given.pop("y_val"), **given)
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)


def test_a_model_of_the_wrong_width_stops_training_with_one_line_and_a_failed_run(
    tracking_uri, tmp_path, monkeypatch
):
    MlflowClient(tracking_uri).create_experiment(EXPERIMENT, artifact_location=(tmp_path / "a").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    x_val, y_val = data((20, 10, 5), seed=2)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    panel = ValidationPanel(x_val, y_val, classes=3, experiment=EXPERIMENT)
    line = (
        r"^the model gives scores of shape \(35, 2\) for 35 validation labels of K=3 classes: "
        r"ValidationPanel takes one softmax row of K a sample$"
    )
    with pytest.raises(InvalidValue, match=line):
        model.fit(x_val, y_val % 2, epochs=1, callbacks=[panel], verbose=0)
    assert MlflowClient(tracking_uri).get_run(panel.run_id).info.status == "FAILED"
