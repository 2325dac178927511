"""MLflow's active run, as the fluent API keeps it (``mlflow.start_run``, autolog, ``mlflow run``'s
MLFLOW_RUN_ID): the one the Keras panel logs into, or starts and ends itself."""

from __future__ import annotations

import os

from .retrying import RetryingClient
from .runs import FINISHED
from .store import ready_store
from .store_errors import store_errors
from .tracker import ensure_experiment


def active_or_new_run(*, experiment: str | None = None, run_name: str | None = None) -> tuple[str, str, bool]:
    """``(run id, tracking URI, started here)`` of MLflow's active run (fluent API:
    ``mlflow.start_run``, autolog, ``mlflow run``'s MLFLOW_RUN_ID), else of one started now. A new
    run goes into ``experiment`` (created if missing) unless MLFLOW_RUN_ID names the run."""
    import mlflow

    tracking_uri = mlflow.get_tracking_uri()
    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id, tracking_uri, False
    ready_store(tracking_uri)
    experiment_id = None
    with store_errors(tracking_uri):
        if experiment and not os.environ.get("MLFLOW_RUN_ID"):
            experiment_id = ensure_experiment(RetryingClient.of(tracking_uri), experiment)
        run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name)
    return run.info.run_id, tracking_uri, True


def end_started_run(status: str = FINISHED) -> None:
    """End MLflow's active run (one :func:`active_or_new_run` started)."""
    import mlflow

    with store_errors(mlflow.get_tracking_uri()):
        mlflow.end_run(status)
