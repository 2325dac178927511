"""Cost per epoch of the Keras callback (ValidationPanel) on 10^5 validation samples, against one
``model.predict`` on them.

The panel predicts the validation scores once per epoch; everything else it does (every loss and
metric as the set is, exact re-weighting to each prevalence, the epoch's Parquet file logged as an
artifact, one batch of step metrics) is its own cost on top. Timed in one process, on a small dense
network (20 features, 64 hidden units), into a sqlite store in a temporary folder, as medians of
repeated calls after a warm-up: predict alone, the panel's epoch end, the same epoch end given the
scores (its own cost), then its parts one by one.

    python benchmarks/bench_keras_callback.py [--rows 100000] [--repeats 7] [--batch-size 4096]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from timing import median_seconds

from imbalance_sweep.core.reweighting import validation_values
from imbalance_sweep.keras_callback import ValidationPanel, mlflow_key

PREVALENCES = (0.01, 0.5)


def validation_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (rng.random(rows) < 0.01).astype(np.int64)
    features = rng.normal(size=(rows, 20)) + 0.5 * labels[:, None]
    return features.astype(np.float32), labels


def small_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--batch-size", type=int, default=4096, help="predict's, the panel's and the bare call's"
    )
    args = parser.parse_args()
    x_val, y_val = validation_data(args.rows)
    model = small_model()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        panel = ValidationPanel(x_val, y_val, prevalences=PREVALENCES, batch_size=args.batch_size)
        panel.set_model(model)
        panel.on_train_begin()
        epochs = iter(range(10_000))
        predict = median_seconds(
            lambda: model.predict(x_val, batch_size=args.batch_size, verbose=0), args.repeats
        )
        default_batch = median_seconds(lambda: model.predict(x_val, verbose=0), 1)
        epoch = median_seconds(lambda: panel.on_epoch_end(next(epochs), {}), args.repeats)
        scores = model.predict(x_val, batch_size=args.batch_size, verbose=0).reshape(-1)
        panel._scores = lambda epoch: scores  # the same epoch end, its predict left out
        own = median_seconds(lambda: panel.on_epoch_end(next(epochs), {}), args.repeats)
        labels = y_val.astype(bool)
        parts = {
            "losses and metrics as the set is (evaluate)": lambda: validation_values(labels, scores, ()),
            f"... and re-weighted to {len(PREVALENCES)} prevalences": lambda: validation_values(
                labels, scores, PREVALENCES
            ),
            "Parquet file written and logged": lambda: panel._save(next(epochs), scores),
        }
        values = validation_values(labels, scores, PREVALENCES)
        metrics = {mlflow_key(key, p): value for p, at in values.items() for key, value in at.items()}
        parts[f"{len(metrics)} step metrics logged (one batch)"] = lambda: panel._tracker.log(
            panel._run, metrics=metrics, step=next(epochs)
        )
        timed = {name: median_seconds(call, args.repeats) for name, call in parts.items()}
        panel.on_train_end()
    print(f"{args.rows:,} validation samples, batch size {args.batch_size}, medians of {args.repeats}")
    print(f"  model.predict alone:                   {predict * 1e3:8.1f} ms")
    print(f"  the panel's on_epoch_end:              {epoch * 1e3:8.1f} ms  (its predict included)")
    print(f"  the panel's own cost (predict left out): {own * 1e3:6.1f} ms  ({own / predict:.2f}x predict)")
    print(f"  model.predict at Keras's default batch size (32): {default_batch * 1e3:.0f} ms (one call)")
    print("  the panel's parts:")
    for name, seconds in timed.items():
        print(f"    {name:46} {seconds * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
