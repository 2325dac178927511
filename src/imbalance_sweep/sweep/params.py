"""A run's params: what a cell is and the settings its numbers depend on, and the settings of
a sweep's parent; canonical values (``100000``, not ``1e5``), so a search by param finds them."""

from __future__ import annotations

from typing import Any

from ..core.cell import Cell
from ..core.thresholds import DEFAULT_THRESHOLD
from .config import SweepSpec

# The settings a cell's numbers depend on besides the cell itself: every run's params, the sweep
# key (identity.py) and the differences compare reports between two sweeps all take these.
SWEEP_SETTINGS = ("seed", "backend", "mode", "losses", "focal.alpha", "focal.gamma", "chunk_size")


def sweep_settings(spec: SweepSpec) -> dict[str, Any]:
    """The values of :data:`SWEEP_SETTINGS`, as the spec holds them (``losses`` a tuple)."""
    values = {
        "seed": spec.seed,
        "backend": spec.backend,
        "mode": spec.mode,
        "losses": tuple(spec.losses),
        "focal.alpha": spec.alpha,
        "focal.gamma": spec.gamma,
        "chunk_size": spec.chunk_size,
    }
    assert tuple(values) == SWEEP_SETTINGS
    return values


def cell_params(cell: Cell, spec: SweepSpec) -> dict[str, object]:
    """A cell run's params: what the cell is, and the settings its numbers depend on."""
    settings = sweep_settings(spec)
    settings["losses"] = ",".join(settings["losses"])
    return {
        "num_0s": cell.num_0s,
        "num_1s": cell.num_1s,
        "acc_0s": cell.acc_0s,
        "acc_1s": cell.acc_1s,
        "prevalence": cell.prevalence,
        "seed": settings.pop("seed"),
        "replicate": cell.replicate,
        **settings,  # backend, mode, losses, focal.alpha, focal.gamma, chunk_size: the order runs always had
        "threshold": cell.threshold,  # 0.5, another number, or best:<metric>
        **_bootstrap_params(spec),  # nothing unless asked for
        **_metrics_params(spec),
        **spec.score_model.params(),  # nothing for the uniform model
        **_file_params(cell, spec),  # nothing for a model given by its accuracies
    }


def _bootstrap_params(spec: SweepSpec) -> dict[str, object]:
    if not spec.bootstrap_replicates:
        return {}
    return {"bootstrap.replicates": spec.bootstrap_replicates, "bootstrap.level": spec.bootstrap_level}


def _metrics_params(spec: SweepSpec) -> dict[str, object]:
    """The settings of fbeta, precision_at_recall and ece, which every run's values depend on."""
    return {f"metrics.{key}": value for key, value in vars(spec.metrics).items()}


def _threshold_params(spec: SweepSpec) -> dict[str, object]:
    """The parent's thresholds, when not the post's 0.5 alone: ``grid.thresholds`` (canonical values)
    for an axis, else ``threshold``. The cells' own ``threshold`` param says where each is cut."""
    if spec.thresholds == (DEFAULT_THRESHOLD,):
        return {}
    if spec.grid.get("thresholds") is not None:
        return {"grid.thresholds": f"[{','.join(str(threshold) for threshold in spec.thresholds)}]"}
    return {"threshold": spec.thresholds[0]}


def _file_params(cell: Cell, spec: SweepSpec) -> dict[str, object]:
    """A predictions file's cell: the model's name and the file it evaluates."""
    if cell.model is None:
        return {}
    return {"model": cell.model, **spec.file_models[cell.model].file_params("model")}


def sweep_params(spec: SweepSpec) -> dict[str, object]:
    """The parent run's params: the grid's shape and the settings shared by all its cells."""
    grid = spec.grid
    params = {"grid": grid.get("name"), "n_cells": len(spec.cells)}
    for key in ("balances", "models", "acc_0s", "acc_1s", "seeds"):
        if grid.get(key) is not None:
            params[f"grid.{key}"] = str(grid[key]).replace(" ", "")
    common = cell_params(spec.cells[0], spec)
    for key in SWEEP_SETTINGS:
        params[key] = common[key]
    params.update(_threshold_params(spec))
    params.update(_bootstrap_params(spec))
    params.update(_metrics_params(spec))
    params.update(spec.score_model.params())
    return params
