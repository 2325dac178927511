"""The benchmarks' one way of timing a call: wall-clock seconds of repeated calls after a warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


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


def interleaved_wall_times(
    calls: Mapping[str, Callable[[], object]],
    repeats: int,
    *,
    before: Callable[[str], object] | None = None,
) -> dict[str, list[float]]:
    """Seconds of each of ``repeats`` calls of each ``calls[name]()``, taken in rounds (each call once
    a round, in turn) after one warm-up round: a load that drifts while the benchmark runs (a
    shared machine) weighs on every call alike, so their ratios hold. ``before(name)``, when
    given, runs untimed before each call (e.g. a fresh copy of a store)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(repeats + 1):
        for name, call in calls.items():
            if before is not None:
                before(name)
            start = time.perf_counter()
            call()
            if round_number:
                times[name].append(time.perf_counter() - start)
    return times
