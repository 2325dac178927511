"""Resume, shards and races: the parent a sweep continues, the cells already FINISHED, one
FINISHED run per cell whoever raced, and the records of `mlflow run` launches that continued one."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from ..tracking.runs import FAILED, FINISHED, RUNNING, StoredRun
from ..tracking.tags import (
    CELL_KEY_TAG,
    CONTINUED_BY_TAG,
    CONTINUES_TAG,
    MLFLOW_PARENT_TAG,
    NOTE_TAG,
    ROLE_TAG,
    SHARD_COUNT_TAG,
    SWEEP_KEY_TAG,
    Role,
)
from ..tracking.tracker import Tracker
from .config import SweepSpec
from .params import sweep_params

log = logging.getLogger(__name__)


def record_launch(
    tracker: Tracker, launch: str, spec: SweepSpec, sweep_tags: dict[str, str], holder: str, done: str
) -> None:
    """The run ``mlflow run`` created, when the work was begun by an earlier run ``holder``: it says
    which run holds the cells (tag and description), and that run's description says who continued it."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    tracker.start_run(
        f"{spec.name} (continues {holder[:8]})",
        tags={
            **sweep_tags,
            ROLE_TAG: Role.LAUNCH,
            CONTINUES_TAG: holder,
            NOTE_TAG: f"This `mlflow run` continued sweep {spec.name!r} in run {holder}: {done}. "
            f"Every cell of the sweep is in that run.",
        },
        existing_run_id=launch,
    )
    earlier = tracker.get_note(holder)
    tracker.set_tags(
        holder,
        {
            CONTINUED_BY_TAG: launch,
            NOTE_TAG: f"{earlier}\n\nContinued by run {launch} ({now}): {done}.".strip(),
        },
    )


def open_sweep(
    tracker: Tracker,
    spec: SweepSpec,
    sweep_tags: dict[str, str],
    existing_run_id: str | None,
    parent_run_id: str | None,
    *,
    continue_earlier: bool = True,
) -> tuple[str, str]:
    """The sweep's parent run and its status: the one an earlier run of this sweep key left (resume,
    ``continue_earlier``), else the adopted run, else a new one.

    Concurrent shards, and identical sweeps started together, create one parent between them. On a
    sqlite store the find-or-create runs under :meth:`Tracker.exclusive`. A server has no such lock,
    so a process that created a parent waits until every concurrent creation is visible, then all of
    them keep the same one (:func:`chosen_parent`) and the others delete theirs before logging
    anything into them.
    An adopted run (``mlflow run``'s) is a fresh sweep unless an earlier one of the same key exists.
    """
    role = {**sweep_tags, ROLE_TAG: Role.SWEEP}
    # Found by the sweep key (hex), never by the name: a name may hold any character, the key only [0-9a-f].
    same_key = {SWEEP_KEY_TAG: sweep_tags[SWEEP_KEY_TAG], ROLE_TAG: Role.SWEEP}

    def parents() -> list[StoredRun]:
        return [
            run for run in tracker.find_runs(same_key) if run.tags.get(MLFLOW_PARENT_TAG) == parent_run_id
        ]

    with tracker.exclusive():
        if spec.resume and continue_earlier:
            found = chosen_parent(parents())
            if found:
                return found.run_id, found.status
        run_id = tracker.start_run(
            spec.name,
            params=sweep_params(spec),
            tags={
                **role,
                SHARD_COUNT_TAG: str(spec.shard_count),
                NOTE_TAG: f"Sweep {spec.name!r} of {len(spec.cells)} cells: each is a run nested under this one.",
            },
            parent_run_id=parent_run_id,
            existing_run_id=existing_run_id,
        )
    if not tracker.exclusive_is_locked and not existing_run_id:
        time.sleep(PARENT_SETTLE_SECONDS)
        chosen = chosen_parent(parents())
        if chosen is not None and chosen.run_id != run_id:
            tracker.delete_run(run_id)
            return chosen.run_id, chosen.status
    return run_id, RUNNING


# Longer than a find-then-create takes on a tracking server: every parent created by shards that
# found none is visible once this much time has passed after one's own creation.
PARENT_SETTLE_SECONDS = 2.0


# Parents of one sweep key that shards started this close together were created in a race (start
# times are the clients' clocks: this also covers their skew).
PARENT_RACE_SECONDS = 60.0


def chosen_parent(runs: list[StoredRun]) -> StoredRun | None:
    """The parent every shard agrees on, whoever looks and whenever: the newest parent, unless
    shards created it, in which case the smallest run id of the parents shards created within
    PARENT_RACE_SECONDS of it. (A fresh sweep, ``resume=false``, is never sharded.)"""
    if not runs:
        return None
    newest = max(runs, key=lambda run: (run.start_time, run.run_id))
    if newest.tags.get(SHARD_COUNT_TAG, "1") == "1":
        return newest
    racing = [
        run
        for run in runs
        if run.tags.get(SHARD_COUNT_TAG, "1") != "1"
        and newest.start_time - run.start_time <= PARENT_RACE_SECONDS * 1000
    ]
    return min(racing, key=lambda run: run.run_id)


def finished_children(tracker: Tracker, sweep_run: str, cell_keys: set[str]) -> set[str]:
    """The keys among ``cell_keys`` with a FINISHED child of ``sweep_run``. Children of those
    cells left RUNNING (their process died) are marked FAILED: they are stale, never to finish."""
    children = [
        run
        for run in tracker.find_runs({MLFLOW_PARENT_TAG: sweep_run})
        if run.tags.get(CELL_KEY_TAG) in cell_keys
    ]
    chosen, extra = one_finished_per_cell(children)
    if extra:
        log.info(
            "run %s: %d cells have more than one FINISHED run (processes that ran the same sweep at once); "
            "the earliest run of each counts",
            sweep_run,
            len({run.tags[CELL_KEY_TAG] for run in extra}),
        )
    for run in children:
        if run.status == RUNNING:
            tracker.finish(run.run_id, FAILED)
    return set(chosen)


def one_finished_per_cell(runs: list[StoredRun]) -> tuple[dict[str, StoredRun], list[StoredRun]]:
    """Per cell key, the FINISHED run every process keeps when a race made several (the earliest
    started, then the smallest run id: the same choice whoever makes it), and the others."""
    chosen: dict[str, StoredRun] = {}
    extra: list[StoredRun] = []
    finished = [run for run in runs if run.status == FINISHED and CELL_KEY_TAG in run.tags]
    for run in sorted(finished, key=lambda run: (run.start_time, run.run_id)):
        key = run.tags[CELL_KEY_TAG]
        if key in chosen:
            extra.append(run)
        else:
            chosen[key] = run
    return chosen, extra


def fail_stale_launches(tracker: Tracker, sweep_run: str) -> None:
    """Runs of earlier `mlflow run` launches that continued ``sweep_run`` and were left RUNNING (their
    processes were killed: nothing closed them) are marked FAILED, as stale cells are."""
    for run in tracker.find_runs({CONTINUES_TAG: sweep_run, ROLE_TAG: Role.LAUNCH}):
        if run.status == RUNNING:
            tracker.finish(run.run_id, FAILED)
