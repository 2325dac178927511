"""What the compare command prints: which runs were compared and why, the settings and metrics
that differ, and the aligned table as text."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ...tracking.where import aligned_table
from .alignment import Comparison
from .stored_sweeps import SelectedSweep


def report(selected: Sequence[SelectedSweep], comparison: Comparison) -> str:
    """What the command prints: which runs were compared and why, what differs, and the table."""
    lines = []
    for letter, sweep in zip(comparison.letters, selected, strict=True):
        unfinished = f", {sweep.n_unfinished} not FINISHED and left out" if sweep.n_unfinished else ""
        if sweep.n_repeated:
            unfinished += (
                f", {sweep.n_repeated} more FINISHED runs of cells it already holds (processes that ran it "
                "at once): the earliest run of each cell is compared"
            )
        lines.append(
            f"{letter} = {sweep.argument}: sweep {sweep.name!r}, run {sweep.run.run_id} "
            f"({sweep.how}); {len(sweep.cells)} cells{unfinished}"
        )
    for setting, values in comparison.settings.items():
        pairs = " ".join(
            f"{letter}={value}" for letter, value in zip(comparison.letters, values, strict=True)
        )
        lines.append(f"differs: {setting}: {pairs}")
    lines.append(f"cells in common: {len(comparison.cells)}")
    if comparison.not_shared:
        lines.append(f"not compared (not in every sweep): {', '.join(comparison.not_shared)}")
    n_compared = len(comparison.compared)
    if comparison.differing:
        lines.append(
            f"metrics that differ ({len(comparison.differing)} of {n_compared}): {', '.join(comparison.differing)}"
        )
    else:
        lines.append(f"no metric differs on the cells in common ({n_compared} compared)")
    rows = comparison.rows()
    if rows:
        lines += ["", format_table(comparison.columns, rows)]
    return "\n".join(lines)


def _text(value: str | float) -> str:
    """A table entry: whole numbers (counts, their differences) without a decimal point."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return str(value)
    number = float(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.6g}"


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, str | float]]) -> str:
    """Rows as aligned text: numbers right-aligned, words left-aligned, a rule under the header."""
    cells = [[_text(row[column]) for column in columns] for row in rows]
    left = [bool(rows) and isinstance(rows[0][column], str) for column in columns]
    return aligned_table(columns, cells, left=left, rule=True, trim=True)
