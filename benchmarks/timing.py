"""The benchmarks' one way of timing a call: wall-clock seconds of repeated calls after a warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def wall_times(call: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``call()``, after one warm-up call (not counted)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    return statistics.median(wall_times(call, repeats))
