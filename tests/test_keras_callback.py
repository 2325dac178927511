"""The Keras callback (imbalance_sweep.keras_callback.ValidationPanel) on a tiny model: what it logs
to MLflow equals the project's ``evaluate`` on the epoch's predictions, as it is and re-weighted the
way ``expected`` re-weights a predictions file; its Parquet files read back from MLflow and work as
models; EarlyStopping driven by its value stops where the logged values say; bad arguments get one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import helpers
import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import expected
from imbalance_sweep.analysis.flip import flip_spec
from imbalance_sweep.analysis.preference import loss_curve
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.evaluation import evaluate
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.keras_callback import ValidationPanel, logs_key, mlflow_key

# one worker under xdist: the module's trained model is built once, TensorFlow traces once
pytestmark = pytest.mark.xdist_group("keras_callback")

EXPERIMENT = "keras-panel"
PREVALENCES = (0.01, 0.5)  # of 200 samples: 2 and 100 positives, whole counts for `expected`
EPOCHS = 3


def data(rows: int, positives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four features, the positives shifted along all of them: a task a logistic unit half learns."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(rows, np.int64)
    labels[rng.choice(rows, positives, replace=False)] = 1
    features = rng.normal(size=(rows, 4)) + 0.7 * labels[:, None]
    return features.astype(np.float32), labels


def tiny_model(seed: int = 0, learning_rate: float = 0.05) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(learning_rate), "binary_crossentropy")
    return model


class Recorder(keras.callbacks.Callback):
    """After the panel: the model's own validation scores and a copy of Keras's logs, each epoch."""

    def __init__(self, x_val):
        super().__init__()
        self.x_val, self.scores, self.logs = x_val, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(self.model.predict(self.x_val, verbose=0).reshape(-1))
        self.logs.append(dict(logs or {}))


@pytest.fixture(autouse=True)
def no_tracking_state_left():
    """Under Keras 2 autolog leaves MLflow's process-wide tracking URI and experiment set (its own
    set_experiment, set_tracking_uri): later tests' runs went to an earlier test's store. Each test
    ends with neither set, so the next one's MLFLOW_TRACKING_URI holds."""
    yield
    import mlflow.tracking._tracking_service.utils as tracking_service
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None
    tracking_service._tracking_uri = None


def experiment_in(tracking_uri: str, folder: Path) -> None:
    """The test's experiment, its artifacts under ``folder`` (not ./mlruns)."""
    MlflowClient(tracking_uri).create_experiment(EXPERIMENT, artifact_location=folder.as_uri())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, new_store_file):
    """One tiny model trained for 3 epochs with the panel; its run, as MLflow stored it."""
    folder = tmp_path_factory.mktemp("keras-panel")
    uri = new_store_file(folder / "mlflow.db")
    experiment_in(uri, folder / "artifacts")
    x_train, y_train = data(400, 40, seed=1)
    x_val, y_val = data(200, 20, seed=2)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        panel = ValidationPanel(x_val, y_val, prevalences=PREVALENCES, experiment=EXPERIMENT)
        recorder = Recorder(x_val)
        model = tiny_model()
        history = model.fit(
            x_train,
            y_train,
            epochs=EPOCHS,
            validation_data=(x_val, y_val),
            callbacks=[panel, recorder],
            verbose=0,
        )
    client = MlflowClient(uri)
    files = [
        Path(client.download_artifacts(panel.run_id, f"predictions/epoch_{epoch:03d}.parquet", str(folder)))
        for epoch in range(1, EPOCHS + 1)
    ]
    return {
        "uri": uri,
        "client": client,
        "panel": panel,
        "recorder": recorder,
        "history": history.history,
        "y_val": y_val,
        "files": files,
        "folder": folder,
    }


def logged(client: MlflowClient, run_id: str, key: str) -> list[float]:
    """A step metric's values, by step; the steps must be 0, 1, 2 (Keras's epoch index)."""
    history = sorted(client.get_metric_history(run_id, key), key=lambda metric: metric.step)
    assert [metric.step for metric in history] == list(range(EPOCHS)), key
    return [metric.value for metric in history]


