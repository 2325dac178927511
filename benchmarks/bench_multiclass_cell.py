"""Time a K = 10 cell of 10^6 samples, its whole evaluation against drawing its scores, and its peak
memory at 10^6, 10^7 and 10^8 samples (issue 26's benchmark of the K-class cell).

The cell: counts of an exponential profile (imbalance ratio 100, the head class first) summing to
the sample count, accuracies from 0.95 (head) to 0.5 (tail), errors spread by training frequency,
the training counts the validation counts.

* ``draw``: the cell's chunks (``simulator.cell_score_chunks``), nothing computed from them: the floor.
* ``losses``: the draw plus the seven K-class losses (``MulticlassLosses``).
* ``chunked metrics``: the draw plus every chunked metric (``MulticlassAccumulator``).
* ``evaluation, no ranking``: ``evaluate_multiclass_cell`` with ``threshold_free`` off.
* ``evaluation``: all of it, the OvR/OvO ROC AUCs of all scores at once included.

Wall-clock medians of interleaved rounds after a warm-up (``timing.interleaved_wall_times``). Memory:
each size in a fresh process, its peak resident set size (``VmHWM``, Linux) before and after the
evaluation; above 2^24 scores the ranking metrics are left out (``evaluation``), so the sizes run
without them, and 10^6 once more with them.

    python benchmarks/bench_multiclass_cell.py [--repeats 5] [--sizes 1e6 1e7 1e8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from timing import interleaved_wall_times

from imbalance_sweep.core.multiclass.cell import MulticlassCell, make_multiclass_cell
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell
from imbalance_sweep.core.multiclass.losses import MulticlassLosses
from imbalance_sweep.core.multiclass.metrics import MulticlassAccumulator
from imbalance_sweep.core.multiclass.simulator import cell_score_chunks

CLASSES = 10

# The peak RSS is read as VmHWM, this process's own high-water mark (ru_maxrss would start at the
# parent's peak: Linux keeps it across fork and exec).
CHILD = """
import json, re, sys, time
sys.path.insert(0, sys.argv[3])
from bench_multiclass_cell import long_tail_cell
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell
def peak_kib():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
cell = long_tail_cell(int(float(sys.argv[1])), threshold_free=sys.argv[2] == "ranked")
before = peak_kib()
start = time.perf_counter()
values = evaluate_multiclass_cell(cell, seed=0)
seconds = time.perf_counter() - start
after = peak_kib()
print(json.dumps({"size": cell.size, "seconds": seconds, "rss_before_mib": before / 1024,
                  "rss_peak_mib": after / 1024, "accuracy": values["accuracy"],
                  "cce": values["loss/cce"], "ranked": "roc_auc_ovo" in values}))
"""


def long_tail_cell(samples: int, *, threshold_free: bool = True) -> MulticlassCell:
    """K = 10 classes, counts exponential with ratio 100 summing to ``samples``, accuracies 0.95 to 0.5."""
    shares = 100.0 ** (-np.arange(CLASSES) / (CLASSES - 1))
    counts = np.floor(samples * shares / shares.sum()).astype(int)
    counts[0] += samples - counts.sum()
    accuracies = np.linspace(0.95, 0.5, CLASSES)
    return make_multiclass_cell(
        counts.tolist(), accuracies.tolist(), spread="frequency", threshold_free=threshold_free
    )


def timings(samples: int, repeats: int) -> None:
    cell = long_tail_cell(samples)
    quiet = long_tail_cell(samples, threshold_free=False)

    def draw() -> None:
        for _ in cell_score_chunks(cell, 0):
            pass

    def losses() -> None:
        accumulator = MulticlassLosses(CLASSES, training_counts=cell.training_counts)
        for label, scores in cell_score_chunks(cell, 0):
            accumulator.add(np.full(scores.shape[0], label), scores)
        accumulator.values()

    def chunked_metrics() -> None:
        accumulator = MulticlassAccumulator(CLASSES, training_counts=cell.training_counts)
        for label, scores in cell_score_chunks(cell, 0):
            accumulator.add_checked(np.full(scores.shape[0], label), scores)
        accumulator.values()

    calls = {
        "draw": draw,
        "losses": losses,
        "chunked metrics": chunked_metrics,
        "evaluation, no ranking": lambda: evaluate_multiclass_cell(quiet, seed=0),
        "evaluation": lambda: evaluate_multiclass_cell(cell, seed=0),
    }
    medians = {
        name: statistics.median(times) for name, times in interleaved_wall_times(calls, repeats).items()
    }
    print(f"K = {CLASSES}, {cell.size:,} samples, counts {list(cell.counts)}; medians of {repeats}")
    print(f"{'':>24} {'seconds':>9} {'x draw':>7}  (each includes the draw)")
    for name, seconds in medians.items():
        print(f"{name:>24} {seconds:>9.3f} {seconds / medians['draw']:>7.1f}")


def memory(sizes: list[str]) -> None:
    print(
        f"{'samples':>14} {'ranking':>8} {'seconds':>9} {'peak RSS MiB':>13} {'RSS before MiB':>15}  accuracy   cce"
    )
    rows = []
    for size, ranked in [*((size, "unranked") for size in sizes), (sizes[0], "ranked")]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, size, ranked, sys.path[0]],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['size']:>14,} {'yes' if row['ranked'] else 'no':>8} {row['seconds']:>9.2f} "
            f"{row['rss_peak_mib']:>13.1f} {row['rss_before_mib']:>15.1f}  {row['accuracy']:.5f} {row['cce']:.6f}"
        )
    unranked = rows[: len(sizes)]
    growth = unranked[-1]["rss_peak_mib"] - unranked[0]["rss_peak_mib"]
    print(
        f"peak RSS grew by {growth:+.1f} MiB from {unranked[0]['size']:,} to {unranked[-1]['size']:,} samples"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--sizes", nargs="+", default=["1e6", "1e7", "1e8"])
    args = parser.parse_args()
    memory(args.sizes)
    timings(args.samples, args.repeats)


if __name__ == "__main__":
    main()
