"""A stored run as plain values (:class:`StoredRun`), and the names of a run's statuses.

The statuses are MLflow's own (``RunStatus``), spelled once here: the sweep, resume and the
analyses compare a run's status with these, never with a string of their own. They are written out
(tests/test_doors_imports.py checks them against ``RunStatus``) so that a door can name them without
importing MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Run

RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"


@dataclass(frozen=True)
class StoredRun:
    """A run as a search or a look-up found it, free of MLflow's entities (:meth:`of` builds one).

    ``start_time`` is in ms since the epoch (0 when the store has none); ``name`` is "" for a run
    without one. Params are strings, as MLflow stores them.
    """

    run_id: str
    status: str  # one of the names above (or SCHEDULED, which this project never sets)
    start_time: int = 0
    name: str = ""
    experiment_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, run: Run) -> StoredRun:
        """The one place a run of MLflow's becomes a StoredRun."""
        return cls(
            run_id=run.info.run_id,
            status=run.info.status,
            start_time=run.info.start_time or 0,
            name=run.info.run_name or "",
            experiment_id=run.info.experiment_id,
            tags=dict(run.data.tags),
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
        )