def test_the_parquet_artifacts_hold_each_epochs_labels_and_scores(trained):
    assert trained["client"].get_run(trained["panel"].run_id).info.status == "FINISHED"
    for path, scores in zip(trained["files"], trained["recorder"].scores, strict=True):
        predictions = load_predictions(path)
        assert np.array_equal(predictions.labels, trained["y_val"] == 1)
        assert np.array_equal(predictions.scores, scores.astype(np.float32))
    assert len({load_predictions(path).digest for path in trained["files"]}) == EPOCHS  # the model learns


def test_step_metrics_equal_evaluate_on_the_epochs_predictions(trained):
    client, run_id = trained["client"], trained["panel"].run_id
    per_epoch = [evaluate(trained["y_val"], scores) for scores in trained["recorder"].scores]
    assert len(per_epoch[0]) == 26  # every loss and metric
    for key in per_epoch[0]:
        assert logged(client, run_id, mlflow_key(key)) == [values[key] for values in per_epoch], key


def test_step_metrics_at_prevalences_equal_expected_on_the_epochs_file(trained):
    """Re-weighted as `expected` re-weights a predictions file (200 samples at 1 % and 50 %: whole
    counts), and near evaluate on the set with the negatives repeated 11 times (1 %)."""
    client, run_id = trained["client"], trained["panel"].run_id
    models = [EmpiricalModel(load_predictions(path)) for path in trained["files"]]
    for prevalence in PREVALENCES:
        positives = round(prevalence * 200)
        exact = [expected(200 - positives, None, positives, None, score_model=model) for model in models]
        for key in [key for key in exact[0] if not key.startswith("stderr/")]:
            assert logged(client, run_id, mlflow_key(key, prevalence)) == [values[key] for values in exact], (
                key
            )
    y_val = trained["y_val"]
    times = np.where(y_val == 1, 1, 11)
    scores = trained["recorder"].scores[-1]
    repeated = evaluate(np.repeat(y_val, times), np.repeat(scores, times))
    for key in ("loss/bce", "loss/brier", "f1", "precision", "average_precision", "ece", "mcc"):
        assert logged(client, run_id, mlflow_key(key, 0.01))[-1] == pytest.approx(repeated[key], rel=1e-9)


def test_exposed_values_reach_kerass_logs_and_history(trained):
    client, run_id, history = trained["client"], trained["panel"].run_id, trained["history"]
    for name, key in (("bce", "loss/bce"), ("balanced_bce", "loss/balanced_bce"), ("recall", "recall")):
        for prevalence in (None, *PREVALENCES):
            assert history[logs_key(name, prevalence)] == logged(client, run_id, mlflow_key(key, prevalence))
    assert "val_bce_at_0.01" in history and "val_loss" in history
    # Keras's val_loss is the same BCE, on float32 in batches: equal to float32 precision
    assert history["val_loss"] == pytest.approx(logged(client, run_id, "val/loss/bce"), rel=1e-5)


def test_the_selection_table_names_each_criterions_best_epoch(trained):
    client, run_id = trained["client"], trained["panel"].run_id
    names = {artifact.path for artifact in client.list_artifacts(run_id)}
    assert {"selection.json", "selection.txt", "selection.png", "predictions"} <= names
    table = json.loads(
        Path(client.download_artifacts(run_id, "selection.json", str(trained["folder"]))).read_text()
    )
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert len(rows) == 3 * 19 + 1  # 19 criteria on 3 populations, and Keras's val_loss
    for row in rows:
        if row["criterion"] == "val_loss (Keras)":
            series, best = trained["history"]["val_loss"], min
        else:
            where = "val" if row["chosen on"] == "val" else float(row["chosen on"])
            series = logged(client, run_id, mlflow_key(row["criterion"], None if where == "val" else where))
            lower = row["criterion"].startswith("loss/") or row["criterion"] == "ece"
            best = min if lower else max
        assert row["epoch"] == series.index(best(series)) + 1, row
        epoch = row["epoch"] - 1
        # MLflow's JSON table keeps 10 decimals
        assert row["recall"] == pytest.approx(logged(client, run_id, "val/recall")[epoch], abs=1e-10)
        precision = logged(client, run_id, "val_at_0.5/precision")[epoch]
        assert row["precision (0.5)"] == pytest.approx(precision, abs=1e-10)


