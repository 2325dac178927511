"""Memory per cell is bounded by the chunk size, not by the cell's size."""

import tracemalloc

import pytest

from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.evaluation import RANKING_CAPACITY_CHUNKS, evaluate_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms


def peak_bytes(cell, chunk_size):
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        values = evaluate_cell(cell, seed=0, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=chunk_size)
        return tracemalloc.get_traced_memory()[1], values
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_peak_memory_does_not_grow_with_the_cell():
    """Below the ranking table's capacity (16 chunks' worth of distinct scores) memory grows with the
    cell's distinct scores; above it, not at all: a cell 10x larger than one already over capacity
    takes no measurably more, and all stay within a bound set by the chunk size alone."""
    chunk_size = 1 << 12  # capacity: 65,536 distinct scores
    peak_bytes(Cell(1_000, 10, 0.9, 0.6), chunk_size)  # first-call allocations, not per-cell ones
    # both classes over the capacity (positives arrive first, and are ranked against first)
    over, _ = peak_bytes(Cell(2_000_000, 200_000, 0.9, 0.6), chunk_size)
    large, values = peak_bytes(Cell(20_000_000, 2_000_000, 0.9, 0.6), chunk_size)
    assert values["tn"] + values["fp"] == 20_000_000
    assert large < over + 64 * 1024
    capacity = RANKING_CAPACITY_CHUNKS * chunk_size
    # the table's rows (20 bytes each) and its merge's temporaries, the buffer, a chunk's scratch
    assert large < 8 * 20 * capacity
