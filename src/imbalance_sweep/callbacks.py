"""Hydra callbacks: what a multirun does once, in the launching process, before its jobs start and
after they end."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .cli import exit_on_user_error
from .config import resolve_tracking_uri
from .tracking import Tracker


class CreateExperiment(Callback):
    """Create the tracking store's tables and the experiment before parallel jobs race to do it.

    Under ``mlflow run`` the launched run fixes the experiment, so there is nothing to create.
    A swept ``experiment`` or ``tracking_uri`` is created by each job instead (race-safe, only
    slower on a brand-new sqlite file). With ``outputs=none`` (conf/outputs/), the temporary folder
    Hydra kept the multirun's record in is removed at the end.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if os.environ.get("MLFLOW_RUN_ID"):
            return
        experiment = config.get("experiment")
        if not isinstance(experiment, str) or not experiment.strip():
            return  # the jobs report the bad value, one line each
        with exit_on_user_error():
            Tracker(resolve_tracking_uri(config.get("tracking_uri")), experiment)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.runtime.choices.get("outputs") != "none":
            return
        folder = Path(str(config.hydra.sweep.dir)).resolve()
        if folder.parent == Path(tempfile.gettempdir()).resolve() and folder.name.startswith(
            "imbalance-sweep-"
        ):
            shutil.rmtree(folder, ignore_errors=True)
