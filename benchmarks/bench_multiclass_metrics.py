"""Time the K-class metrics of one K = 10 cell of 10^6 samples against drawing its scores, and print
the figures (issue 26's benchmark for the metrics).

* ``draw``: the floor, float32 scores as a normalised uniform draw (``rng.random`` then divided by
  the row sums); ``dirichlet`` (``rng.dirichlet`` cast to float32) beside it for reference.
* ``confusion``: the confusion-based metrics (accuracy, balanced accuracy, macro / weighted / micro
  precision, recall, F1, MCC, kappa, per class, per band) as the accumulator computes them, fed in
  chunks of 2^16 rows: the input check, the argmax, the K x K counts, the metrics of the counts.
* ``top_k``, ``log_loss``, ``calibration``: the other chunked parts, each alone, in the same chunks.
* ``accumulator``: all chunked metrics together (``MulticlassAccumulator``, checks included).
* ``ranking``: OvR and OvO ROC AUC of all scores at once (one sort per class).

Target (issue 26): confusion within 4x of the draw; the rest reported. Wall-clock medians of
interleaved rounds after a warm-up (``timing.interleaved_wall_times``); a busy machine adds noise.

    python benchmarks/bench_multiclass_metrics.py [--repeats 7] [--samples 1000000] [--classes 10]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from timing import interleaved_wall_times

from imbalance_sweep.core.multiclass.calibration import CalibrationCounts
from imbalance_sweep.core.multiclass.confusion import (
    band_recalls,
    confusion_counts,
    confusion_metrics,
    predicted_classes,
)
from imbalance_sweep.core.multiclass.exact_sums import ExactSums
from imbalance_sweep.core.multiclass.labelled import labelled_class_scores
from imbalance_sweep.core.multiclass.metrics import MulticlassAccumulator, top_k_hits, true_class_log_losses
from imbalance_sweep.core.multiclass.ranking import ranking_metrics
from imbalance_sweep.core.simulator import DEFAULT_CHUNK_SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    n, classes = args.samples, args.classes
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, n)
    weights = rng.random((n, classes), dtype=np.float32)
    scores = weights / weights.sum(axis=1, keepdims=True)
    training_counts = np.geomspace(1000, 5, classes)
    chunks = [slice(start, start + DEFAULT_CHUNK_SIZE) for start in range(0, n, DEFAULT_CHUNK_SIZE)]

    def draw() -> None:
        drawn = rng.random((n, classes), dtype=np.float32)
        drawn /= drawn.sum(axis=1, keepdims=True)

    def dirichlet() -> None:
        rng.dirichlet(np.ones(classes), size=n).astype(np.float32)

    def confusion() -> None:
        counts = np.zeros((classes, classes), dtype=np.int64)
        for rows in chunks:
            chunk_labels, chunk_scores = labelled_class_scores(labels[rows], scores[rows], classes=classes)
            counts += confusion_counts(chunk_labels, predicted_classes(chunk_scores), classes)
        confusion_metrics(counts) | band_recalls(counts, training_counts)

    def top_k() -> None:
        for rows in chunks:
            top_k_hits(labels[rows], scores[rows], predicted_classes(scores[rows]), 5)

    def log_loss() -> None:
        sums = ExactSums(1)
        for rows in chunks:
            losses = true_class_log_losses(labels[rows], scores[rows])
            sums.add(np.zeros(losses.size, dtype=np.intp), losses)
        sums.totals()

    def calibration() -> None:
        bins = CalibrationCounts(classes, 15)
        for rows in chunks:
            bins.add(labels[rows], scores[rows], predicted_classes(scores[rows]))
        bins.values()

    def accumulator() -> None:
        every = MulticlassAccumulator(classes, training_counts=training_counts)
        for rows in chunks:
            every.add(labels[rows], scores[rows])
        every.values()

    def ranking() -> None:
        ranking_metrics(labels, scores)

    calls = {
        "draw": draw,
        "dirichlet": dirichlet,
        "confusion": confusion,
        "top_k": top_k,
        "log_loss": log_loss,
        "calibration": calibration,
        "accumulator": accumulator,
        "ranking": ranking,
    }
    times = interleaved_wall_times(calls, args.repeats)
    floor = statistics.median(times["draw"])
    print(f"K = {classes}, {n:,} samples, chunks of {DEFAULT_CHUNK_SIZE:,} rows, {args.repeats} rounds")
    print(f"{'':12} {'median ms':>10} {'min ms':>8} {'/ draw':>7}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:12} {median * 1e3:10.1f} {min(seconds) * 1e3:8.1f} {median / floor:7.2f}")
    print(f"target: confusion / draw <= 4 ({statistics.median(times['confusion']) / floor:.2f})")


if __name__ == "__main__":
    main()
