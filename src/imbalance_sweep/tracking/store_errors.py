"""A store's failures as one line that names the tracking URI and what to do."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import sqlalchemy
from mlflow.exceptions import MlflowException

from .errors import TrackingError


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
