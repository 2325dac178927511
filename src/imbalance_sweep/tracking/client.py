"""MLflow, and only here: runs for cells and sweeps, logged with as few round-trips as it allows."""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..runtime.signals import close_interrupted, interrupts_deferred
from .errors import TrackingError
from .runs import FAILED, FINISHED, KILLED, RUNNING, StoredRun
from .sqlite_file import create_store, refusal, sqlite_path, store_lock
from .tags import EXPERIMENT_KIND_TAG, MLFLOW_PARENT_TAG, NOTE_TAG, RUN_NAME_TAG, TRAINING_EXPERIMENT
from .where import is_server, tag_filter

# MLflow refuses longer parameter values; the full grid is in the sweep's config.yaml artifact.
MAX_PARAM_LENGTH = 6000
# sqlite answers a write it cannot take with "database is locked" (an MlflowException with
# error_code TEMPORARILY_UNAVAILABLE in mlflow 3.17.2, after its own 20 s busy timeout, or at once
# when two transactions both want to write): such a write is retried, with exponential backoff.
LOCKED_MESSAGE = "database is locked"
WRITE_ATTEMPTS = 8
FIRST_BACKOFF_SECONDS = 0.05
# After Ctrl-C or SIGTERM a person (or a scheduler's grace period) waits: a run at work is closed
# KILLED with this many tries, not WRITE_ATTEMPTS (each may wait out the busy timeout).
CLOSING_ATTEMPTS = 2


def _quiet_store_creation() -> None:
    """MLflow announces a new sqlite store's tables at INFO ("Creating initial MLflow database
    tables..."): not news a user of this project needs; its warnings still show."""
    import logging

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


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


@contextlib.contextmanager
def store_errors(tracking_uri: str) -> Iterator[None]:
    """Turn the store's failures into one line that names the tracking URI."""
    try:
        yield
    except (MlflowException, OSError, sqlalchemy.exc.SQLAlchemyError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        mismatch = _schema_mismatch(tracking_uri, str(error))
        if mismatch:
            raise TrackingError(mismatch) from error
        code = getattr(error, "error_code", None)
        if code == "UNAUTHENTICATED" or "error code 401" in reason:
            raise TrackingError(
                f"tracking_uri={tracking_uri!r} cannot be used: the server refused the credentials (HTTP 401); "
                "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (python -m imbalance_sweep.server "
                "start prints the admin's)"
            ) from error
        if code == "PERMISSION_DENIED" or "error code 403" in reason:
            raise TrackingError(
                f"tracking_uri={tracking_uri!r} refused a request: user "
                f"{os.environ.get('MLFLOW_TRACKING_USERNAME', '(none)')!r} lacks the permission (HTTP 403); "
                "the server's admin grants it"
            ) from error
        if getattr(error, "error_code", None) == "INVALID_PARAMETER_VALUE":
            # the store answered, and refused what was asked (a search, a value): the store is fine
            raise TrackingError(f"tracking_uri={tracking_uri!r} refused a request: {reason}") from error
        raise TrackingError(f"tracking_uri={tracking_uri!r} cannot be used: {reason}") from error


def retry_when_locked(call: Callable, *args, attempts: int = WRITE_ATTEMPTS, **kwargs):
    """``call(*args, **kwargs)``, tried again while sqlite says the database is locked.

    At most ``attempts`` tries, waiting FIRST_BACKOFF_SECONDS x 2^attempt, times 1 to 2 at random
    so that writers that collided do not collide again. A locked write was rolled back, so trying
    it again cannot log anything twice.
    """
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except MlflowException as error:
            if LOCKED_MESSAGE not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(FIRST_BACKOFF_SECONDS * 2**attempt * (1 + random.random()))


def _held(call: Callable) -> Callable:
    """``call`` with Ctrl-C and SIGTERM held until it returns (``runtime.signals``): a database write cut
    by the signal would keep its lock from the writes that close the runs KILLED."""

    def held(*args, **kwargs):
        with interrupts_deferred():
            return call(*args, **kwargs)

    return held


class RetryingClient:
    """An MlflowClient whose every call goes through :func:`retry_when_locked`; on a database store
    (``hold_interrupts``) each try holds Ctrl-C and SIGTERM until it returns, not the backoff
    between tries. A tracking server's requests are not held: the server keeps its own
    transactions whole, and a hung request must not keep Ctrl-C waiting."""

    def __init__(self, client: MlflowClient, *, hold_interrupts: bool):
        self._client = client
        self._hold_interrupts = hold_interrupts

    @classmethod
    def of(cls, tracking_uri: str) -> RetryingClient:
        return cls(MlflowClient(tracking_uri=tracking_uri), hold_interrupts=not is_server(tracking_uri))

    def _method(self, name: str):
        method = getattr(self._client, name)
        return _held(method) if self._hold_interrupts and callable(method) else method

    def __getattr__(self, name: str):
        method = self._method(name)
        if not callable(method):
            return method
        return lambda *args, **kwargs: retry_when_locked(method, *args, **kwargs)

    def tried(self, attempts: int, name: str, *args, **kwargs):
        """The client's method ``name``, tried at most ``attempts`` times."""
        return retry_when_locked(self._method(name), *args, attempts=attempts, **kwargs)


# sqlite's default commit waits for the disk twice (synchronous=FULL, rollback journal): on a busy
# disk that is most of a cell's time. In WAL mode with synchronous=NORMAL a commit only appends to
# the log; the disk is synced at checkpoints. A killed process loses nothing and a power cut at most
# the last commits, never the file's consistency (and a resumed sweep re-runs any cell not FINISHED).
_FAST_COMMIT_DATABASES: set[str] = set()


@sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, "connect")
def _commit_without_waiting_for_the_disk(connection, _record) -> None:
    if not isinstance(connection, sqlite3.Connection):
        return
    database = connection.execute("PRAGMA database_list").fetchone()[2]
    if os.path.realpath(database) not in _FAST_COMMIT_DATABASES:
        return
    with contextlib.suppress(sqlite3.OperationalError):  # another writer busy: stays as it was, still correct
        connection.execute("PRAGMA journal_mode=WAL")  # kept in the file: a no-op once set
    connection.execute("PRAGMA synchronous=NORMAL")


