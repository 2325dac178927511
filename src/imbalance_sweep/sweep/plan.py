"""A sweep's size, known before anything is logged: its cells, its samples, how long the whole
command will take, and the bound past which a sampled cell would never finish (``dry_run=true``
prints all of it and logs nothing).

The time is the whole process, as a person waits for it: start-up (Python, Hydra, MLflow), a new
store's tables, the cells (each computed, then logged as its own run) and the parent's report. It
is a model fitted to figures measured on the project's 2-core machine; benchmarks/bench_size_line.py
sets it beside whole commands, and with ``--parts`` re-measures start-up and the report.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core.cell import Cell
from ..core.checks import InvalidValue
from ..core.evaluation import RANKING_CAPACITY_CHUNKS
from ..core.multiclass.evaluation import RANKING_MAX_SCORES
from ..tracking.where import is_server, store_text

if TYPE_CHECKING:
    from .config import SweepCell, SweepSpec

# A sampled cell draws every sample: 10^9 took 57 s here (benchmarks/bench_memory.py), 10^12 would take 16 h.
SAMPLED_CELL_MAX_SAMPLES = 10**12
SHOWN_CELLS = 5

# The figures of the estimate, in seconds, measured on the project's 2-core machine on 2026-12-07
# (Python 3.11.7, mlflow 3.17.2, a sqlite store) with benchmarks/bench_size_line.py --parts (whole
# commands) and runner.cell_values in one process (a cell's computation). Other work shared the
# machine (load average 1.5 to 6): whole commands took up to twice as long when busy as when quiet,
# and each figure sits between the two. `bench_size_line.py --parts` re-measures them.
# Python, Hydra (it composes the config three times), importing MLflow, opening an existing store,
# the sweep's run and closing it: a sweep of one exact cell took 2.5 to 3.1 s quiet, 6.4 to 7.7 s busy
# (since the doors import MLflow only once the config is valid; re-measured after the figures merge).
STARTUP_SECONDS = 3.0
# Importing TensorFlow for backend=keras or tfa: 4.3 to 6.6 s.
FRAMEWORK_STARTUP_SECONDS = 5.0
# A new sqlite store's tables, copied from the template kept in the user's cache (tracking/
# sqlite_file.py): 0.15 s more than an existing store, 1.0 s the first time a template is built
# (benchmarks/bench_new_store.py); MLflow's own migrations took about 5 s.
NEW_STORE_SECONDS = 0.5
# A cell's run on sqlite (create_run, one log_batch, set_terminated): the 2,000 exact cells of
# grid=dense took 16 ms each quiet, 26 to 28 ms busy (design notes: 29-31 ms).
SECONDS_PER_CELL_TRACKED = 0.02
# Through a tracking server a cell's run costs about this many times more (benchmarks/bench_server.py).
SERVER_TRACKING_FACTOR = 3
# An exact cell (mode=expected): its population values, every loss and metric (0.23 ms).
SECONDS_PER_EXPECTED_CELL = 3e-4
# A sampled cell: its set-up and its exact values beside the draw, then per drawn sample a base cost
# (the draw, the confusion counts, the ranking table) and a cost per loss (10^6 samples: 13 ms with
# 2 losses, 25 ms with 6; through Keras's losses 118 ms with 6).
SECONDS_PER_SAMPLED_CELL = 2e-3
SECONDS_PER_SAMPLE = 8e-9
SECONDS_PER_SAMPLE_PER_LOSS = 3e-9
FRAMEWORK_SECONDS_PER_SAMPLE_PER_LOSS = 1.8e-8
# Past the ranking table's capacity (RANKING_CAPACITY_CHUNKS chunks of distinct scores) each sample
# costs more: the table is merged and coarsened (a cell of 3 x 10^7 samples took 3.7 s).
SECONDS_PER_SAMPLE_PAST_CAPACITY = 1.2e-7
# The parent run's report (analysis/report.py and answer.py: matplotlib's import, the figures that
# answer the sweep's question, the tables; all logged), written once a sweep of several cells has them
# all. Quiet, with report=answer (the default): seed_blog's 4 cells 0.7 s, 120 cells with 2 losses
# 0.8 s, grid=dense's 2,000 cells within the noise of its 36 s. report=all draws a heatmap per loss
# too (it took 3.0 s for seed_blog's 6 losses, 9.8 s for grid=dense). `bench_size_line.py --parts`
# fits these figures to the report's cost again; re-measure them whenever the report changes.
REPORT_SECONDS = 0.9
REPORT_SECONDS_PER_LOSS = 0.6  # report=all only
REPORT_SECONDS_PER_CELL = 0.0005
# A K-class cell of K >= 3 (core/multiclass/evaluation.py), timed on this machine (2026-12, busy: load 2
# to 3) with evaluate_multiclass_cell over K = 3 to 1,000 and 10^2 to 10^6 rows: a set-up, a cost per
# pair of classes (K = 1,000: 27 s whatever the rows; K = 100: 0.25 s; K = 10: 3 ms), and per score
# (rows x K) a cost, with more for the ranking metrics up to RANKING_MAX_SCORES scores (K = 10, 10^6
# rows: 0.7 to 1.3 s). Its run logs 4 values a class more than a binary cell: 0.12 to 0.15 ms each.
SECONDS_PER_K_CELL = 2e-3
SECONDS_PER_CLASS_PAIR = 2.7e-5
SECONDS_PER_K_SCORE = 1.5e-8
SECONDS_PER_RANKED_SCORE = 6e-8
SECONDS_PER_METRIC_TRACKED = 1.2e-4
# Its exact values (core/multiclass/expected.py; alone in mode=expected, beside the draw when sampled):
# a set-up and a cost per pair of classes (benchmarks/bench_multiclass_expected.py, busy: K = 10
# 2.4 to 2.7 ms, K = 100 27 to 29 ms, K = 1,000 1.2 to 2.0 s).
SECONDS_PER_EXPECTED_K_CELL = 2.3e-3
SECONDS_PER_EXPECTED_CLASS_PAIR = 1.5e-6
K_CLASS_METRICS_PER_CLASS = 4  # precision, recall, f1, ece of each class
K_CLASS_REPORT_SECONDS = 0.1  # its summary and headline tables (no matplotlib, no figure)


def check_sampled_sizes(cells: Sequence[SweepCell], mode: str) -> None:
    """A sampled cell above SAMPLED_CELL_MAX_SAMPLES stops the sweep before it starts."""
    if mode != "sampled":
        return
    largest = max(cells, key=lambda cell: cell.size)
    if largest.size > SAMPLED_CELL_MAX_SAMPLES:
        where = "grid.balances" if isinstance(largest, Cell) else "grid.validation"
        raise InvalidValue(
            f"{where}: the cell {largest.name} has {largest.size:.3g} samples, more than a sampled "
            f"cell draws (at most {SAMPLED_CELL_MAX_SAMPLES:.0e}); mode=expected gives its exact values at once"
        )


def new_sqlite_store(tracking_uri: str) -> bool:
    """Whether the sweep will create its store: a sqlite file not there yet."""
    return tracking_uri.startswith("sqlite:///") and not os.path.exists(store_text(tracking_uri))


def cell_seconds(cell: SweepCell, mode: str, *, per_sample: float, chunk_size: int) -> float:
    """Computing one cell (not logging it); ``per_sample`` is what a drawn sample costs (a binary
    cell's, and a K-class grid's of K = 2, which run as binary cells)."""
    if not isinstance(cell, Cell) and cell.classes > 2:
        return k_cell_seconds(cell.classes, cell.size, mode)
    if mode != "sampled":
        return SECONDS_PER_EXPECTED_CELL
    past_capacity = max(0, cell.size - RANKING_CAPACITY_CHUNKS * chunk_size)
    return (
        SECONDS_PER_SAMPLED_CELL + cell.size * per_sample + past_capacity * SECONDS_PER_SAMPLE_PAST_CAPACITY
    )


def k_cell_seconds(classes: int, rows: int, mode: str = "sampled") -> float:
    """Computing one K-class cell of ``rows`` rows (K >= 3; see the figures above): its exact values,
    and in ``sampled`` mode its draw too."""
    exact = SECONDS_PER_EXPECTED_K_CELL + classes * classes * SECONDS_PER_EXPECTED_CLASS_PAIR
    if mode != "sampled":
        return exact
    scores = rows * classes
    ranked = scores if scores <= RANKING_MAX_SCORES else 0
    return (
        exact
        + SECONDS_PER_K_CELL
        + classes * classes * SECONDS_PER_CLASS_PAIR
        + scores * SECONDS_PER_K_SCORE
        + ranked * SECONDS_PER_RANKED_SCORE
    )


def k_class_metrics_seconds(cells: Sequence[SweepCell]) -> float:
    """Logging the per-class values of K-class cells (K >= 3), beyond a binary cell's run."""
    per_class = sum(cell.classes for cell in cells if not isinstance(cell, Cell) and cell.classes > 2)
    return per_class * K_CLASS_METRICS_PER_CLASS * SECONDS_PER_METRIC_TRACKED


