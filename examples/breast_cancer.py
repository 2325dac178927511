"""Two real classifiers, one rare class: where does each loss change its mind between them?

Trains a logistic regression and a Gaussian naive Bayes classifier on scikit-learn's breast cancer
data (shipped with scikit-learn: no download), with malignant tumours (the positives) made rare by
keeping only some of them, writes both models' predictions on a held-out validation set (CSV and
Parquet), and runs imbalance-sweep's flip-point analysis on the two files: at which prevalence of
malignant cases does each loss and metric switch from preferring one model to the other?

    pip install -e ".[examples]"
    python examples/breast_cancer.py                       # writes ./breast_cancer/, logs to ./mlflow.db
    python examples/breast_cancer.py --out /tmp/bc --tracking-uri sqlite:////tmp/bc/mlflow.db
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from imbalance_sweep.analysis.flip import flip_spec, run_flip

KEPT_POSITIVES = 60  # of 212 malignant tumours: 60 of 417 samples, 14 % prevalence
LOSSES = ["bce", "focal_tfa", "focal_balanced", "focal", "balanced_bce", "brier"]
METRICS = ["f1", "recall", "balanced_accuracy", "precision", "mcc"]


def imbalanced_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The breast cancer data with malignant = 1, and only KEPT_POSITIVES of the malignant kept."""
    features, target = load_breast_cancer(return_X_y=True)
    labels = (target == 0).astype(np.int64)  # scikit-learn codes malignant as 0
    rng = np.random.default_rng(seed)
    kept = rng.choice(np.flatnonzero(labels == 1), size=KEPT_POSITIVES, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(labels == 0), kept]))
    return features[rows], labels[rows]


def write_predictions(out: Path, seed: int) -> tuple[Path, Path]:
    """Train both models on half the data; write their validation predictions."""
    features, labels = imbalanced_data(seed)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, labels, test_size=0.5, stratify=labels, random_state=seed
    )
    models = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000)),
        "naive_bayes": GaussianNB(),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "logreg.csv", out / "naive_bayes.parquet"
    for path, (name, model) in zip(paths, models.items(), strict=True):
        model.fit(x_train, y_train)
        scores = model.predict_proba(x_valid)[:, 1]
        table = pa.table({"label": y_valid, "score": scores})
        if path.suffix == ".csv":
            pcsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        positives = y_valid == 1
        print(
            f"{name}: {positives.sum()} malignant and {(~positives).sum()} benign validation samples; "
            f"recall {np.mean(scores[positives] > 0.5):.3f}, specificity {np.mean(scores[~positives] <= 0.5):.3f}"
            f" -> {path}"
        )
    return paths


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="breast_cancer", help="where the predictions files go")
    parser.add_argument(
        "--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else ./mlflow.db"
    )
    parser.add_argument("--experiment", default="imbalance-sweep")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)

    logreg, naive_bayes = write_predictions(Path(options.out), options.seed)
    spec = flip_spec(
        {
            "model_a": str(logreg),
            "model_b": str(naive_bayes),
            "losses": LOSSES,
            "metrics": METRICS,
            "focal": {"alpha": 0.25, "gamma": 2.0},
            "experiment": options.experiment,
            "tracking_uri": options.tracking_uri,
        }
    )
    return run_flip(spec)  # prints one line per loss and metric, then where the run is


if __name__ == "__main__":
    main()
