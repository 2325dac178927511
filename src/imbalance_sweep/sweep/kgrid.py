"""A K-class grid's config (conf/grid/long_tail.yaml) as validated cell specs: validation priors x
models x replicate seeds, each spec plain values for the K-class cell (counts, accuracies, training
counts, error spread, seed), each a cell of the sweep (sweep/config.py; docs/guides/k-classes.md).

The keys (each documented in long_tail.yaml; the profiles in docs/background/long-tail-profiles.md):

* ``classes``: K.
* ``validation``: a list of priors, each ``{profile: <name>, <setting>: ...}`` (core.multiclass.profiles)
  or a list of K counts.
* ``models``: a list of ``{name, train, accuracy, errors}``: ``train`` a count profile or K counts
  (default: each cell's validation counts), ``accuracy`` an accuracy profile, ``errors`` a rule name
  or a K x K matrix (default ``uniform``); or ``{name, train, confusion}``, a K x K confusion matrix
  that gives both the accuracies and the errors; or ``{name, file, train, label}``, a K-class
  predictions file (sweep/kfile_models.py: ``train`` default the file's class counts).
* ``seeds``: replicate seeds (default ``[0]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..core.checks import InvalidValue, clipped, whole_number
from ..core.multiclass.cell import MATRIX, MulticlassCell, make_multiclass_cell
from ..core.multiclass.file_model import ClassFileModel
from ..core.multiclass.profiles import (
    ERROR_RULES,
    checked_class_count,
    class_accuracies,
    class_counts,
    confusion_model,
    explicit_counts,
    spread_of_matrix,
)
from .config import checked_name
from .grid import MAX_CELLS
from .kfile_models import FILE_ERRORS, check_prior_rows, file_model, is_file_model

K_GRID_KEYS = ("name", "classes", "validation", "models", "seeds")
MODEL_KEYS = ("name", "train", "accuracy", "errors", "confusion", "file", "label")
DEFAULT_ERRORS = "uniform"

Matrix = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class KCellSpec:
    """One K-class cell's values, validated: what the K-class cell is built from."""

    counts: tuple[int, ...]  # the validation set's count of each class
    accuracies: tuple[float, ...]  # each class's accuracy, in [0, 1]
    training_counts: tuple[int, ...]  # the training counts: loss weights, bands, the frequency rules
    errors: str | Matrix  # a rule of ERROR_RULES, or the K x K spread (rows sum to 1, diagonal 0)
    seed: int  # the replicate seed
    model: str  # the model's name in the grid
    prior: str  # the validation prior as the grid gives it, e.g. "exponential ratio=100 largest=1000"
    # A predictions file's cell: the file's digest (its accuracies are the file's, its errors "file");
    # None for a model of the uniform score model
    digest: str | None = None

    @property
    def classes(self) -> int:
        return len(self.counts)

    @property
    def size(self) -> int:
        return sum(self.counts)

    @property
    def replicate(self) -> int:
        """The replicate seed, by the name a binary cell gives it (``Cell.replicate``)."""
        return self.seed

    @property
    def name(self) -> str:
        """A run's name: the model on the validation prior, e.g. ``even on balanced per_class=1000``,
        then ``rep=<seed>`` unless 0 (names need not be unique: the cell key is)."""
        text = f"{self.model} on {self.prior}"
        return text if self.seed == 0 else f"{text} rep={self.seed}"

    def multiclass_cell(self) -> MulticlassCell:
        """The K-class cell these values make (core/multiclass/cell.py), checked. An error matrix is
        already a spread (diagonal 0, rows summing to 1): the draw takes its rows' off-diagonal
        weights as they are, and the accuracies stay these (not re-derived from a diagonal). A
        predictions file's cell has none (core/multiclass/file_model.py draws it)."""
        if self.digest is not None:
            raise InvalidValue(
                f"the cell {self.name!r} is a predictions file's: it has no K-class uniform cell"
            )
        rule = self.errors if isinstance(self.errors, str) else "uniform"
        cell = make_multiclass_cell(
            self.counts,
            self.accuracies,
            spread=rule,
            training_counts=self.training_counts,
            replicate=self.seed,
        )
        if isinstance(self.errors, str):
            return cell
        matrix = tuple(tuple(Fraction(value) for value in row) for row in self.errors)
        return replace(cell, spread=MATRIX, matrix=matrix)


def is_k_grid(grid: Mapping[str, Any]) -> bool:
    """A grid of K classes (it sets ``classes``), not a binary one."""
    return "classes" in grid


@dataclass(frozen=True)
class KGrid:
    """A K-class grid's cells, and the predictions files its models name, by model name."""

    cells: tuple[KCellSpec, ...]
    files: Mapping[str, ClassFileModel] = field(default_factory=dict)


def k_grid_cells(
    grid: Any, *, where: str = "grid.", start_dir: str | os.PathLike[str] | None = None
) -> tuple[KCellSpec, ...]:
    """The cells of a K-class grid (a plain mapping, e.g. Hydra's composed ``grid`` as a container):
    validation x models x seeds in that nesting order, without repeats."""
    return k_grid(grid, where=where, start_dir=start_dir).cells


