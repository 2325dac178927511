"""The baseline of bench_sweep.py: a sweep run the way a user of the post would run it.

One Hydra multirun job per cell; in each, the post's approach for every loss (a fresh float64
draw, labels by ``np.round``, confusion counts by Python's builtin ``sum``, the Keras loss object)
and one fluent ``mlflow.start_run`` that logs the cell. Written fresh from the post's description,
not copied; bench_sweep.py and bench_command.py (e) run it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra
import keras
import mlflow
import numpy as np
from omegaconf import DictConfig

EPS = np.finfo(np.float64).eps
LOSSES = {
    "bce": keras.losses.BinaryCrossentropy(),
    "focal_tfa": keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.25, gamma=2.0, reduction="sum"
    ),
}


def one_loss(num_0s: int, acc_0s: float, num_1s: int, acc_1s: float, loss) -> dict[str, float]:
    negatives = np.random.uniform(0.0, 0.5 / acc_0s, num_0s)
    positives = np.random.uniform(1.0 - 0.5 / acc_1s, 1.0, num_1s)
    y_true = np.concatenate([np.zeros(num_0s), np.ones(num_1s)]).astype(np.float32)
    y_pred = np.concatenate([negatives, positives]).astype(np.float32)
    tp = sum(np.round(positives) == 1)
    fp = sum(np.round(negatives) == 1)
    fn = sum(np.round(positives) == 0)
    precision = (tp + EPS) / (tp + fp + EPS)
    recall = (tp + EPS) / (tp + fn + EPS)
    value = float(loss(y_true[:, None], y_pred[:, None]))
    return {
        "loss": value,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
    }


@hydra.main(version_base="1.3", config_path=None, config_name=None)
def main(config: DictConfig) -> None:
    cell = (int(config.num_0s), float(config.acc_0s), int(config.num_1s), float(config.acc_1s))
    with mlflow.start_run(run_name=f"a0={cell[1]} a1={cell[3]}"):
        mlflow.log_params({"num_0s": cell[0], "acc_0s": cell[1], "num_1s": cell[2], "acc_1s": cell[3]})
        for name, loss in LOSSES.items():
            values = one_loss(*cell, loss)
            mlflow.log_metric(f"loss/{name}", values.pop("loss"))
            mlflow.log_metrics({key: float(value) for key, value in values.items()})


if __name__ == "__main__":
    main()
