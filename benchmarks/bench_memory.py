"""Peak memory and time of one cell as its size grows to 10^9 samples.

Each size runs in a fresh process, which reports its own peak resident set size
(``ru_maxrss``): with chunked evaluation it should stay flat while the cell grows 1000x, and the
time should grow linearly. Prevalence 1 %, the post's accuracies (0.999, 0.5), all six losses.

    python benchmarks/bench_memory.py [--sizes 1e6 1e8 1e9]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms
from imbalance_sweep.core.simulator import DEFAULT_CHUNK_SIZE
size = int(float(sys.argv[1]))
cell = Cell(size - size // 100, size // 100, 0.999, 0.5)
term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
values = evaluate_cell(cell, seed=0, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=DEFAULT_CHUNK_SIZE)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"size": size, "seconds": seconds, "rss_before_mib": before / 1024,
                  "rss_peak_mib": after / 1024, "tp_fn": values["tp"] + values["fn"],
                  "bce": values["loss/bce"], "recall": values["recall"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1e6", "1e8", "1e9"])
    args = parser.parse_args()
    print(
        f"{'samples':>14} {'seconds':>9} {'ns/sample':>10} {'peak RSS MiB':>13} {'RSS before MiB':>15}  recall   bce"
    )
    rows = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, size], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['size']:>14,} {row['seconds']:>9.2f} {1e9 * row['seconds'] / row['size']:>10.2f} "
            f"{row['rss_peak_mib']:>13.1f} {row['rss_before_mib']:>15.1f}  {row['recall']:.5f} {row['bce']:.6f}"
        )
    growth = rows[-1]["rss_peak_mib"] - rows[0]["rss_peak_mib"]
    print(f"peak RSS grew by {growth:+.1f} MiB from {rows[0]['size']:,} to {rows[-1]['size']:,} samples")


if __name__ == "__main__":
    main()
