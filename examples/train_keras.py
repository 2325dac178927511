"""One Keras training run, one rare class: which epoch does "following the loss" keep?

Trains a small Keras network (TensorFlow backend, CPU) on scikit-learn's ``make_classification``
data (generated: no download) with about 1 positive in 100, once, with imbalance-sweep's
``ValidationPanel``. Each epoch the panel logs every loss and metric on the validation set as it is
and re-weighted to the deployment prevalences, and saves the epoch's predictions; at the end the
run holds which epoch each criterion would keep. This prints, for a few criteria, the epoch each
picks and that epoch's recall and precision at each deployment prevalence, then where the run is.

    pip install -e ".[examples]"
    python examples/train_keras.py                        # writes ./train_keras/, logs to ./mlflow.db
    python examples/train_keras.py --prevalences 0.001,0.1 --epochs 30 --out /tmp/run
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# The same epochs and values on any machine of this kind: on the CPU (set CUDA_VISIBLE_DEVICES to
# use a GPU, at the price of other numbers), without oneDNN's kernels (chosen by CPU at run time),
# with deterministic ops and fixed thread counts (below), and quiet about a GPU it does not use.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # its notes, and errors it logs and recovers from
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from imbalance_sweep.core.losses import native_stderr_discarded
from imbalance_sweep.core.prevalence import prevalence_text
from imbalance_sweep.core.reweighting import check_prevalences

with native_stderr_discarded():  # TensorFlow's C++ start-up lines come before its logging is set up
    import keras
    import tensorflow as tf

    from imbalance_sweep.keras_callback import KERAS_VAL_LOSS, ValidationPanel
THREADS = 2  # intra- and inter-op: a reduction's order does not depend on the machine's cores

SAMPLES = 20_000
POSITIVE_SHARE = 0.01  # 1:99
SHOWN = (
    KERAS_VAL_LOSS,
    "loss/bce",
    "loss/brier",
    "loss/balanced_bce",
    "f1",
    "fbeta",
    "recall",
    "average_precision",
)


def imbalanced_data(seed: int):
    """``make_classification`` with 1 % positives, split in half: training and validation."""
    features, labels = make_classification(
        n_samples=SAMPLES,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        weights=[1 - POSITIVE_SHARE],
        class_sep=0.8,
        flip_y=0.005,
        random_state=seed,
    )
    return train_test_split(
        features.astype(np.float32), labels, test_size=0.5, stratify=labels, random_state=seed
    )


def deterministic(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TensorFlow's ops and threads reproducible."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)


def small_model(features: int, seed: int) -> keras.Model:
    deterministic(seed)
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Normalization(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    return model


def train(options) -> ValidationPanel:
    """One training run with the panel; no early stopping, so every epoch is there to compare."""
    x_train, x_val, y_train, y_val = imbalanced_data(options.seed)
    model = small_model(x_train.shape[1], options.seed)
    model.layers[0].adapt(x_train)
    panel = ValidationPanel(
        x_val,
        y_val,
        prevalences=options.prevalences,
        predictions_dir=options.out,
        experiment=options.experiment,
        run_name="train_keras",
        batch_size=4096,
    )
    print(
        f"training on {y_train.size} samples ({y_train.sum()} positive), validating on {y_val.size} "
        f"({y_val.sum()} positive, {y_val.mean():.2%}); deployment prevalences: "
        + ", ".join(map(prevalence_text, options.prevalences))
    )
    model.fit(
        x_train,
        y_train,
        epochs=options.epochs,
        batch_size=256,
        validation_data=(x_val, y_val),
        callbacks=[panel],
        verbose=0,
    )
    return panel


def report(panel: ValidationPanel) -> list[str]:
    """The picks of the criteria in SHOWN, on the set as it is and at each prevalence."""
    populations = ["val", *map(prevalence_text, panel.prevalences)]
    lines = [
        f"{'criterion':20} {'chosen on':>9} {'epoch':>5} {'recall':>7}  "
        + "  ".join(f"{'precision@' + where:>16}" for where in populations)
    ]
    for pick in panel.selection:
        if pick.criterion in SHOWN:
            lines.append(
                f"{pick.criterion:20} {pick.chosen_on:>9} {pick.epoch:>5} {pick.recall:>7.3f}  "
                + "  ".join(f"{pick.precision[where]:>16.3f}" for where in populations)
            )
    return lines


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--prevalences", default="0.001,0.1", help="deployment prevalences, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default="train_keras", help="where each epoch's predictions file goes ('': MLflow only)"
    )
    parser.add_argument(
        "--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else ./mlflow.db"
    )
    parser.add_argument("--experiment", default="imbalance-sweep")
    options = parser.parse_args(argv)
    options.prevalences = check_prevalences(
        [float(text) for text in options.prevalences.split(",") if text.strip()]
    )
    options.out = Path(options.out) if options.out else None
    return options


def main(argv=None) -> str:
    import mlflow

    from imbalance_sweep.sweep.config import resolve_tracking_uri
    from imbalance_sweep.tracking.where import summary_lines

    options = parse(argv)
    tracking_uri = resolve_tracking_uri(options.tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    panel = train(options)
    print("\n".join(report(panel)))
    run = mlflow.get_run(panel.run_id)
    experiment = mlflow.get_experiment(run.info.experiment_id)
    lines = summary_lines(
        tracking_uri,
        experiment_name=experiment.name,
        experiment_id=experiment.experiment_id,
        run_id=panel.run_id,
        what="per-epoch metrics, predictions/, selection.json, selection.png",
    )
    print("\n".join(["", *lines]), flush=True)
    return panel.run_id


if __name__ == "__main__":
    from imbalance_sweep.cli import exit_on_user_error

    with exit_on_user_error():  # a bad --out: one line and exit code 2, no traceback
        main()
