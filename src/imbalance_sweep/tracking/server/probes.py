"""Whether something answers: a TCP port, MLflow's ``/health``, an authenticated read of the store;
and a port nothing listens on."""

from __future__ import annotations

import base64
import socket
import urllib.error
import urllib.parse
import urllib.request

from .layout import Settings


def port_answers(host: str | None, port: int) -> bool:
    """Something accepts TCP connections on host:port (no host: the local host)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for tests and for picking ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def answers_health(tracking_uri: str) -> bool:
    """The server at ``tracking_uri`` answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"{tracking_uri}/health", timeout=2.0) as response:
            healthy: bool = response.status == 200
            return healthy
    except (urllib.error.URLError, OSError):
        return False


def uri_host(settings: Settings) -> str | None:
    return urllib.parse.urlparse(settings.tracking_uri).hostname


def authenticated_status(settings: Settings, credentials: dict[str, str]) -> int | str:
    """The HTTP status of one authenticated read of the store (searching experiments), which
    /health does not make: it answers 200 only when the server reaches its PostgreSQL."""
    user = f"{credentials['MLFLOW_TRACKING_USERNAME']}:{credentials['MLFLOW_TRACKING_PASSWORD']}"
    request = urllib.request.Request(
        f"{settings.tracking_uri}/api/2.0/mlflow/experiments/search",
        data=b'{"max_results": 1}',
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(user.encode()).decode(),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10.0) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))
