"""MLflow's client with each call tried again while sqlite says the database is locked, each try
holding Ctrl-C and SIGTERM on a database store: the calls the project makes, typed as MLflow's."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..runtime.signals import interrupts_deferred
from .where import is_server

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow.entities import DatasetInput, Experiment, Metric, Param, Run, RunTag
    from mlflow.store.entities import PagedList

# sqlite answers a write it cannot take with "database is locked" (an MlflowException with
# error_code TEMPORARILY_UNAVAILABLE in mlflow 3.17.2, after its own 20 s busy timeout, or at once
# when two transactions both want to write): such a write is retried, with exponential backoff.
LOCKED_MESSAGE = "database is locked"
WRITE_ATTEMPTS = 8
FIRST_BACKOFF_SECONDS = 0.05

P = ParamSpec("P")
R = TypeVar("R")


def retry_when_locked(call: Callable[[], R], *, attempts: int = WRITE_ATTEMPTS) -> R:
    """``call()``, tried again while sqlite says the database is locked.

    At most ``attempts`` tries, waiting FIRST_BACKOFF_SECONDS x 2^attempt, times 1 to 2 at random
    so that writers that collided do not collide again. A locked write was rolled back, so trying
    it again cannot log anything twice.
    """
    for attempt in range(attempts - 1):
        try:
            return call()
        except MlflowException as error:
            if LOCKED_MESSAGE not in str(error):
                raise
            time.sleep(FIRST_BACKOFF_SECONDS * 2**attempt * (1 + random.random()))
    return call()


def _held(call: Callable[P, R]) -> Callable[P, R]:
    """``call`` with Ctrl-C and SIGTERM held until it returns (``runtime.signals``): a database write cut
    by the signal would keep its lock from the writes that close the runs KILLED."""

    def held(*args: P.args, **kwargs: P.kwargs) -> R:
        with interrupts_deferred():
            return call(*args, **kwargs)

    return held


class RetryingClient:
    """An MlflowClient whose every call goes through :func:`retry_when_locked`; on a database store
    (``hold_interrupts``) each try holds Ctrl-C and SIGTERM until it returns, not the backoff
    between tries. A tracking server's requests are not held: the server keeps its own
    transactions whole, and a hung request must not keep Ctrl-C waiting.

    Each method is MlflowClient's of the same name, with the arguments the project passes."""

    def __init__(self, client: MlflowClient, *, hold_interrupts: bool):
        self._client = client
        self._hold_interrupts = hold_interrupts

    @classmethod
    def of(cls, tracking_uri: str) -> RetryingClient:
        return cls(MlflowClient(tracking_uri=tracking_uri), hold_interrupts=not is_server(tracking_uri))

    def _retried(self, method: Callable[P, R], attempts: int = WRITE_ATTEMPTS) -> Callable[P, R]:
        """``method`` (one of the MlflowClient's), each try held, tried ``attempts`` times at most."""
        try_once = _held(method) if self._hold_interrupts else method

        def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            return retry_when_locked(lambda: try_once(*args, **kwargs), attempts=attempts)

        return retried

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._retried(self._client.get_experiment)(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._retried(self._client.get_experiment_by_name)(name)

    def create_experiment(self, name: str, *, tags: dict[str, str]) -> str:
        return self._retried(self._client.create_experiment)(name, tags=tags)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._retried(self._client.set_experiment_tag)(experiment_id, key, value)

    def get_run(self, run_id: str) -> Run:
        return self._retried(self._client.get_run)(run_id)

    def create_run(self, experiment_id: str, *, run_name: str, tags: dict[str, str]) -> Run:
        return self._retried(self._client.create_run)(experiment_id, run_name=run_name, tags=tags)

    def update_run(self, run_id: str, *, status: str) -> None:
        self._retried(self._client.update_run)(run_id, status=status)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self._retried(self._client.log_batch)(run_id, metrics=metrics, params=params, tags=tags)

    def log_inputs(self, run_id: str, *, datasets: Sequence[DatasetInput]) -> None:
        self._retried(self._client.log_inputs)(run_id, datasets=datasets)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        *,
        max_results: int,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        return self._retried(self._client.search_runs)(
            experiment_ids, filter_string, max_results=max_results, order_by=order_by, page_token=page_token
        )

    def delete_run(self, run_id: str) -> None:
        self._retried(self._client.delete_run)(run_id)

    def set_terminated(self, run_id: str, status: str, *, attempts: int = WRITE_ATTEMPTS) -> None:
        """Close a run, tried ``attempts`` times at most (fewer after Ctrl-C: tracker.CLOSING_ATTEMPTS)."""
        self._retried(self._client.set_terminated, attempts)(run_id, status)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._retried(self._client.log_text)(run_id, text, artifact_file)

    def log_table(self, run_id: str, data: dict[str, Any], artifact_file: str) -> None:
        self._retried(self._client.log_table)(run_id, data, artifact_file)

    def log_figure(self, run_id: str, figure: Figure, artifact_file: str) -> None:
        self._retried(self._client.log_figure)(run_id, figure, artifact_file)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        self._retried(self._client.log_artifact)(run_id, local_path, artifact_path)
