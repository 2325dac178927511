"""MLflow, and only here: runs for cells and sweeps, logged with as few round-trips as it allows."""

from __future__ import annotations

import contextlib
import time
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


class Tracker:
    """Creates, fills and closes runs in one experiment of one tracking store."""

    def __init__(self, tracking_uri: str, experiment_name: str, *, existing_run_id: str | None = None):
        self.tracking_uri = tracking_uri
        with self._store_errors():
            self.client = MlflowClient(tracking_uri=tracking_uri)
            if existing_run_id:
                self.experiment_id = self.client.get_run(existing_run_id).info.experiment_id
            else:
                experiment = self.client.get_experiment_by_name(experiment_name)
                self.experiment_id = (
                    experiment.experiment_id if experiment else self.client.create_experiment(experiment_name)
                )

    @contextlib.contextmanager
    def _store_errors(self) -> Iterator[None]:
        """Turn the store's failures into one line that names the tracking URI."""
        try:
            yield
        except (MlflowException, OSError) as error:
            lines = str(error).strip().splitlines()
            reason = lines[0] if lines else type(error).__name__
            raise TrackingError(f"tracking_uri={self.tracking_uri!r} cannot be used: {reason}") from error

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
        with self._store_errors():
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
        with self._store_errors():
            self.client.log_batch(
                run_id, metrics=[Metric(key, float(value), timestamp, 0) for key, value in metrics.items()]
            )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        with self._store_errors():
            self.client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        """Close a run: FINISHED only for work that completed; FAILED or KILLED otherwise."""
        with self._store_errors():
            self.client.set_terminated(run_id, status)