def test_epoch_files_are_models_for_flip_and_the_grid(trained, make_spec):
    first, last = trained["files"][0], trained["files"][-1]
    spec = flip_spec(
        {
            "model_a": str(first),
            "model_b": [str(last)],
            "losses": ["bce"],
            "metrics": ["f1"],
            "focal": {"alpha": 0.25, "gamma": 2.0},
            "tracking_uri": trained["uri"],
        }
    )
    assert (spec.model_a.name, spec.model_b.name) == ("epoch_001", "epoch_003")
    at = np.array([0.01, 0.5])
    bce = loss_curve(spec.model_b, "bce", alpha=0.25, gamma=2.0)(at)
    logged_bce = [
        logged(trained["client"], trained["panel"].run_id, mlflow_key("loss/bce", p))[-1] for p in at
    ]
    assert bce == pytest.approx(logged_bce, rel=1e-12)
    sweep = make_spec(
        "grid=single", "grid.balances=[[990,10]]", f"grid.models=[{first},{last}]", "mode=expected"
    )
    assert [cell.model for cell in sweep.cells] == ["epoch_001", "epoch_003"]


@pytest.fixture
def store(tracking_uri, tmp_path, monkeypatch):
    """The test's store as MLflow's fluent API sees it, with the test's experiment."""
    experiment_in(tracking_uri, tmp_path / "artifacts")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return tracking_uri


def keras_stop(values: list[float], patience: int) -> tuple[int | None, int]:
    """EarlyStopping's rule (mode min, min_delta 0), written out: the epoch index at whose end it
    stops (None: it never does) and the index of the best value."""
    best, best_index, wait = float("inf"), 0, 0
    for index, value in enumerate(values):
        wait += 1
        if value < best:
            best, best_index, wait = value, index, 0
        elif wait >= patience and index > 0:
            return index, best_index
    return None, best_index


# Keras's own get_weights (restore_best_weights), not ours
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_early_stopping_on_the_panels_value_stops_where_the_logged_values_say(store, tmp_path):
    """balanced_bce at 1 %: this model trades recall for the negatives, and it rises after epoch 2."""
    x_train, y_train = data(400, 40, seed=1)
    x_val, y_val = data(200, 20, seed=2)
    panel = ValidationPanel(x_val, y_val, prevalences=[0.01], expose=[], experiment=EXPERIMENT)
    watched = panel.watch("balanced_bce", 0.01)
    assert watched == {"monitor": "val_balanced_bce_at_0.01", "mode": "min"}
    stop = keras.callbacks.EarlyStopping(**watched, patience=2, restore_best_weights=True)
    best_file = tmp_path / "best.weights.h5"
    keep = keras.callbacks.ModelCheckpoint(best_file, **watched, save_best_only=True, save_weights_only=True)
    model = tiny_model()
    model.fit(x_train, y_train, epochs=8, callbacks=[panel, stop, keep], verbose=0)

    client = MlflowClient(store)
    history = sorted(
        client.get_metric_history(panel.run_id, "val_at_0.01/loss/balanced_bce"), key=lambda m: m.step
    )
    values = [metric.value for metric in history]
    stopped, best = keras_stop(values, patience=2)
    assert stopped is not None and len(values) == stopped + 1 < 8  # it stopped early, there
    assert (stop.stopped_epoch, stop.best_epoch) == (stopped, best)
    # the weights restored and the checkpoint are the best epoch's: its predictions file, exactly
    best_scores = load_predictions(
        client.download_artifacts(panel.run_id, f"predictions/epoch_{best + 1:03d}.parquet", str(tmp_path))
    ).scores
    assert np.array_equal(model.predict(x_val, verbose=0).reshape(-1), best_scores)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    other.load_weights(best_file)
    assert np.array_equal(other.predict(x_val, verbose=0).reshape(-1), best_scores)