def k_grid(grid: Any, *, where: str = "grid.", start_dir: str | os.PathLike[str] | None = None) -> KGrid:
    """:func:`k_grid_cells`, and the grid's predictions files read (relative paths from ``start_dir``)."""
    if not isinstance(grid, Mapping):
        raise InvalidValue(
            f"{where.rstrip('.')}={clipped(repr(grid), quoted=False)} is not a K-class grid mapping"
        )
    unknown = sorted(set(grid) - set(K_GRID_KEYS))
    if unknown:
        raise InvalidValue(
            f"{where}{unknown[0]} is not a K-class grid key; its keys are: {', '.join(K_GRID_KEYS)}"
        )
    if "name" in grid:
        checked_name(f"{where}name", grid["name"])
    classes = checked_class_count(grid.get("classes"), where=where)
    priors = _entries(f"{where}validation", grid.get("validation"))
    models = _entries(f"{where}models", grid.get("models"))
    seeds = _entries(f"{where}seeds", [0] if grid.get("seeds") is None else grid["seeds"])
    cells = len(priors) * len(models) * len(seeds)
    if cells > MAX_CELLS:
        raise InvalidValue(
            f"{where.rstrip('.')}: {len(priors)} validation priors x {len(models)} models x {len(seeds)} "
            f"seeds = {cells} cells, more than a sweep takes (at most {MAX_CELLS}); split it"
        )
    replicates = [whole_number(f"{where}seeds[{k}]", seed) for k, seed in enumerate(seeds)]
    validation = [_prior(f"{where}validation[{i}]", entry, classes) for i, entry in enumerate(priors)]
    named = [_model_entry(f"{where}models[{j}]", entry, j) for j, entry in enumerate(models)]
    _distinct_names(where, named)
    files = {
        j: _file_model(f"{where}models[{j}]", entry, classes, start_dir)
        for j, entry in enumerate(named)
        if is_file_model(entry)
    }
    specs: dict[KCellSpec, None] = {}
    fixed_train = {
        j: _counts(f"{where}models[{j}].train", entry["train"], classes)
        for j, entry in enumerate(named)
        if entry.get("train") is not None
    }
    fixed_train |= {j: model.class_counts for j, model in files.items() if j not in fixed_train}
    for i, (counts, label) in enumerate(validation):
        for j, entry in enumerate(named):
            train = fixed_train.get(j, counts)
            digest: str | None = None
            errors: str | Matrix
            if j in files:
                check_prior_rows(f"{where}validation[{i}]", counts, f"{where}models[{j}]", files[j])
                accuracies, errors, digest = files[j].accuracies, FILE_ERRORS, files[j].digest
            else:
                accuracies, errors = _model(f"{where}models[{j}]", entry, train)
            for seed in replicates:
                spec = KCellSpec(counts, accuracies, train, errors, seed, entry["name"], label, digest)
                specs[spec] = None
    return KGrid(tuple(specs), {named[j]["name"]: model for j, model in files.items()})


def _file_model(
    name: str, entry: Mapping[str, Any], classes: int, start_dir: str | os.PathLike[str] | None
) -> ClassFileModel:
    """A file model of a K-class grid (not of K = 2: those cells are binary ones)."""
    if classes == 2:
        raise InvalidValue(
            f"{name}.file: a K-class predictions file on a grid of classes=2 runs as a binary file; give it "
            "to a binary grid instead, e.g. grid=single 'grid.models=[{path: preds.csv, score: score_1}]'"
        )
    return file_model(name, entry, classes, start_dir=start_dir)


def _entries(name: str, values: Any) -> list[Any]:
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)) or not values:
        raise InvalidValue(f"{name}={clipped(repr(values), quoted=False)} must be a non-empty list")
    return list(values)


def _settings(name: str, entry: Any, *, or_else: str = "") -> tuple[Any, dict[str, Any]]:
    """A profile entry ``{profile: <name>, ...}`` as (profile, its settings); ``or_else``: what
    else the key takes, for the message."""
    if not isinstance(entry, Mapping) or "profile" not in entry:
        raise InvalidValue(
            f"{name}={clipped(repr(entry), quoted=False)} must be {{profile: <name>, <setting>: ...}}{or_else}"
        )
    settings = {str(key): value for key, value in entry.items() if key != "profile"}
    return entry["profile"], settings


def _counts(name: str, entry: Any, classes: int) -> tuple[int, ...]:
    """A count profile entry, or K counts as a list."""
    if isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)):
        return tuple(explicit_counts(classes, entry, name=name).tolist())
    profile, settings = _settings(name, entry, or_else=" or a list of counts")
    return tuple(class_counts(profile, classes, where=f"{name}.", **settings).tolist())


def _prior(name: str, entry: Any, classes: int) -> tuple[tuple[int, ...], str]:
    """A validation prior's counts and its label."""
    counts = _counts(name, entry, classes)
    if isinstance(entry, Mapping):
        settings = " ".join(f"{key}={value}" for key, value in entry.items() if key != "profile")
        return counts, f"{entry['profile']} {settings}".strip()
    return counts, "explicit"