def commit_fast(tracking_uri: str) -> None:
    """Let this process's connections to a sqlite store commit in WAL mode (above)."""
    database = sqlite_path(tracking_uri)
    if database is not None:
        _FAST_COMMIT_DATABASES.add(os.path.realpath(database))


def prepare_sqlite_store(tracking_uri: str) -> None:
    """A sqlite store that is whole, and MLflow's, before anything uses it.

    A missing file is created whole or not at all, under :func:`store_lock`: a copy of the installed
    MLflow's new store, made in a temporary file beside it and linked into place
    (:func:`sqlite_file.create_store`; MLflow's own migrations, killed part-way, left a file no later
    run could open). An existing file, or one that appeared meanwhile, is judged read-only first
    (:func:`sqlite_file.refusal`: empty, not sqlite, truncated, damaged, another application's, or
    one this user cannot write): such a file stops with one line naming it and what to do, and is
    left as it was.
    """
    database = sqlite_path(tracking_uri)
    if database is None:
        return
    if not database.exists():
        with store_errors(tracking_uri):
            database.parent.mkdir(parents=True, exist_ok=True)  # as MLflow would
            with store_lock(database):
                if not database.exists() and create_store(database):
                    return
    with store_errors(tracking_uri):
        problem = refusal(database)
    if problem:
        raise TrackingError(f"tracking_uri={tracking_uri!r} cannot be used: {database} {problem}")


SCHEMA_MISMATCH = re.compile(
    r"Detected out-of-date database schema \(found version (\S+), but expected (\S+)\)"
)


def _schema_mismatch(tracking_uri: str, message: str) -> str | None:
    """MLflow's words for a store of another MLflow version, as one line that says what to do."""
    found = SCHEMA_MISMATCH.search(message)
    if found is None:
        return None
    import mlflow

    return (
        f"tracking_uri={tracking_uri!r} cannot be used: its MLflow schema is revision {found.group(1)}, "
        f"mlflow {mlflow.__version__} (this project's) expects {found.group(2)}: a store of an older MLflow "
        f"upgrades with `mlflow db upgrade {tracking_uri}` (back it up first); one of a newer MLflow needs that MLflow"
    )


def ensure_experiment(client, experiment_name: str) -> str:
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
        return client.get_experiment_by_name(experiment_name).experiment_id


# How long the probe of a tracking server waits for an answer (less if MLFLOW_HTTP_REQUEST_TIMEOUT is).
PROBE_TIMEOUT_SECONDS = 10


