"""Hydra callbacks: what a multirun does once, in the launching process, before its jobs start and
after they end."""

from __future__ import annotations

import logging
import os
from typing import Any, cast

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..runtime.lifetime import imports_done
from ..runtime.signals import launch_in_workers
from ..runtime.user_errors import exit_in_one_line
from ..tracking.errors import USER_ERRORS
from . import multirun_folder
from .config import resolve_tracking_uri

log = logging.getLogger(__name__)


class CreateExperiment(Callback):
    """Create the tracking store's tables and the experiment before parallel jobs race to do it.

    Under ``mlflow run`` the launched run fixes the experiment, so there is nothing to create.
    A swept ``experiment`` or ``tracking_uri`` is created by each job instead (race-safe, only
    slower on a brand-new sqlite file).
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        imports_done()  # a multirun's launching process waits on its jobs, or runs them, with the collector on
        if os.environ.get("MLFLOW_RUN_ID"):
            return
        experiment = config.get("experiment")
        if not isinstance(experiment, str) or not experiment.strip():
            return  # the jobs report the bad value, one line each
        from ..tracking.tracker import Tracker  # MLflow: only once a multirun starts

        with exit_in_one_line(USER_ERRORS):
            Tracker(resolve_tracking_uri(config.get("tracking_uri")), experiment)


class RemoveOwnMultirunFolder(Callback):
    """With ``outputs=none`` (conf/outputs/) no Hydra folder outlives a multirun: the folder Hydra keeps
    the multirun's record in is created here, marked, and removed at the end. A ``hydra.sweep.dir``
    that exists already (a user's folder) is not this project's and is left as it is."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.runtime.choices.get("outputs") == "none":
            multirun_folder.claim(str(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.runtime.choices.get("outputs") == "none":
            multirun_folder.remove_if_own(str(config.hydra.sweep.dir))


# What a worker process's command line holds, per launcher whose jobs run in worker processes.
LOKY_WORKER = "popen_loky_posix"  # joblib's loky: python -m joblib.externals.loky.backend.popen_loky_posix
RAY_WORKER = "ray::_run_job"  # a Ray worker's process title while it runs a Hydra job


class StopWorkersOnSignal(Callback):
    """Ctrl-C or SIGTERM to a multirun whose jobs run in worker processes (joblib, a local Ray) reaches
    the workers, which close their runs KILLED before the multirun ends with one line
    (runtime.signals.launch_in_workers). Ray is started here, before the launcher would start it, so
    that this process's handlers replace the ones ``ray.init`` installs (which end the process at once)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        launcher = config.hydra.launcher
        target = str(launcher.get("_target_", ""))
        if "hydra_joblib_launcher" in target:
            launch_in_workers(LOKY_WORKER, start_resource_trackers)
        elif target == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher":
            launch_in_workers(RAY_WORKER, lambda: start_ray(launcher.ray.init))


def start_resource_trackers() -> None:
    """loky's and multiprocessing's resource trackers, which joblib would start later: each unblocks
    Ctrl-C and SIGTERM in the thread that starts it (it blocks them around its own start), and the
    loky workers started after that would die of a signal to the process group while idle."""
    from multiprocessing import resource_tracker

    from joblib.externals.loky.backend import resource_tracker as loky_resource_tracker

    loky_resource_tracker.ensure_running()
    resource_tracker.ensure_running()


# The launcher's own default (hydra_ray_launcher._core.launch), for the Ray started here.
RAY_OBJECT_STORE_BYTES = 78643200


def start_ray(init: DictConfig) -> None:
    """``ray.init`` with the Ray launcher's settings, as the launcher would call it, its lines logged
    as it logs them (Ray's public API: the launcher's own function is private to it)."""
    import ray

    if ray.is_initialized():
        log.info("Ray is already running.")
        return
    # a DictConfig's container is a dict, and a dict makes a DictConfig
    settings = OmegaConf.create(cast("dict[str, Any]", OmegaConf.to_container(init, resolve=True)))
    settings.setdefault("object_store_memory", RAY_OBJECT_STORE_BYTES)
    log.info(f"Initializing ray with config: {settings}")
    ray.init(**cast("dict[str, Any]", OmegaConf.to_container(settings, resolve=True)))