@pytest.mark.parametrize(
    "arguments, line",
    [
        ({"prevalences": [0.01, 1.0]}, "prevalences[1]=1.0 is not a number in (0, 1)"),
        ({"prevalences": [0.0]}, "prevalences[0]=0.0 is not a number in (0, 1)"),
        ({"prevalences": [-0.1]}, "prevalences[0]=-0.1 is not a number in (0, 1)"),
        ({"y_val": [0, 1, 2, 0]}, "y_val[2]=2 is not 0 or 1"),
        ({"y_val": [0.0, 1.0, 0.5, 0.0]}, "y_val[2]=0.5 is not 0 or 1"),
        ({"y_val": [0, 0, 0, 0]}, "y_val has no positives: re-weighting needs samples of both classes"),
        ({"x_val": np.zeros((5, 4))}, "x_val has 5 samples and y_val 4: they must match"),
        ({"x_val": {"a": np.zeros((4, 2)), "b": np.zeros((3, 2))}}, "x_val's arrays differ in length (3, 4)"),
        ({"expose": ["bce", "auc"]}, "expose[1]='auc' is not one of: bce,"),
        ({"expose": ["focal"], "losses": ["bce"]}, "expose: 'focal' is not one of losses=['bce']"),
        ({"losses": ["bce", "mse"]}, "losses[1]='mse' is not one of: bce,"),
        ({"batch_size": 0}, "batch_size=0 is not a whole number >= 1"),
        ({"from_logits": "yes"}, "from_logits='yes' is not True or False"),
        ({"recall": 1.5}, "metrics.recall=1.5 is not a number in (0, 1]"),
        ({"verbose": "x"}, "verbose='x' is not 0, 1, 2, False or True"),
        ({"verbose": 3}, "verbose=3 is not 0, 1, 2, False or True"),
        ({"experiment": 5}, "experiment=5 is not an experiment's name (a non-empty text) or None"),
        ({"experiment": ""}, "experiment='' is not an experiment's name (a non-empty text) or None"),
        ({"run_name": 3}, "run_name=3 is not a run's name (a non-empty text) or None"),
        ({"predictions_dir": 5}, "predictions_dir=5 is not a folder's path (made when missing) or None"),
        ({"predictions_dir": ""}, "predictions_dir='' is not a folder's path"),
        (
            {"x_val": None},
            "x_val=None is not the model's inputs: an array, or a list, tuple or dict of arrays",
        ),
        ({"x_val": "abcd"}, "x_val='abcd' is not the model's inputs"),
    ],
)
def test_bad_arguments_get_one_line(arguments, line):
    given = {"x_val": np.zeros((4, 4)), "y_val": [0, 1, 1, 0], **arguments}
    with pytest.raises(InvalidValue) as refused:
        ValidationPanel(given.pop("x_val"), given.pop("y_val"), **given)
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)


def test_default_exposure_follows_the_losses_and_inputs_may_be_several_arrays():
    assert ValidationPanel(np.zeros((4, 4)), [0, 1, 1, 0], losses=["brier"]).expose == ["recall", "precision"]
    two_inputs = [np.zeros((4, 4)), np.zeros((4, 2))]
    assert ValidationPanel(two_inputs, [0, 1, 1, 0]).expose == ["bce", "balanced_bce", "recall", "precision"]
    with pytest.raises(InvalidValue, match=r"^x_val has 4 samples and y_val 3: they must match$"):
        ValidationPanel(two_inputs, [0, 1, 1])


def test_watch_refuses_what_the_panel_does_not_compute():
    panel = ValidationPanel(np.zeros((4, 4)), [0, 1, 1, 0], prevalences=[0.5])
    with pytest.raises(InvalidValue, match=r"^prevalence=0.01 is not one of prevalences=\[0.5\]$"):
        panel.watch("bce", 0.01)
    with pytest.raises(InvalidValue, match=r"^name\[0\]='val_loss' is not one of: bce,"):
        panel.watch("val_loss")
    assert panel.watch("f1", 0.5) == {"monitor": "val_f1_at_0.5", "mode": "max"}
    assert panel.watch("ece") == {"monitor": "val_ece", "mode": "min"}


