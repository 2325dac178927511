"""A command that `mlflow run` launched and that refused its input: MLflow marks the run it made
FAILED; this gives that run the reason, so that nobody finds a failed run with nothing on it."""

from __future__ import annotations

import logging
import os

from .tags import NOTE_TAG, REFUSED_TAG

# A tag's value is at most 8,000 characters in MLflow 3.17's stores.
MAX_TAG_CHARS = 8000


def record_refusal(line: str) -> None:
    """Tag the launched run (``MLFLOW_RUN_ID``) with ``line`` and describe it as refused.

    One quick try: no retries, a short timeout, MLflow's logging silenced. The line is printed
    whatever happens here, so a store that will not take the tag costs nothing more."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "5"
    logging.getLogger("mlflow").setLevel(logging.CRITICAL)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import SQLAlchemyError

    try:
        client = MlflowClient(os.environ.get("MLFLOW_TRACKING_URI"))
        client.set_tag(run_id, REFUSED_TAG, line[:MAX_TAG_CHARS])
        client.set_tag(run_id, NOTE_TAG, f"Refused, nothing computed: {line}"[:MAX_TAG_CHARS])
    except (MlflowException, SQLAlchemyError, OSError):
        pass  # the printed line still says why