def _model_entry(name: str, entry: Any, index: int) -> dict[str, Any]:
    """A model's mapping, its keys checked, its name given or ``model_<j>``."""
    if not isinstance(entry, Mapping):
        raise InvalidValue(
            f"{name}={clipped(repr(entry), quoted=False)} must be {{name, train, accuracy, errors}} or {{name, train, confusion}}"
        )
    unknown = sorted(set(entry) - set(MODEL_KEYS))
    if unknown:
        raise InvalidValue(
            f"{name}.{unknown[0]} is not a model key; a model's keys are: {', '.join(MODEL_KEYS)}"
        )
    model = dict(entry)
    model["name"] = checked_name(f"{name}.name", model.get("name") or f"model_{index}")
    if is_file_model(model):
        return model
    if model.get("label") is not None:
        raise InvalidValue(
            f"{name}.label is a predictions file's key (its label column): give {name}.file too"
        )
    if model.get("confusion") is not None:
        both = [key for key in ("accuracy", "errors") if model.get(key) is not None]
        if both:
            raise InvalidValue(
                f"{name}.confusion and {name}.{both[0]} are both set: a confusion matrix gives both"
            )
    elif model.get("accuracy") is None:
        raise InvalidValue(f"{name}.accuracy is not set: give an accuracy profile or a confusion matrix")
    return model


def _distinct_names(where: str, models: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for j, model in enumerate(models):
        if model["name"] in seen:
            raise InvalidValue(
                f"{where}models[{j}].name={model['name']!r} is already {where}models[{seen[model['name']]}]'s; "
                "give each model its own name"
            )
        seen[model["name"]] = j


def _model(
    name: str, entry: Mapping[str, Any], train: tuple[int, ...]
) -> tuple[tuple[float, ...], str | Matrix]:
    """A model's accuracies and errors for these training counts."""
    classes = len(train)
    if entry.get("confusion") is not None:
        accuracies, spread = confusion_model(entry["confusion"], classes, where=f"{name}.")
        return tuple(accuracies.tolist()), _matrix(spread)
    profile, settings = _settings(f"{name}.accuracy", entry["accuracy"])
    accuracies = class_accuracies(
        profile, np.array(train, dtype=np.int64), where=f"{name}.accuracy.", **settings
    )
    errors = entry.get("errors")
    if errors is None:
        errors = DEFAULT_ERRORS
    if isinstance(errors, str):
        if errors not in ERROR_RULES:
            raise InvalidValue(
                f"{name}.errors={errors!r} is not one of: {', '.join(ERROR_RULES)}, or a {classes} x {classes} matrix"
            )
        return tuple(accuracies.tolist()), errors
    return tuple(accuracies.tolist()), _matrix(spread_of_matrix(errors, classes, where=f"{name}."))


def _matrix(spread: Any) -> Matrix:
    return tuple(tuple(row) for row in spread.tolist())


@dataclass(frozen=True)
class KModel:
    """One model of a K-class config, validated: its name, training counts, accuracies and errors."""

    name: str
    training_counts: tuple[int, ...]
    accuracies: tuple[float, ...]
    errors: str | Matrix  # a rule of ERROR_RULES, or the K x K spread (rows sum to 1, diagonal 0)


def k_model(
    name: str, entry: Any, classes: int, *, default_name: str, default_train: tuple[int, ...] | None = None
) -> KModel:
    """One model entry as a grid's ``models`` takes it (``{name, train, accuracy, errors}`` or
    ``{name, train, confusion}``), for a config of one or two models (the K-class flip): named
    ``default_name`` unless it says, trained on ``train`` or else ``default_train`` (None: required)."""
    model = _model_entry(name, entry, 0)
    if not entry.get("name"):
        model["name"] = checked_name(f"{name}.name", default_name)
    if model.get("train") is not None:
        train = _counts(f"{name}.train", model["train"], classes)
    elif default_train is not None:
        train = default_train
    else:
        raise InvalidValue(
            f"{name}.train is not set: give the model's training counts, a count profile or {classes} counts"
        )
    accuracies, errors = _model(name, model, train)
    return KModel(model["name"], train, accuracies, errors)


def k_file_model(
    name: str,
    entry: Any,
    classes: int,
    *,
    default_name: str,
    classes_key: str = "classes",
    start_dir: str | os.PathLike[str] | None = None,
) -> tuple[KModel, ClassFileModel]:
    """One predictions file's model entry (``{name, file, train, label}``) for a config of one or two
    models (the K-class flip): named ``default_name`` unless it says, trained on ``train`` or else
    the file's class counts; the model (accuracies the file's, errors ``file``) and the file."""
    model = _model_entry(name, entry, 0)
    if not entry.get("name"):
        model["name"] = checked_name(f"{name}.name", default_name)
    loaded = file_model(name, model, classes, classes_key=classes_key, start_dir=start_dir)
    train = loaded.class_counts
    if model.get("train") is not None:
        train = _counts(f"{name}.train", model["train"], classes)
    return KModel(model["name"], train, loaded.accuracies, FILE_ERRORS), loaded
