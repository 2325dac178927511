"""Cost of one K-class cell in exact expected mode (``expected_multiclass``) at K = 10, 100 and 1,000.

The cells are long-tailed: training counts exponential from 1,280 down to 5 (ImageNet-LT's range,
every count distinct, so the prior-adjusted losses integrate one confuser factor per class), the
validation set balanced (20 a class, as ImageNet-LT validates) or long-tailed as training, accuracies
tied to frequency (0.9 for the head down to 0.3, every one distinct), errors spread uniformly or to
the head classes in proportion to their training counts ("frequency"). Every loss and metric, and
the losses and the metrics alone. Medians of repeated calls after a warm-up (which fills the
quadrature's node cache, as a sweep's first cell would).

    python benchmarks/bench_multiclass_expected.py [--repeats 7]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from timing import median_seconds  # benchmarks/timing.py, beside this script

from imbalance_sweep.core.multiclass.expected import expected_losses, expected_multiclass
from imbalance_sweep.core.multiclass.expected_metrics import metric_values
from imbalance_sweep.core.multiclass.metrics import DEFAULT_MULTICLASS
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES


def long_tail(classes: int) -> np.ndarray:
    """Training counts 1280 * (5 / 1280)**(c / (K - 1)), rounded, at least 5."""
    return np.maximum(np.rint(1280.0 * (5.0 / 1280.0) ** (np.arange(classes) / (classes - 1))), 5.0)


def spreads(training: np.ndarray) -> dict[str, np.ndarray]:
    """The error spreads "uniform" and "frequency" (errors to class c in proportion to m_c)."""
    classes = training.size
    uniform = (1.0 - np.eye(classes)) / (classes - 1)
    frequency = np.tile(training, (classes, 1)) * (1.0 - np.eye(classes))
    return {"uniform": uniform, "frequency": frequency / frequency.sum(axis=1, keepdims=True)}


def format_time(seconds: float) -> str:
    return f"{seconds * 1e6:8.0f} us" if seconds < 1e-3 else f"{seconds * 1e3:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'K':>5} {'validation':>10} {'spread':>9} {'all':>11} {'losses':>11} {'metrics':>11}")
    for classes in (10, 100, 1000):
        training = long_tail(classes)
        accuracies = 0.3 + 0.6 * np.log(training / 5.0) / np.log(1280.0 / 5.0)
        accuracies += np.arange(classes) * 1e-9  # every accuracy distinct, even where counts tie
        repeats = args.repeats if classes < 1000 else max(1, args.repeats // 3)
        for validation, counts in (("balanced", np.full(classes, 20.0)), ("long-tail", training)):
            for spread_name, spread in spreads(training).items():
                cell = (counts, accuracies, spread)
                calls = (
                    partial(expected_multiclass, *cell, training_counts=training),
                    partial(expected_losses, *cell, MULTICLASS_LOSS_NAMES, {"training_counts": training}),
                    partial(metric_values, *cell, training, DEFAULT_MULTICLASS),
                )
                times = [median_seconds(call, repeats) for call in calls]
                shown = " ".join(format_time(seconds) for seconds in times)
                print(f"{classes:>5} {validation:>10} {spread_name:>9} {shown}")


if __name__ == "__main__":
    main()
