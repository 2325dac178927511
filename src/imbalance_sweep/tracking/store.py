"""What every use of a store does before its first call (Tracker, RunReader, the Keras panel's run)."""

from __future__ import annotations

from .probe import check_server_answers
from .sqlite_store import prepare_sqlite_store


def _quiet_store_creation() -> None:
    """MLflow announces a new sqlite store's tables at INFO ("Creating initial MLflow database
    tables..."): not news a user of this project needs; its warnings still show."""
    import logging

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def ready_store(tracking_uri: str) -> None:
    """What the write side and the read side both do before their first call: a server answers (or
    one line now), MLflow's store-creation notes are quiet, a sqlite file is whole and MLflow's (or
    made whole)."""
    check_server_answers(tracking_uri)
    _quiet_store_creation()
    prepare_sqlite_store(tracking_uri)