@pytest.mark.parametrize(
    "head, compiled, line",
    [
        (
            keras.layers.Dense(1),  # logits
            [],
            r"^epoch 1: scores\[\d+\]=-?[\d.e-]+ is not a probability in \[0, 1\] \(from_logits=True for logits\)$",
        ),
        (
            keras.layers.Dense(2, activation="softmax"),
            [],
            r"^the model gives 400 scores for 200 validation labels: ValidationPanel takes one score per sample",
        ),
        (
            keras.layers.Dense(1, activation="sigmoid"),
            [keras.metrics.Recall(name="recall")],
            r"^Keras's logs already hold 'val_recall' \(a metric compiled into the model\): rename that metric",
        ),
    ],
)
def test_a_model_the_panel_cannot_read_stops_training_with_one_line_and_a_failed_run(
    store, head, compiled, line
):
    x_val, y_val = data(200, 20, seed=2)
    model = keras.Sequential([keras.Input((4,)), head])
    model.compile(
        "adam",
        "binary_crossentropy" if head.units == 1 else "sparse_categorical_crossentropy",
        metrics=compiled,
    )
    panel = ValidationPanel(x_val, y_val, experiment=EXPERIMENT)
    with pytest.raises(InvalidValue, match=line):
        model.fit(x_val, y_val, epochs=2, validation_data=(x_val, y_val), callbacks=[panel], verbose=0)
    assert mlflow.active_run() is None
    assert MlflowClient(store).get_run(panel.run_id).info.status == "FAILED"


def test_logits_with_from_logits_are_the_sigmoids_scores(store):
    x_train, y_train = data(400, 40, seed=1)
    x_val, y_val = data(200, 20, seed=2)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    panel = ValidationPanel(x_val, y_val, from_logits=True, experiment=EXPERIMENT, save_predictions=False)
    model.fit(x_train, y_train, epochs=1, callbacks=[panel], verbose=0)
    logits = model.predict(x_val, verbose=0).reshape(-1).astype(np.float64)
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    (bce,) = MlflowClient(store).get_metric_history(panel.run_id, "val/loss/bce")
    assert bce.value == evaluate(y_val, scores)["loss/bce"]


def test_inside_an_active_run_the_panel_logs_there_and_leaves_it_open(store):
    x_train, y_train = data(400, 40, seed=1)
    x_val, y_val = data(200, 20, seed=2)
    panel = ValidationPanel(x_val, y_val, prevalences=[0.01], save_predictions=False)
    client = MlflowClient(store)
    with mlflow.start_run(experiment_id=client.get_experiment_by_name(EXPERIMENT).experiment_id) as run:
        tiny_model().fit(x_train, y_train, epochs=1, callbacks=[panel], verbose=0)
        assert panel.run_id == run.info.run_id
        assert client.get_run(run.info.run_id).info.status == "RUNNING"
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params["panel.prevalences"] == "0.01" and stored.data.params["panel.rows"] == "200"
    assert "val_at_0.01/f1" in stored.data.metrics


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_beside_autolog_both_log_into_autologs_run(store, monkeypatch):
    """autolog starts the run; it also logs the panel's values in Keras's logs (their names are
    valid MLflow names), equal to the panel's own."""
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    x_train, y_train = data(400, 40, seed=1)
    x_val, y_val = data(200, 20, seed=2)
    panel = ValidationPanel(x_val, y_val, prevalences=[0.01], save_predictions=False)
    mlflow.keras.autolog(log_models=False, log_datasets=False, silent=True)
    try:
        tiny_model().fit(
            x_train, y_train, epochs=2, validation_data=(x_val, y_val), callbacks=[panel], verbose=0
        )
    finally:
        mlflow.keras.autolog(disable=True)
    assert mlflow.active_run() is None
    client = MlflowClient(store)
    run = client.get_run(panel.run_id)
    assert run.info.status == "FINISHED" and not panel._started
    assert {"val_loss", "loss", "val/loss/bce", "val_at_0.01/loss/balanced_bce"} <= set(run.data.metrics)
    for theirs, ours in (("val_bce_at_0.01", "val_at_0.01/loss/bce"), ("val_recall", "val/recall")):
        autologged = sorted(client.get_metric_history(run.info.run_id, theirs), key=lambda m: m.step)
        panels = sorted(client.get_metric_history(run.info.run_id, ours), key=lambda m: m.step)
        assert [(m.step, m.value) for m in autologged] == [(m.step, m.value) for m in panels]


class Raising(keras.callbacks.Callback):
    """Another callback (after the panel) that raises ``error`` in ``hook`` at epoch index ``epoch``."""

    def __init__(self, error: BaseException, hook: str = "on_epoch_end", epoch: int = 1):
        super().__init__()
        self.error, self.hook, self.epoch = error, hook, epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.hook == "on_epoch_end" and epoch == self.epoch:
            raise self.error

    def on_train_end(self, logs=None):
        if self.hook == "on_train_end":
            raise self.error


