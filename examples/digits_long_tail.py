"""Two real classifiers of 10 classes trained on a long tail: where along the validation prior does
each loss change its mind between them?

Takes scikit-learn's handwritten digits (10 classes, shipped with scikit-learn: no download), holds
out a balanced validation set of 50 images a class, and trains on a long-tailed subsample of the
rest (exponential profile: 120 images of digit 0 down to 6 of digit 9, ratio 20). Two logistic
regressions: ``plain``, which learns the training prior (head classes favoured), and ``balanced``
(``class_weight="balanced"``), which re-weights it away. Writes both models' K-class predictions
files (``label``, ``score_0`` .. ``score_9``: Parquet and CSV), then runs imbalance-sweep's K-class
flip on the two files along the exponential profile from the balanced set (rho = 1) to the training
prior (rho = 20): which losses and metrics prefer which model, and where they flip.

    pip install -e ".[examples]"
    python examples/digits_long_tail.py                      # writes ./digits/, logs to ./mlflow.db
    python examples/digits_long_tail.py --out /tmp/d --tracking-uri sqlite:////tmp/d/mlflow.db
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from imbalance_sweep.analysis.k_flip import k_flip_spec, run_k_flip
from imbalance_sweep.core.multiclass.predictions import class_predictions_table

VALIDATION_PER_CLASS = 50
LARGEST, RATIO = 120, 20  # training images of digit 0; digit 9 gets LARGEST / RATIO
LOSSES = ["cce", "categorical_focal", "class_balanced", "logit_adjusted", "ldam", "multiclass_brier"]
METRICS = ["accuracy", "balanced_accuracy", "f1_macro", "mcc"]


def long_tailed_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A balanced validation set, and a long-tailed training set of the other images:
    ``floor(LARGEST * RATIO ** (-k / 9))`` images of digit k."""
    features, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        valid.append(rows[:VALIDATION_PER_CLASS])
        kept = int(LARGEST * RATIO ** (-digit / 9))
        train.append(rows[VALIDATION_PER_CLASS : VALIDATION_PER_CLASS + kept])
    train_rows, valid_rows = np.concatenate(train), np.concatenate(valid)
    return features[train_rows], labels[train_rows], features[valid_rows], labels[valid_rows]


def write_predictions(out: Path, seed: int) -> tuple[Path, Path, list[int]]:
    """Train both models on the long tail; write their validation predictions. The files and the
    training counts (the losses of the training prior take them)."""
    x_train, y_train, x_valid, y_valid = long_tailed_split(seed)
    training_counts = np.bincount(y_train).tolist()
    print(f"training images a digit: {training_counts}")
    models = {
        "plain": LogisticRegression(C=0.02, max_iter=2000),
        "balanced": LogisticRegression(C=0.02, max_iter=2000, class_weight="balanced"),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "plain.parquet", out / "balanced.csv"
    for path, (name, model) in zip(paths, models.items(), strict=True):
        fitted = make_pipeline(StandardScaler(), model).fit(x_train, y_train)
        scores = fitted.predict_proba(x_valid).astype(np.float32)
        table = class_predictions_table(y_valid, scores)
        if path.suffix == ".csv":
            pcsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        recall = [np.mean(scores[y_valid == k].argmax(axis=1) == k) for k in range(10)]
        print(f"{name}: recall of digit 0 .. 9 {np.round(recall, 2).tolist()} -> {path}")
    return paths[0], paths[1], training_counts


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="digits", help="where the predictions files go")
    parser.add_argument(
        "--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else ./mlflow.db"
    )
    parser.add_argument("--experiment", default="imbalance-sweep")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)

    plain, balanced, train = write_predictions(Path(options.out), options.seed)
    spec = k_flip_spec(
        {
            "classes": 10,
            "models": [  # trained on the long tail (a file's default: its own class counts, 50 each)
                {"name": "plain", "file": str(plain), "train": train},
                {"name": "balanced", "file": str(balanced), "train": train},
            ],
            "path": {"kind": "exponential", "from": 1, "to": RATIO},
            "losses": LOSSES,
            "metrics": METRICS,
            "experiment": options.experiment,
            "tracking_uri": options.tracking_uri,
        }
    )
    return run_k_flip(spec)  # prints the table of flips, then where the run is


if __name__ == "__main__":
    main()