def report_seconds(losses: int, cells: int, *, all_figures: bool = False) -> float:
    """The parent run's report of a sweep of ``cells`` cells with ``losses`` losses (``report=all``:
    every figure, a heatmap per loss among them)."""
    per_loss = REPORT_SECONDS_PER_LOSS if all_figures else 0.0
    return REPORT_SECONDS + losses * per_loss + cells * REPORT_SECONDS_PER_CELL


def estimated_seconds(spec: SweepSpec, *, server: bool = False, new_store: bool = False) -> float:
    """The whole command for this shard: start-up, a new store, its cells and (a grid) the report."""
    framework = spec.backend != "numpy" and spec.mode == "sampled"  # keras, tfa: TensorFlow
    per_loss = FRAMEWORK_SECONDS_PER_SAMPLE_PER_LOSS if framework else SECONDS_PER_SAMPLE_PER_LOSS
    per_sample = SECONDS_PER_SAMPLE + len(spec.losses) * per_loss
    cells = spec.shard_cells
    computed = sum(
        cell_seconds(cell, spec.mode, per_sample=per_sample, chunk_size=spec.chunk_size) for cell in cells
    )
    tracked = (len(cells) * SECONDS_PER_CELL_TRACKED + k_class_metrics_seconds(cells)) * (
        SERVER_TRACKING_FACTOR if server else 1
    )
    grid = len(spec.cells) > 1 or spec.shard_count > 1
    if not (spec.report and grid):
        report = 0.0
    elif spec.multiclass is not None:  # a K-class sweep's report: two tables, no figure
        report = K_CLASS_REPORT_SECONDS
    else:
        report = report_seconds(len(spec.losses), len(spec.cells), all_figures=spec.all_figures)
    start = STARTUP_SECONDS + (FRAMEWORK_STARTUP_SECONDS if framework else 0.0)
    # A worker computes the cells, then draws the report, while they are logged (sweep/ahead.py).
    work = max(computed + report, tracked) if spec.computes_ahead(len(cells)) else computed + tracked + report
    return start + (NEW_STORE_SECONDS if new_store else 0.0) + work


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


def size_line(spec: SweepSpec) -> str:
    """One line: how many cells and samples, and about how long this command will take."""
    cells, shard_cells = spec.cells, spec.shard_cells
    shard = f" (this shard: {len(shard_cells)})" if len(shard_cells) != len(cells) else ""
    samples = sum(cell.size for cell in cells)
    seconds = estimated_seconds(
        spec, server=is_server(spec.tracking_uri), new_store=new_sqlite_store(spec.tracking_uri)
    )
    counted = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
    return (
        f"{spec.name}: {counted}{shard}, {samples:.3g} samples in all, {spec.mode} mode; {_duration(seconds)}"
    )


def dry_run_lines(spec: SweepSpec) -> list[str]:
    """What ``dry_run=true`` prints: the size line, the first cells, and that nothing was logged."""
    shard_cells = spec.shard_cells
    lines = [size_line(spec)]
    lines += [f"  {cell.name}" for cell in shard_cells[:SHOWN_CELLS]]
    if len(shard_cells) > SHOWN_CELLS:
        lines.append(f"  ... and {len(shard_cells) - SHOWN_CELLS} more")
    lines.append("dry run: nothing was logged (dry_run=false to run it)")
    return lines
