"""Time a K = 10 cell of 10^6 samples, its whole evaluation and each part's own cost against drawing
its scores, and its peak memory at 10^6, 10^7 and 10^8 samples (issue 26's benchmark of the K-class
cell).

The cell: counts of an exponential profile (imbalance ratio 100, the head class first) summing to
the sample count, accuracies from 0.95 (head) to 0.5 (tail), errors spread by training frequency,
the training counts the validation counts.

Each part is fed the cell's chunks as the evaluation feeds them (``simulator.cell_score_chunks``,
the chunk still warm from its draw), and its own cost is its time less that of what it is fed
(per round, then the median):

* ``draw``: the chunks, nothing computed from them: the floor;
* ``losses``: the seven K-class losses (``MulticlassLosses.add_checked``, as the evaluation feeds them);
* ``confusion metrics``: the argmax, the K x K counts and the metrics of them (accuracy, balanced
  accuracy, P/R/F1 macro, weighted, micro and per class, MCC, kappa, the bands);
* ``top-k``, ``calibration``: their own cost beside the argmax (which the confusion metrics pay);
* ``log loss``: the clipped log of each row's true-class score, summed exactly;
* ``ranking``: OvR and OvO ROC AUC, the rows kept column by column and ranked at the end (as the
  evaluation does);
* ``evaluation, no ranking`` and ``evaluation``: ``evaluate_multiclass_cell`` with
  ``threshold_free`` off and on, draw included.

Target (issue 26): the losses and the confusion metrics within 4x of the draw, each part and the
two together; the ranking metrics (with top-k) reported beside them. Wall-clock medians of
interleaved rounds after a warm-up (``timing.interleaved_wall_times``). Memory: each size in a
fresh process, its peak resident set size (``VmHWM``, Linux) before and after the evaluation; above
2^24 scores the ranking metrics are left out (``evaluation``), so the sizes run without them, and
10^6 once more with them.

    python benchmarks/bench_multiclass_cell.py [--repeats 5] [--sizes 1e6 1e7 1e8] [--no-memory]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Callable

import numpy as np
from timing import interleaved_wall_times

from imbalance_sweep.core.metrics import DEFAULT_ECE_BINS
from imbalance_sweep.core.multiclass.calibration import CalibrationCounts
from imbalance_sweep.core.multiclass.cell import MulticlassCell, make_multiclass_cell
from imbalance_sweep.core.multiclass.confusion import (
    band_recalls,
    confusion_counts,
    confusion_metrics,
    predicted_classes,
)
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell
from imbalance_sweep.core.multiclass.exact_sums import ExactSums
from imbalance_sweep.core.multiclass.labelled import Labels, Scores
from imbalance_sweep.core.multiclass.losses import MulticlassLosses
from imbalance_sweep.core.multiclass.metrics import DEFAULT_TOP_K, top_k_hits, true_class_log_losses
from imbalance_sweep.core.multiclass.ranking import ranking_metrics
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
    training = np.asarray(cell.training_counts, dtype=np.float64)

    def fed(
        work: Callable[[Labels, Scores], object], end: Callable[[], object] = lambda: None
    ) -> Callable[[], None]:
        """The draw, each chunk handed to ``work(labels, scores)``, then ``end()``."""

        def run() -> None:
            for label, scores in cell_score_chunks(cell, 0):
                work(np.full(scores.shape[0], label, dtype=np.intp), scores)
            end()

        return run

    def losses() -> None:
        accumulator = MulticlassLosses(CLASSES, training_counts=cell.training_counts)
        fed(accumulator.add_checked, accumulator.values)()

    def confusion() -> None:
        counts = np.zeros((CLASSES, CLASSES), dtype=np.int64)

        def add(labels: Labels, scores: Scores) -> None:
            nonlocal counts
            counts += confusion_counts(labels, predicted_classes(scores), CLASSES)

        fed(add, lambda: confusion_metrics(counts) | band_recalls(counts, training))()

    def top_k() -> None:
        fed(lambda labels, scores: top_k_hits(labels, scores, predicted_classes(scores), DEFAULT_TOP_K))()

    def log_loss() -> None:
        sums = ExactSums(1)
        fed(lambda labels, scores: sums.add(0, true_class_log_losses(labels, scores)), sums.totals)()

    def calibration() -> None:
        bins = CalibrationCounts(CLASSES, DEFAULT_ECE_BINS)
        fed(lambda labels, scores: bins.add(labels, scores, predicted_classes(scores)), bins.values)()

    def ranking() -> None:
        kept_labels = np.empty(cell.size, dtype=np.intp)
        kept_columns = np.empty((CLASSES, cell.size), dtype=np.float32)
        position = 0

        def keep(labels: Labels, scores: Scores) -> None:
            nonlocal position
            kept_labels[position : position + labels.size] = labels
            kept_columns[:, position : position + labels.size] = scores.T
            position += labels.size

        fed(keep, lambda: ranking_metrics(kept_labels, kept_columns.T))()

    calls: dict[str, Callable[[], object]] = {
        "draw": fed(lambda labels, scores: None),
        "argmax": fed(lambda labels, scores: predicted_classes(scores)),
        "losses": losses,
        "confusion metrics": confusion,
        "top-k": top_k,
        "log loss": log_loss,
        "calibration": calibration,
        "ranking": ranking,
        "evaluation, no ranking": lambda: evaluate_multiclass_cell(quiet, seed=0),
        "evaluation": lambda: evaluate_multiclass_cell(cell, seed=0),
    }
    times = interleaved_wall_times(calls, repeats)
    draw = statistics.median(times["draw"])
    beside = {"top-k": "argmax", "calibration": "argmax"}  # what each part is fed beyond the draw

    def own(name: str) -> float:
        floor = times[beside.get(name, "draw")]
        return statistics.median(part - base for part, base in zip(times[name], floor, strict=True))

    print(f"K = {CLASSES}, {cell.size:,} samples, counts {list(cell.counts)}; medians of {repeats} rounds")
    print(f"{'':>24} {'seconds':>9} {'x draw':>7}")
    print(f"{'draw':>24} {draw:>9.4f} {1.0:>7.2f}")
    for name in ("losses", "confusion metrics", "top-k", "log loss", "calibration", "ranking"):
        print(f"{name:>24} {own(name):>9.4f} {own(name) / draw:>7.2f}  own cost")
    target = own("losses") + own("confusion metrics")
    print(f"{'losses + confusion':>24} {target:>9.4f} {target / draw:>7.2f}  own costs (target: 4x)")
    for name in ("evaluation, no ranking", "evaluation"):
        whole = statistics.median(times[name])
        print(f"{name:>24} {whole:>9.4f} {whole / draw:>7.2f}  whole, draw included")


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
    parser.add_argument("--no-memory", action="store_true", help="the timings alone")
    args = parser.parse_args()
    if not args.no_memory:
        memory(args.sizes)
    timings(args.samples, args.repeats)


if __name__ == "__main__":
    main()