def check_server_answers(tracking_uri: str) -> None:
    """Fail at once, with one line naming the URI, when an http(s) tracking server does not answer.

    Without it, MLflow's client retries a server that is down for minutes (MLFLOW_HTTP_REQUEST_MAX_RETRIES
    with exponential backoff) before the first call gives up. The probe is one GET of the server's
    ``/health``, never retried, with MLflow's own credentials and TLS settings. Any answer below 500 will
    do: the store's own calls report what else is wrong. Stores other than http(s) are not probed.
    """
    from urllib.parse import urlparse

    if urlparse(tracking_uri).scheme not in ("http", "https"):
        return
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    timeout = min(PROBE_TIMEOUT_SECONDS, MLFLOW_HTTP_REQUEST_TIMEOUT.get())
    url = tracking_uri.rstrip("/") + "/health"
    try:
        response = http_request(
            get_default_host_creds(tracking_uri),
            "/health",
            "GET",
            max_retries=0,
            backoff_factor=0,
            timeout=timeout,
            raise_on_status=False,
        )
    except MlflowException as error:
        timed_out = "timeout" in str(error).lower()
        reason = f"no answer within {timeout} s" if timed_out else "no connection"
        cause: BaseException | None = error
        while cause is not None:  # the innermost socket error's own words, e.g. "Connection refused"
            if isinstance(cause, OSError) and cause.strerror and not timed_out:
                reason = cause.strerror[:1].lower() + cause.strerror[1:]
            cause = cause.__cause__ or cause.__context__
        raise TrackingError(
            f"tracking_uri={tracking_uri!r} cannot be used: no tracking server answers at {url} ({reason})"
        ) from error
    if response.status_code >= 500:
        raise TrackingError(
            f"tracking_uri={tracking_uri!r} cannot be used: {url} answers HTTP {response.status_code}"
        )


def _ready_store(tracking_uri: str) -> None:
    """What the write side and the read side both do before their first call: a server answers (or
    one line now), MLflow's store-creation notes are quiet, a sqlite file is whole and MLflow's (or
    made whole)."""
    check_server_answers(tracking_uri)
    _quiet_store_creation()
    prepare_sqlite_store(tracking_uri)


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
        _ready_store(tracking_uri)
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
            found = _search_all(
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
        from mlflow.data.dataset_source_registry import get_registered_sources
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.types.schema import ColSpec, Schema

        columns = dataset.get("columns")
        # MLflow builds its local-file source class at run time; take it from its registry (which
        # holds classes, though typed as instances)
        sources: list[Any] = get_registered_sources()
        local = next(source for source in sources if source._get_source_type() == "local")
        meta = MetaDataset(  # type: ignore[abstract]  # MLflow's own class, abstract in its annotations only
            local(str(dataset["path"])),
            name=str(dataset["name"]),
            digest=str(dataset["digest"]),
            schema=Schema([ColSpec("double", str(column)) for column in columns])
            if isinstance(columns, Mapping) and columns
            else None,
        )
        entry = DatasetInput(meta._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])
        with store_errors(self.tracking_uri):
            self.client.log_inputs(run_id, datasets=[entry])

    def finish(self, run_id: str, status: str = FINISHED, *, attempts: int = WRITE_ATTEMPTS) -> None:
        """Close a run: FINISHED only for work that completed; FAILED or KILLED otherwise."""
        with store_errors(self.tracking_uri):
            self.client.tried(attempts, "set_terminated", run_id, status)

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

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None
    ) -> None:
        """A local file as an artifact, in the folder ``artifact_path`` (None: at the top)."""
        with store_errors(self.tracking_uri):
            self.client.log_artifact(run_id, str(local_path), artifact_path)


def _search_all(
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
        _ready_store(tracking_uri)
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
            return _search_all(self.client, experiment_ids, filter_string)

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


def active_or_new_run(*, experiment: str | None = None, run_name: str | None = None) -> tuple[str, str, bool]:
    """``(run id, tracking URI, started here)`` of MLflow's active run (fluent API:
    ``mlflow.start_run``, autolog, ``mlflow run``'s MLFLOW_RUN_ID), else of one started now. A new
    run goes into ``experiment`` (created if missing) unless MLFLOW_RUN_ID names the run."""
    import mlflow

    tracking_uri = mlflow.get_tracking_uri()
    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id, tracking_uri, False
    _ready_store(tracking_uri)
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
