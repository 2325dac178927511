"""Runs read back from a tracking store as plain values, page after page; nothing created."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .retrying import RetryingClient
from .runs import StoredRun
from .store import ready_store
from .store_errors import store_errors


def search_all(
    client: MlflowClient | RetryingClient,
    experiment_ids: list[str],
    filter_string: str = "",
    order_by: list[str] | None = None,
) -> list[StoredRun]:
    """Every active run matching ``filter_string``, page after page, as plain values."""
    found: list[StoredRun] = []
    token = None
    while True:
        page = client.search_runs(
            experiment_ids,
            filter_string,
            max_results=RunReader.PAGE_SIZE,
            order_by=order_by,
            page_token=token,
        )
        found.extend(StoredRun.of(run) for run in page)
        token = page.token
        if not token:
            return found


class RunReader:
    """Reads runs back from one tracking store; never creates anything (the read side of Tracker)."""

    PAGE_SIZE = 10_000

    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri
        ready_store(tracking_uri)
        with store_errors(tracking_uri):
            self.client = MlflowClient(tracking_uri=tracking_uri)

    def experiments(self) -> dict[str, str]:
        """The active experiments, id -> name."""
        found, token = {}, None
        with store_errors(self.tracking_uri):
            while True:
                page = self.client.search_experiments(max_results=self.PAGE_SIZE, page_token=token)
                found.update({experiment.experiment_id: experiment.name for experiment in page})
                token = page.token
                if not token:
                    return found

    def search(self, experiment_ids: list[str], filter_string: str = "") -> list[StoredRun]:
        """Every active run of ``experiment_ids`` matching ``filter_string`` (MLflow's search syntax)."""
        with store_errors(self.tracking_uri):
            return search_all(self.client, experiment_ids, filter_string)

    def get(self, run_id: str) -> StoredRun | None:
        """The run with this id, or None when there is none."""
        with store_errors(self.tracking_uri):
            try:
                return StoredRun.of(self.client.get_run(run_id))
            except MlflowException as error:
                # a string that cannot be a run id (a sweep's name, say) is no run either
                if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    return None
                raise
