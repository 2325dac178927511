"""Cost of the K-class losses of a cell against drawing its scores: K = 10, 10^6 samples.

The draw is what a K-class cell's simulation will at least cost: 10^6 float32 rows of K uniforms
normalised to sum to 1, and their labels. The losses fold the same scores in chunks of 2^16 rows
(``MulticlassLosses``), all seven together and each alone. Medians of rounds taken in turn, so a
load that drifts on a shared machine weighs on each alike (target: all losses within 4x the draw).

    python benchmarks/bench_multiclass_losses.py [--repeats 9] [--samples 1000000] [--classes 10]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from timing import interleaved_wall_times  # benchmarks/timing.py, beside this script

from imbalance_sweep.core.multiclass.losses import MulticlassLosses
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES

CHUNK = 1 << 16


def draw(rng: np.random.Generator, samples: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and float32 score rows summing to 1, chunk by chunk as a simulation would."""
    labels = np.empty(samples, dtype=np.int64)
    scores = np.empty((samples, classes), dtype=np.float32)
    for start in range(0, samples, CHUNK):
        rows = min(CHUNK, samples - start)
        labels[start : start + rows] = rng.integers(0, classes, rows)
        chunk = rng.random((rows, classes), dtype=np.float32)
        chunk /= chunk.sum(axis=1, keepdims=True)
        scores[start : start + rows] = chunk
    return labels, scores


def fold(
    labels: np.ndarray, scores: np.ndarray, losses: tuple[str, ...], counts: np.ndarray
) -> dict[str, float]:
    accumulator = MulticlassLosses(scores.shape[1], losses, training_counts=counts)
    for start in range(0, labels.size, CHUNK):
        accumulator.add(labels[start : start + CHUNK], scores[start : start + CHUNK])
    return accumulator.values()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels, scores = draw(rng, args.samples, args.classes)
    counts = np.geomspace(5000, 50, args.classes)  # an exponential long tail, imbalance ratio 100
    calls = {
        "draw": lambda: draw(rng, args.samples, args.classes),
        "all losses": lambda: fold(labels, scores, MULTICLASS_LOSS_NAMES, counts),
    }
    calls.update(
        {name: (lambda name=name: fold(labels, scores, (name,), counts)) for name in MULTICLASS_LOSS_NAMES}
    )
    times = interleaved_wall_times(calls, args.repeats)
    base = statistics.median(times["draw"])
    print(f"K = {args.classes}, {args.samples:,} samples, chunks of {CHUNK} rows, medians of {args.repeats}")
    print(f"{'':<20} {'ms':>9} {'x draw':>8}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:<20} {median * 1e3:>9.1f} {median / base:>8.2f}")


if __name__ == "__main__":
    main()
