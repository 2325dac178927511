"""A run's params: what a cell is and the settings its numbers depend on, and the settings of
a sweep's parent; canonical values (``100000``, not ``1e5``), so a search by param finds them."""

from __future__ import annotations

from ..core.cell import Cell
from .config import SweepSpec


def cell_params(cell: Cell, spec: SweepSpec) -> dict[str, object]:
    """A cell run's params: what the cell is, and the settings its numbers depend on."""
    return {
        "num_0s": cell.num_0s,
        "num_1s": cell.num_1s,
        "acc_0s": cell.acc_0s,
        "acc_1s": cell.acc_1s,
        "prevalence": cell.prevalence,
        "seed": spec.seed,
        "replicate": cell.replicate,
        "backend": spec.backend,
        "mode": spec.mode,
        "losses": ",".join(spec.losses),
        "focal.alpha": spec.alpha,
        "focal.gamma": spec.gamma,
        "chunk_size": spec.chunk_size,
        **_bootstrap_params(spec),  # nothing unless asked for
        **spec.score_model.params(),  # nothing for the uniform model
        **_file_params(cell, spec),  # nothing for a model given by its accuracies
    }


def _bootstrap_params(spec: SweepSpec) -> dict[str, object]:
    if not spec.bootstrap_replicates:
        return {}
    return {"bootstrap.replicates": spec.bootstrap_replicates, "bootstrap.level": spec.bootstrap_level}


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
    for key in ("seed", "backend", "mode", "losses", "focal.alpha", "focal.gamma", "chunk_size"):
        params[key] = common[key]
    params.update(_bootstrap_params(spec))
    params.update(spec.score_model.params())
    return params