def two_batches_then_raising(x_train, y_train):
    """Training data for two epochs of one batch, then the data's source fails."""
    yield x_train, y_train
    yield x_train, y_train
    raise OSError("the data's disk is gone")


def statuses(tracking_uri: str) -> list[str]:
    """The status of every run of the test's experiment."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    return [run.info.status for run in client.search_runs([experiment_id])]


def epochs_logged(tracking_uri: str, run_id: str) -> list[int]:
    return sorted(
        metric.step for metric in MlflowClient(tracking_uri).get_metric_history(run_id, "val/recall")
    )


@pytest.mark.parametrize(
    "raised_by, error, status, epochs",
    [
        ("callback", RuntimeError("a callback's bug"), "FAILED", 2),
        ("callback", KeyboardInterrupt(), "KILLED", 2),
        ("callback at the end", RuntimeError("a callback's bug at the end"), "FAILED", 5),
        ("data", None, "FAILED", 2),
    ],
)
def test_training_stopped_by_any_exception_ends_the_panels_run_failed_or_killed(
    store, tmp_path, raised_by, error, status, epochs
):
    """Keras calls no callback when fit raises: the run the panel started ends FAILED (KILLED on
    Ctrl-C) all the same, holding the epochs done; none is left RUNNING or marked FINISHED."""
    x_train, y_train = data(64, 16, seed=1)
    x_val, y_val = data(64, 16, seed=2)
    panel = ValidationPanel(x_val, y_val, experiment=EXPERIMENT, predictions_dir=tmp_path / "epochs")
    if raised_by == "data":
        training = {"x": two_batches_then_raising(x_train, y_train), "steps_per_epoch": 1, "shuffle": False}
        callbacks = [panel]
    else:
        hook = "on_train_end" if raised_by == "callback at the end" else "on_epoch_end"
        training = {"x": x_train, "y": y_train}
        callbacks = [panel, Raising(error, hook)]
    with pytest.raises(BaseException) as stopped:
        tiny_model().fit(**training, epochs=5, callbacks=callbacks, verbose=0)
    if error is not None:
        assert stopped.value is error
    else:
        assert "the data's disk is gone" in str(stopped.value)
    assert mlflow.active_run() is None
    assert statuses(store) == [status]
    assert epochs_logged(store, panel.run_id) == list(range(epochs))
    assert len(list((tmp_path / "epochs").glob("epoch_*.parquet"))) == epochs


def test_an_exception_in_a_users_run_is_left_to_the_runs_owner(store):
    """The panel ends no run it did not start: ``with mlflow.start_run()`` ends it FAILED."""
    x_train, y_train = data(64, 16, seed=1)
    x_val, y_val = data(64, 16, seed=2)
    panel = ValidationPanel(x_val, y_val, save_predictions=False)
    experiment_id = MlflowClient(store).get_experiment_by_name(EXPERIMENT).experiment_id
    bug = RuntimeError("a callback's bug")
    with pytest.raises(RuntimeError), mlflow.start_run(experiment_id=experiment_id) as run:
        try:
            tiny_model().fit(x_train, y_train, epochs=5, callbacks=[panel, Raising(bug)], verbose=0)
        except RuntimeError:
            assert mlflow.active_run().info.run_id == run.info.run_id == panel.run_id
            assert statuses(store) == ["RUNNING"]
            raise
    assert mlflow.active_run() is None
    assert statuses(store) == ["FAILED"]
    assert epochs_logged(store, run.info.run_id) == [0, 1]


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_beside_autolog_an_exception_ends_autologs_run_failed(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    x_train, y_train = data(64, 16, seed=1)
    x_val, y_val = data(64, 16, seed=2)
    panel = ValidationPanel(x_val, y_val, save_predictions=False)
    mlflow.keras.autolog(log_models=False, log_datasets=False, silent=True)
    try:
        with pytest.raises(RuntimeError, match="a callback's bug"):
            tiny_model().fit(
                x_train,
                y_train,
                epochs=5,
                callbacks=[panel, Raising(RuntimeError("a callback's bug"))],
                verbose=0,
            )
    finally:
        mlflow.keras.autolog(disable=True)
    assert mlflow.active_run() is None
    assert statuses(store) == ["FAILED"]
    assert epochs_logged(store, panel.run_id) == [0, 1]


def test_a_predictions_file_that_is_a_link_is_not_written_through(store, tmp_path):
    """The first epoch's file is a link to a file of someone else's: training stops with one line,
    the run FAILED, that file as it was."""
    x_val, y_val = data(64, 16, seed=2)
    theirs = tmp_path / "theirs.txt"
    theirs.write_text("keep me")
    (tmp_path / "epochs").mkdir()
    (tmp_path / "epochs" / "epoch_001.parquet").symlink_to(theirs)
    panel = ValidationPanel(x_val, y_val, experiment=EXPERIMENT, predictions_dir=tmp_path / "epochs")
    with pytest.raises(
        InvalidValue, match=r"^predictions_dir: .*epoch_001.parquet is a symbolic link; the panel"
    ):
        tiny_model().fit(x_val, y_val, epochs=2, callbacks=[panel], verbose=0)
    assert theirs.read_text() == "keep me"
    assert statuses(store) == ["FAILED"]


def test_a_predictions_dir_that_is_a_file_is_refused_before_any_run(store, tmp_path):
    existing = tmp_path / "epochs.txt"
    existing.write_text("a file")
    x_val, y_val = data(64, 16, seed=2)
    for given, line in (
        (existing, f"predictions_dir='{existing}' is a file; give a folder (made when missing) or None"),
        (
            existing / "epochs",
            f"predictions_dir='{existing / 'epochs'}' cannot be made: {existing} is a file; give a folder",
        ),
    ):
        with pytest.raises(InvalidValue) as refused:
            ValidationPanel(x_val, y_val, experiment=EXPERIMENT, predictions_dir=given)
        assert str(refused.value).startswith(line) and "\n" not in str(refused.value)
    assert existing.read_text() == "a file" and statuses(store) == []


def test_importing_the_package_imports_neither_keras_nor_the_callback():
    code = (
        "import sys, imbalance_sweep; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'mlflow', 'imbalance_sweep.keras_callback') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_train_entry_point_logs_the_panel_into_the_launched_run(tracking_uri, tmp_path):
    """`mlflow run . -e train` (examples/train_keras.py, 3 epochs): the launched run holds the
    panel's step metrics, equal to evaluate on the epochs' files, its Parquet files and its table."""
    MlflowClient(tracking_uri).create_experiment(
        helpers.EXPERIMENT, artifact_location=(tmp_path / "artifacts").as_uri()
    )
    out = tmp_path / "epochs"
    arguments = helpers.params("epochs=3", "prevalences=0.001, 0.1", f"out={out}")
    result = helpers.mlflow_run(tracking_uri, "-e", "train", "--env-manager", "local", *arguments)
    assert result.returncode == 0, result.stderr[-4000:]
    (run_id,) = helpers.launched_run_ids(helpers.stored_runs(tracking_uri), "train")
    assert (
        f"run:        {run_id} (per-epoch metrics, predictions/, selection.json, selection.png)"
        in result.stdout
    )
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["panel.prevalences"] == "0.001,0.1" and run.data.params["epochs"] == "3"
    files = sorted(out.glob("epoch_*.parquet"))
    assert [path.name for path in files] == ["epoch_001.parquet", "epoch_002.parquet", "epoch_003.parquet"]
    stored = {artifact.path for artifact in client.list_artifacts(run_id, "predictions")}
    assert stored == {f"predictions/{path.name}" for path in files}
    predictions = [load_predictions(path) for path in files]
    for key in ("loss/bce", "loss/balanced_bce", "recall", "average_precision"):
        history = sorted(client.get_metric_history(run_id, mlflow_key(key)), key=lambda metric: metric.step)
        assert [metric.step for metric in history] == [0, 1, 2]
        assert [m.value for m in history] == [
            evaluate(p.labels.astype(int), p.scores)[key] for p in predictions
        ]
    assert {"selection.json", "selection.png", "selection.txt"} <= {
        a.path for a in client.list_artifacts(run_id)
    }
    assert "loss/bce" in result.stdout and "val_loss (Keras)" in result.stdout
