"""A sweep's size, known before anything is logged: its cells, its samples, a rough time, and the
bound past which a sampled cell would never finish (``dry_run=true`` prints all of it and logs nothing).

The time is an estimate from figures measured on a 2-core machine (docs/development/benchmarks.md): about
30 ms of tracking per cell on a local sqlite store (several times that through a tracking server),
5 ns per drawn sample, 0.1 ms per exact cell. It says whether a sweep takes seconds or days.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.cell import Cell
from ..core.checks import InvalidValue

# A sampled cell draws every sample: 10^9 take about 5 s, 10^12 about an hour and a half.
SAMPLED_CELL_MAX_SAMPLES = 10**12
SECONDS_PER_SAMPLE = 5e-9
SECONDS_PER_CELL_TRACKED = 0.03
SECONDS_PER_EXPECTED_CELL = 1e-4
SHOWN_CELLS = 5


def check_sampled_sizes(cells: Sequence[Cell], mode: str) -> None:
    """A sampled cell above SAMPLED_CELL_MAX_SAMPLES stops the sweep before it starts."""
    if mode != "sampled":
        return
    largest = max(cells, key=lambda cell: cell.size)
    if largest.size > SAMPLED_CELL_MAX_SAMPLES:
        raise InvalidValue(
            f"grid.balances: the cell {largest.name} has {largest.size:.3g} samples, more than a sampled "
            f"cell draws (at most {SAMPLED_CELL_MAX_SAMPLES:.0e}); mode=expected gives its exact values at once"
        )


def estimated_seconds(cells: Sequence[Cell], mode: str, *, server: bool = False) -> float:
    tracked = SECONDS_PER_CELL_TRACKED * (3 if server else 1)
    if mode == "sampled":
        return len(cells) * tracked + sum(cell.size for cell in cells) * SECONDS_PER_SAMPLE
    return len(cells) * (tracked + SECONDS_PER_EXPECTED_CELL)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"about {seconds / 3600:.1f} h"
    return f"about {seconds / 86400:.0f} days"


def size_line(
    name: str, cells: Sequence[Cell], shard_cells: Sequence[Cell], mode: str, *, server: bool
) -> str:
    """One line: how many cells and samples, and about how long this process will take."""
    shard = f" (this shard: {len(shard_cells)})" if len(shard_cells) != len(cells) else ""
    samples = sum(cell.size for cell in cells)
    seconds = estimated_seconds(shard_cells, mode, server=server)
    counted = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
    return f"{name}: {counted}{shard}, {samples:.3g} samples in all, {mode} mode; {_duration(seconds)}"


def dry_run_lines(
    name: str, cells: Sequence[Cell], shard_cells: Sequence[Cell], mode: str, *, server: bool
) -> list[str]:
    """What ``dry_run=true`` prints: the size line, the first cells, and that nothing was logged."""
    lines = [size_line(name, cells, shard_cells, mode, server=server)]
    lines += [f"  {cell.name}" for cell in shard_cells[:SHOWN_CELLS]]
    if len(shard_cells) > SHOWN_CELLS:
        lines.append(f"  ... and {len(shard_cells) - SHOWN_CELLS} more")
    lines.append("dry run: nothing was logged (dry_run=false to run it)")
    return lines
