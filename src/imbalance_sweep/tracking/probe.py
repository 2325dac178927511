"""One GET of a tracking server's ``/health`` before the first call: a server that is down is one
line at once, not minutes of MLflow's retries."""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from .errors import TrackingError

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
