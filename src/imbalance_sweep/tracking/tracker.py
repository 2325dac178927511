"""The write side of MLflow: runs for cells and sweeps in one experiment, created, filled and
closed with as few round-trips as MLflow allows."""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from ..runtime.signals import close_interrupted
from .errors import TrackingError
from .reader import search_all
from .retrying import WRITE_ATTEMPTS, RetryingClient
from .runs import FAILED, FINISHED, KILLED, RUNNING, StoredRun
from .sqlite_file import sqlite_path, store_lock
from .sqlite_store import commit_fast
from .store import ready_store
from .store_errors import store_errors
from .tags import EXPERIMENT_KIND_TAG, MLFLOW_PARENT_TAG, NOTE_TAG, RUN_NAME_TAG, TRAINING_EXPERIMENT
from .where import tag_filter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# MLflow refuses longer parameter values; the full grid is in the sweep's config.yaml artifact.
MAX_PARAM_LENGTH = 6000
# After Ctrl-C or SIGTERM a person (or a scheduler's grace period) waits: a run at work is closed
# KILLED with this many tries, not WRITE_ATTEMPTS (each may wait out the busy timeout).
CLOSING_ATTEMPTS = 2


def _quiet_run_links() -> None:
    """MLflow's client, closing a run on a tracking server, first fetches the whole run (one more
    round-trip, the dearest of a cell's: about 9 ms of the server's CPU) only to print two "View
    run/experiment" lines: 400 lines for a 200-cell sweep, whose own links the sweep prints once at
    the end. MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT (MLflow's own switch) turns both off; one set
    by the user is kept."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _param_text(value: object) -> str:
    text = str(value)
    if len(text) > MAX_PARAM_LENGTH:
        return text[: MAX_PARAM_LENGTH - 40] + " ... (truncated; see config.yaml)"
    return text


def _tag_texts(tags: Mapping[str, str]) -> dict[str, str]:
    """Tag values as plain text: a :class:`~.tags.Role` is stored as its string."""
    return {key: str(value) for key, value in tags.items()}


def ensure_experiment(client: RetryingClient, experiment_name: str) -> str:
    """The id of the experiment, created if missing; a writer that loses the race to create it
    takes the winner's. A new one carries MLflow's marker of a model-training experiment; the 3.17
    UI still opens it on its GenAI overview (it goes by ``workflowType``: see where.py's links)."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment:
        return experiment.experiment_id
    try:
        return client.create_experiment(experiment_name, tags={EXPERIMENT_KIND_TAG: TRAINING_EXPERIMENT})
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        winner = client.get_experiment_by_name(experiment_name)
        if winner is None:  # created and gone again at once: nothing to take
            raise
        return winner.experiment_id


@dataclass
class Closing:
    """What :meth:`Tracker.closing` does after a block that completed: FINISHED, or leave RUNNING."""

    finish: bool = True


class Tracker:
    """Creates, fills and closes runs in one experiment of one tracking store."""

    def __init__(self, tracking_uri: str, experiment_name: str, *, existing_run_id: str | None = None):
        self.tracking_uri = tracking_uri
        # params an adopted run already held when taken over: MLflow forbids logging them again
        self._adopted_params: dict[str, set[str]] = {}
        commit_fast(tracking_uri)
        _quiet_run_links()
        ready_store(tracking_uri)
        with store_errors(self.tracking_uri):
            self.client = RetryingClient.of(tracking_uri)
            if existing_run_id:
                self.experiment_id = self.client.get_run(existing_run_id).info.experiment_id
                self.experiment_name = self.client.get_experiment(self.experiment_id).name
            else:
                self.experiment_id = ensure_experiment(self.client, experiment_name)
                self.experiment_name = experiment_name

    def start_run(
        self,
        name: str,
        *,
        tags: Mapping[str, str],
        params: Mapping[str, object] | None = None,
        parent_run_id: str | None = None,
        existing_run_id: str | None = None,
    ) -> str:
        """A RUNNING run (a new one, or ``existing_run_id`` taken over) with its name and tags set.

        A new run costs one round-trip without ``params``: a cell logs its params with its
        metrics, in one :meth:`log` call, when it has them. An existing run may already hold
        params (``mlflow run`` logs its entry-point parameters): those keys are left as they
        are, here and in later :meth:`log` calls, since MLflow forbids changing a param.
        """
        all_tags = _tag_texts(tags)
        if parent_run_id:
            all_tags[MLFLOW_PARENT_TAG] = parent_run_id
        with store_errors(self.tracking_uri):
            if existing_run_id:
                run_id = existing_run_id
                self._adopted_params[run_id] = set(self.client.get_run(run_id).data.params)
                self.client.log_batch(
                    run_id,
                    tags=[RunTag(key, value) for key, value in {**all_tags, RUN_NAME_TAG: name}.items()],
                )
            else:
                run_id = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags).info.run_id
        if params:
            self.log(run_id, params=params)
        return run_id

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        metrics: Mapping[str, float] | None = None,
        step: int = 0,
    ) -> None:
        """Params and metrics (at ``step``) in one round-trip (params an adopted run already held
        are left out)."""
        present = self._adopted_params.get(run_id, set())
        timestamp = int(time.time() * 1000)
        with store_errors(self.tracking_uri):
            self.client.log_batch(
                run_id,
                params=[
                    Param(key, _param_text(value))
                    for key, value in (params or {}).items()
                    if key not in present
                ],
                metrics=[
                    Metric(key, float(value), timestamp, step) for key, value in (metrics or {}).items()
                ],
            )

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        self.log(run_id, metrics=metrics, step=step)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Tags in one round-trip (a tag, unlike a param, may change)."""
        with store_errors(self.tracking_uri):
            self.client.log_batch(
                run_id, tags=[RunTag(key, value) for key, value in _tag_texts(tags).items()]
            )

    def set_experiment_tag(self, key: str, value: str) -> None:
        """A tag on this experiment (the UI's prepared views live there: views.py)."""
        with store_errors(self.tracking_uri):
            self.client.set_experiment_tag(self.experiment_id, key, value)

    def run_tags(self, run_id: str) -> dict[str, str]:
        with store_errors(self.tracking_uri):
            return dict(self.client.get_run(run_id).data.tags)

    def get_note(self, run_id: str) -> str:
        """A run's description (MLflow's ``mlflow.note.content`` tag), empty when it has none."""
        return self.run_tags(run_id).get(NOTE_TAG, "")

    def reopen(self, run_id: str) -> None:
        """Mark a run RUNNING again: a resumed sweep is at work on it."""
        with store_errors(self.tracking_uri):
            self.client.update_run(run_id, status=RUNNING)

    def find_runs(self, tags: Mapping[str, str]) -> list[StoredRun]:
        """Active runs of this experiment with all of ``tags``, most recent first (as RunReader.search)."""
        filter_string = " and ".join(tag_filter(key, value) for key, value in tags.items())
        with store_errors(self.tracking_uri):
            found = search_all(
                self.client, [self.experiment_id], filter_string, order_by=["attributes.start_time DESC"]
            )
        # tag_filter may match a little more than asked (a value with both kinds of quotes): exactly these
        return [run for run in found if all(run.tags.get(key) == value for key, value in tags.items())]

    @property
    def exclusive_is_locked(self) -> bool:
        """Whether :meth:`exclusive` really excludes other processes (a local sqlite store)."""
        return sqlite_path(self.tracking_uri) is not None

    def delete_run(self, run_id: str) -> None:
        """Delete a run (MLflow keeps it, marked deleted: searches no longer find it)."""
        with store_errors(self.tracking_uri):
            self.client.delete_run(run_id)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One process at a time in the block, for find-or-create steps on a local sqlite store
        (:func:`store_lock`). Other stores get no lock (:func:`app.open_sweep` copes without one)."""
        database = sqlite_path(self.tracking_uri)
        if database is None:
            yield
            return
        with store_lock(database):
            yield

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        with store_errors(self.tracking_uri):
            self.client.log_text(run_id, text, artifact_file)

    def log_dataset(self, run_id: str, dataset: Mapping[str, object], context: str = "validation") -> None:
        """A local file as the run's input dataset (``mlflow.log_input``'s record): its ``name``,
        ``path`` and ``digest``, and ``columns`` (file column -> role) as its schema."""
        import json

        from mlflow.data.dataset_source_registry import get_dataset_source_from_json
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.types.schema import ColSpec, Schema

        columns = dataset.get("columns")
        # MLflow builds its local-file source class at run time: its registry makes one from the
        # JSON that such a source writes, {"uri": path}
        local = get_dataset_source_from_json(json.dumps({"uri": str(dataset["path"])}), source_type="local")
        meta = MetaDataset(  # type: ignore[abstract]  # MLflow's own class, abstract in its annotations only
            local,
            name=str(dataset["name"]),
            digest=str(dataset["digest"]),
            schema=Schema([ColSpec("double", str(column)) for column in columns])
            if isinstance(columns, Mapping) and columns
            else None,
        )
        # the entity MLflow stores, made from the dataset's public to_dict() as its private
        # _to_mlflow_entity() makes it
        entry = DatasetInput(Dataset(**meta.to_dict()), tags=[InputTag("mlflow.data.context", context)])
        with store_errors(self.tracking_uri):
            self.client.log_inputs(run_id, datasets=[entry])

    def finish(self, run_id: str, status: str = FINISHED, *, attempts: int = WRITE_ATTEMPTS) -> None:
        """Close a run: FINISHED only for work that completed; FAILED or KILLED otherwise."""
        with store_errors(self.tracking_uri):
            self.client.set_terminated(run_id, status, attempts=attempts)

    @contextlib.contextmanager
    def closing(self, run_id: str) -> Iterator[Closing]:
        """Close ``run_id`` after the block: FINISHED if it completed, KILLED on Ctrl-C, FAILED otherwise.

        A block that completed may set ``finish = False`` on what it gets, to leave the run RUNNING
        (a shard's sweep whose other shards are still at work).
        """
        closing = Closing()
        try:
            yield closing
        except KeyboardInterrupt as interrupted:
            self._close_interrupted(run_id, interrupted)
            raise
        except BaseException:
            self.finish(run_id, FAILED)
            raise
        if closing.finish:
            try:
                self.finish(run_id)
            except KeyboardInterrupt as interrupted:
                # Interrupted inside the FINISHED write (which may or may not have landed): KILLED
                # for sure, never left RUNNING; a resumed sweep computes the cell again.
                self._close_interrupted(run_id, interrupted)
                raise

    def _close_interrupted(self, run_id: str, interrupted: KeyboardInterrupt) -> None:
        """KILLED, in at most CLOSING_ATTEMPTS tries; a store that stays locked leaves the run
        RUNNING, named in the interruption's line (signals.close_interrupted)."""
        close_interrupted(
            interrupted,
            run_id,
            lambda run: self.finish(run, KILLED, attempts=CLOSING_ATTEMPTS),
            refused=TrackingError,
        )

    def log_table(self, run_id: str, columns: Mapping[str, list[Any]], artifact_file: str) -> None:
        """A table as MLflow's JSON table artifact, which the UI shows as a table."""
        with store_errors(self.tracking_uri), warnings.catch_warnings():
            # mlflow's own select_dtypes call, deprecated in pandas 3; nothing we pass can avoid it
            warnings.filterwarnings("ignore", message="For backward compatibility, 'str' dtypes")
            self.client.log_table(run_id, dict(columns), artifact_file)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """A file's bytes (a PNG made elsewhere) as the artifact ``artifact_file``, as MLflow's own
        ``log_figure`` and ``log_text`` store theirs: written to a temporary folder, then logged."""
        folder, name = posixpath.split(posixpath.normpath(artifact_file))
        with tempfile.TemporaryDirectory() as temporary:
            path = Path(temporary, name)
            path.write_bytes(data)
            self.log_artifact(run_id, path, folder or None)

    def log_figure(self, run_id: str, figure: Figure, artifact_file: str) -> None:
        """A matplotlib figure as an image artifact."""
        with store_errors(self.tracking_uri):
            self.client.log_figure(run_id, figure, artifact_file)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """A local file as an artifact, in the folder ``artifact_path`` (None: at the top)."""
        with store_errors(self.tracking_uri):
            self.client.log_artifact(run_id, str(local_path), artifact_path)
