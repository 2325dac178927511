"""MLflow, and only here: runs for cells and sweeps, logged with as few round-trips as it allows."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Mapping

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

# MLflow refuses longer parameter values; the full grid is in the sweep's config.yaml artifact.
MAX_PARAM_LENGTH = 6000


class TrackingError(RuntimeError):
    """The tracking store cannot be used: one line naming the URI and what went wrong."""


def _param_text(value: object) -> str:
    text = str(value)
    if len(text) > MAX_PARAM_LENGTH:
        return text[: MAX_PARAM_LENGTH - 40] + " ... (truncated; see config.yaml)"
    return text


@contextlib.contextmanager
def store_errors(tracking_uri: str) -> Iterator[None]:
    """Turn the store's failures into one line that names the tracking URI."""
    try:
        yield
    except (MlflowException, OSError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise TrackingError(f"tracking_uri={tracking_uri!r} cannot be used: {reason}") from error


class Tracker:
    """Creates, fills and closes runs in one experiment of one tracking store."""

    def __init__(self, tracking_uri: str, experiment_name: str, *, existing_run_id: str | None = None):
        self.tracking_uri = tracking_uri
        with store_errors(self.tracking_uri):
            self.client = MlflowClient(tracking_uri=tracking_uri)
            if existing_run_id:
                self.experiment_id = self.client.get_run(existing_run_id).info.experiment_id
            else:
                experiment = self.client.get_experiment_by_name(experiment_name)
                self.experiment_id = (
                    experiment.experiment_id if experiment else self.client.create_experiment(experiment_name)
                )

    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, object],
        tags: Mapping[str, str],
        parent_run_id: str | None = None,
        existing_run_id: str | None = None,
    ) -> str:
        """A RUNNING run (a new one, or ``existing_run_id`` taken over) with params and tags set.

        An existing run may already hold params (``mlflow run`` logs its entry-point parameters):
        those keys are left as they are, since MLflow forbids changing a param.
        """
        all_tags = dict(tags)
        if parent_run_id:
            all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
        with store_errors(self.tracking_uri):
            if existing_run_id:
                run_id = existing_run_id
                present = set(self.client.get_run(run_id).data.params)
                batch_tags = {**all_tags, MLFLOW_RUN_NAME: name}
            else:
                run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
                run_id, present, batch_tags = run.info.run_id, set(), {}
            self.client.log_batch(
                run_id,
                params=[
                    Param(key, _param_text(value)) for key, value in params.items() if key not in present
                ],
                tags=[RunTag(key, value) for key, value in batch_tags.items()],
            )
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        timestamp = int(time.time() * 1000)
        with store_errors(self.tracking_uri):
            self.client.log_batch(
                run_id, metrics=[Metric(key, float(value), timestamp, 0) for key, value in metrics.items()]
            )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        with store_errors(self.tracking_uri):
            self.client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        """Close a run: FINISHED only for work that completed; FAILED or KILLED otherwise."""
        with store_errors(self.tracking_uri):
            self.client.set_terminated(run_id, status)

    @contextlib.contextmanager
    def closing(self, run_id: str) -> Iterator[None]:
        """Close ``run_id`` after the block: FINISHED if it completed, KILLED on Ctrl-C, FAILED otherwise."""
        try:
            yield
        except BaseException as error:
            self.finish(run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            raise
        self.finish(run_id)

    def log_table(self, run_id: str, columns: Mapping[str, list], artifact_file: str) -> None:
        """A table as MLflow's JSON table artifact, which the UI shows as a table."""
        with store_errors(self.tracking_uri), warnings.catch_warnings():
            # mlflow's own select_dtypes call, deprecated in pandas 3; nothing we pass can avoid it
            warnings.filterwarnings("ignore", message="For backward compatibility, 'str' dtypes")
            self.client.log_table(run_id, dict(columns), artifact_file)

    def log_figure(self, run_id: str, figure: object, artifact_file: str) -> None:
        """A matplotlib figure as an image artifact."""
        with store_errors(self.tracking_uri):
            self.client.log_figure(run_id, figure, artifact_file)


def _stored(run) -> dict:
    """A run as plain values (the keys of :meth:`RunReader.search`), free of MLflow's entities."""
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "name": run.info.run_name or "",
        "status": run.info.status,
        "start_time": run.info.start_time or 0,
        "tags": dict(run.data.tags),
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
    }


class RunReader:
    """Reads runs back from one tracking store; never creates anything (the read side of Tracker)."""

    PAGE_SIZE = 10_000

    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri
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

    def search(self, experiment_ids: list[str], filter_string: str = "") -> list[dict]:
        """Every active run of ``experiment_ids`` matching ``filter_string`` (MLflow's search syntax).

        Each run is a dict: run_id, experiment_id, name, status, start_time (ms), tags, params, metrics.
        """
        found, token = [], None
        with store_errors(self.tracking_uri):
            while True:
                page = self.client.search_runs(
                    experiment_ids, filter_string, max_results=self.PAGE_SIZE, page_token=token
                )
                found.extend(_stored(run) for run in page)
                token = page.token
                if not token:
                    return found

    def get(self, run_id: str) -> dict | None:
        """The run with this id, or None when there is none."""
        with store_errors(self.tracking_uri):
            try:
                return _stored(self.client.get_run(run_id))
            except MlflowException as error:
                if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise
