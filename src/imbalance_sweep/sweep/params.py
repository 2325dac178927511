"""A run's params: what a cell is and the settings its numbers depend on, and the settings of
a sweep's parent; canonical values (``100000``, not ``1e5``), so a search by param finds them.

A K-class cell's vectors (counts, accuracies, training counts, an error matrix) are JSON text
params while they fit MLflow's 6,000 characters (K = 10: a few hundred); a longer one's param says
so, and the cell's run holds them all as the artifact ``cell.json`` (:func:`k_cell_file`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..core.cell import Cell
from ..core.multiclass.cell import as_binary_cell
from ..core.thresholds import DEFAULT_THRESHOLD
from .config import SweepSpec
from .kgrid import KCellSpec

if TYPE_CHECKING:
    from .config import SweepCell

# MLflow's cap on a param's value (tracking.tracker.MAX_PARAM_LENGTH; the sweep layer imports no MLflow)
MAX_PARAM_TEXT = 6000
K_CELL_FILE = "cell.json"  # a K-class cell's vectors, when one is too long for a param
K_CELL_VECTORS = ("counts", "accuracies", "training_counts", "errors")

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


def cell_params(cell: SweepCell, spec: SweepSpec) -> dict[str, object]:
    """A cell run's params: what the cell is, and the settings its numbers depend on."""
    if isinstance(cell, KCellSpec):
        return k_cell_params(cell, spec)
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


def k_cell_vectors(cell: KCellSpec) -> dict[str, str]:
    """A K-class cell's vectors as JSON text (floats as repr writes them: exact), its error rule
    as its name."""
    errors = cell.errors if isinstance(cell.errors, str) else json.dumps(cell.errors, separators=(",", ":"))
    return {
        "counts": json.dumps(cell.counts, separators=(",", ":")),
        "accuracies": json.dumps(cell.accuracies, separators=(",", ":")),
        "training_counts": json.dumps(cell.training_counts, separators=(",", ":")),
        "errors": errors,
    }


def k_cell_file(cell: KCellSpec) -> str | None:
    """The text of ``cell.json`` (every vector), when some vector is too long for a param; else None."""
    vectors = k_cell_vectors(cell)
    if all(len(text) <= MAX_PARAM_TEXT for text in vectors.values()):
        return None
    return json.dumps(
        {key: json.loads(text) if text.startswith("[") else text for key, text in vectors.items()}
    )


def k_cell_params(cell: KCellSpec, spec: SweepSpec) -> dict[str, object]:
    """A K-class cell run's params: K, the validation prior's text, the model's name, its vectors
    (module docstring), then as a binary cell's (K = 2: its binary record's params, the replicate
    among them) or the replicate and the settings of the K-class values."""
    described: dict[str, object] = {"classes": cell.classes, "prior": cell.prior, "model": cell.model}
    for key, text in k_cell_vectors(cell).items():
        too_long = f"{cell.classes} classes, {len(text):,} characters: see the run's {K_CELL_FILE}"
        described[key] = text if len(text) <= MAX_PARAM_TEXT else too_long
    assert spec.multiclass is not None, "a K-class cell is a K-class sweep's"
    if spec.multiclass.binary:
        return {**described, **cell_params(as_binary_cell(cell.multiclass_cell()), spec)}
    settings = sweep_settings(spec)
    settings["losses"] = ",".join(settings["losses"])
    return {
        **described,
        "seed": settings.pop("seed"),
        "replicate": cell.replicate,
        **settings,
        "metrics.ece_bins": spec.metrics.ece_bins,
        **spec.multiclass.params(),
        **_k_file_params(cell, spec),  # nothing for a model given by its accuracies
    }


def _k_file_params(cell: KCellSpec, spec: SweepSpec) -> dict[str, object]:
    """A K-class predictions file's cell: the file it evaluates (its accuracies are the file's)."""
    if cell.digest is None:
        return {}
    return spec.class_files[cell.model].file_params("model")


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
    params: dict[str, object] = {"grid": grid.get("name"), "n_cells": len(spec.cells)}
    if spec.multiclass is not None:
        params["grid.classes"] = spec.multiclass.classes
    grid_keys = (
        ("validation", "models", "seeds")
        if spec.multiclass
        else ("balances", "models", "acc_0s", "acc_1s", "seeds")
    )
    for key in grid_keys:
        if grid.get(key) is not None:
            params[f"grid.{key}"] = str(grid[key]).replace(" ", "")
    common = cell_params(spec.cells[0], spec)
    for key in SWEEP_SETTINGS:
        params[key] = common[key]
    if spec.k_classes:
        assert spec.multiclass is not None
        return {**params, "metrics.ece_bins": spec.metrics.ece_bins, **spec.multiclass.params()}
    params.update(_threshold_params(spec))
    params.update(_bootstrap_params(spec))
    params.update(_metrics_params(spec))
    params.update(spec.score_model.params())
    return params
