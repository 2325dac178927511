"""The Hydra entry point: compose and validate the config, run the cells, hand results to MLflow."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .cli import exit_on_user_error
from .runtime.lifetime import imports_done
from .runtime.signals import run_job
from .sweep.config import CONFIG_DIR, SweepSpec, sweep_spec
from .sweep.plan import dry_run_lines, size_line
from .tracking.tags import Role
from .tracking.views import headline_columns
from .tracking.where import cells_url, headline_table, summary_lines, sweeps_url

if TYPE_CHECKING:
    from .sweep.runner import SweepOutcome

log = logging.getLogger(__name__)

# Sweeps up to this many cells end with a table of each cell's headline values.
TABLE_MAX_CELLS = 20


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _job_label() -> str:
    """This multirun job's values of the swept keys (``seed=1``): they follow the grid's name in
    the default sweep_name, so that each job of ``-m seed=0,1`` is its own sweep."""
    from .sweep.overrides import SWEPT_KEYS_ENV, job_label

    swept = [key for key in os.environ.get(SWEPT_KEYS_ENV, "").split(",") if key]
    return job_label(list(HydraConfig.get().overrides.task), swept)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(config: DictConfig) -> None:
    """Run the configured sweep; a user's mistake ends with one line on stderr and exit code 2.
    Ctrl-C and SIGTERM close its runs KILLED, in a launcher's worker process too (joblib, Ray)."""
    run_job(lambda: _run_configured(config))


def _run_configured(config: DictConfig) -> None:
    with exit_on_user_error():
        # a composed config is a DictConfig: its container is a dict with string keys
        spec = sweep_spec(
            cast("dict[str, Any]", OmegaConf.to_container(config, resolve=True)),
            job_overrides=_job_label() if _is_multirun() else "",
        )
        if spec.dry_run:
            print("\n".join(dry_run_lines(spec)))
            return
        log.info(size_line(spec))
        # Under `mlflow run`, its run is this sweep's top run; in a Hydra multirun each job's
        # sweep nests under it instead.
        launched_run = os.environ.get("MLFLOW_RUN_ID") or None
        nested = _is_multirun()
        outcome = execute_sweep(
            spec,
            config_text=OmegaConf.to_yaml(config, resolve=True),
            existing_run_id=None if nested else launched_run,
            parent_run_id=launched_run if nested else None,
        )
        print("\n".join(closing_lines(spec, outcome)), flush=True)


def execute_sweep(
    spec: SweepSpec,
    *,
    config_text: str = "",
    existing_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> SweepOutcome:
    """Run a sweep (sweep/runner.py) with its report and answer as ``analysis`` draws them
    (analysis/parent_page.py): the sweep layer imports no analysis, so this door hands them in."""
    # MLflow and the analysis: about a second a mistake or a dry run skips
    from .analysis.parent_page import REPORT_AND_ANSWER
    from .sweep import runner

    imports_done()
    return runner.execute_sweep(
        spec,
        page=REPORT_AND_ANSWER,
        config_text=config_text,
        existing_run_id=existing_run_id,
        parent_run_id=parent_run_id,
    )


def run_sweep(
    spec: SweepSpec,
    *,
    config_text: str = "",
    existing_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> str:
    """Run a sweep (:func:`execute_sweep`) and return the id of the run that holds its cells."""
    outcome = execute_sweep(
        spec, config_text=config_text, existing_run_id=existing_run_id, parent_run_id=parent_run_id
    )
    return outcome.run_id


def closing_lines(spec: SweepSpec, outcome: SweepOutcome) -> list[str]:
    """What a sweep prints at its end: what ran, where it is, how to look, and (for a small sweep)
    each cell's headline values."""
    uri, experiment = spec.tracking_uri, outcome.experiment_id
    if outcome.role == Role.CELL:
        what = f"cell of sweep {outcome.name!r}"
        done = "computed" if outcome.n_computed else "already FINISHED, not computed again"
        lines = [f"{outcome.name}: 1 cell, {done}"]
        links = {}
    else:
        cells = f"{outcome.n_cells} cell{'s' if outcome.n_cells != 1 else ''}"
        what = f"sweep {outcome.name!r}, {cells}"
        lines = [
            f"{outcome.name}: {cells}; {outcome.n_computed} computed now, "
            f"{outcome.n_already} already FINISHED"
        ]
        links = {"cells": cells_url(uri, experiment, outcome.run_id), "sweeps": sweeps_url(uri, experiment)}
    if outcome.launch_run_id and outcome.launch_run_id != outcome.run_id:
        lines.append(
            f"this mlflow run ({outcome.launch_run_id}) continued run {outcome.run_id}, which holds the cells"
        )
    lines += summary_lines(
        uri,
        experiment_name=outcome.experiment_name,
        experiment_id=experiment,
        run_id=outcome.run_id,
        what=what,
        links=links,
    )
    if outcome.rows and len(outcome.rows) <= TABLE_MAX_CELLS:
        lines += [
            "",
            headline_table(
                outcome.rows, headline_columns(spec.losses, outcome.rows, k_classes=spec.k_classes)
            ),
        ]
    return lines
