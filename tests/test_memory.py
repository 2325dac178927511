"""Memory per cell is bounded by the chunk size, not by the cell's size."""

import tracemalloc

from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms


def peak_bytes(cell, chunk_size):
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        values = evaluate_cell(cell, seed=0, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=chunk_size)
        return tracemalloc.get_traced_memory()[1], values
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_cell():
    chunk_size = 1 << 14
    peak_bytes(Cell(1_000, 10, 0.9, 0.6), chunk_size)  # first-call allocations, not per-cell ones
    small, _ = peak_bytes(Cell(100_000, 1_000, 0.9, 0.6), chunk_size)
    large, values = peak_bytes(Cell(20_000_000, 200_000, 0.9, 0.6), chunk_size)
    assert values["tn"] + values["fp"] == 20_000_000
    # a float32 chunk is 64 KiB; the 200x larger cell may not take measurably more
    assert large < small + 64 * 1024
    assert large < 20 * chunk_size * 4
