"""Cost of one cell in ``mode=expected`` against ``mode=sampled``, as the cell grows.

Expected values are integrals over the score model, so their cost should not depend on the cell's
size; a sampled cell costs in proportion to it. Both are timed in one process (medians of
repeated calls, after a warm-up that fills the quadrature caches as a sweep would).

    python benchmarks/bench_expected.py [--repeats 25]
"""

from __future__ import annotations

import argparse

from timing import median_seconds  # benchmarks/timing.py, beside this script

from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.expectations import expected_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms
from imbalance_sweep.core.simulator import DEFAULT_CHUNK_SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    print(f"{'samples':>15} {'expected us':>12} {'sampled ms':>11} {'sampled/expected':>17}")
    for size in (10_100, 1_010_000, 101_000_000):
        cell = Cell(size - size // 101, size // 101, 0.999, 0.5)
        exact = median_seconds(
            lambda cell=cell: expected_cell(cell, losses=LOSS_NAMES, alpha=0.25, gamma=2.0), args.repeats
        )
        repeats = args.repeats if size <= 1_010_000 else 3
        drawn = median_seconds(
            lambda cell=cell: evaluate_cell(
                cell, seed=0, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=DEFAULT_CHUNK_SIZE
            ),
            repeats,
        )
        print(f"{size:>15,} {exact * 1e6:>12.1f} {drawn * 1e3:>11.2f} {drawn / exact:>16.0f}x")


if __name__ == "__main__":
    main()
