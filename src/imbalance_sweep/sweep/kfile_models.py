"""K-class predictions files as the models of a K-class grid (``{name, file, train, label}`` in
``grid.models``) or of the K-class flip: each entry read and checked before any run exists, one line
for each mistake (an unreadable file, a K other than the config's, a validation prior that gives
rows to a class the file has none of).

A file's model's training counts are ``train`` when given, else the file's own class counts; its
accuracies (shown in a cell's params, part of its seed) are the file's per-class recalls.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.checks import InvalidValue, clipped
from ..core.multiclass.file_model import ClassFileModel, load_class_file_model

FILE_KEYS = ("name", "file", "train", "label")
FILE_ERRORS = "file"  # a file's cell's ``errors``: the file's own, not a rule or a spread


def is_file_model(entry: Any) -> bool:
    """A model entry that names a predictions file (``file`` set)."""
    return isinstance(entry, Mapping) and entry.get("file") is not None


def check_file_entry(name: str, entry: Mapping[str, Any]) -> None:
    """A file entry's keys: ``name``, ``file``, ``train``, ``label``; no accuracy, errors or confusion
    (the file has its own)."""
    for key in entry:
        if key not in FILE_KEYS:
            raise InvalidValue(
                f"{name}.{key} is not a key of a predictions file's model; its keys are: {', '.join(FILE_KEYS)} "
                "(the file gives the accuracies and errors)"
            )


def file_model(
    name: str,
    entry: Mapping[str, Any],
    classes: int,
    *,
    classes_key: str = "grid.classes",
    start_dir: str | os.PathLike[str] | None = None,
) -> ClassFileModel:
    """The file of a model entry, read (a relative path from ``start_dir``), of K = ``classes`` (the
    config's ``classes_key``)."""
    check_file_entry(name, entry)
    path, label = entry.get("file"), entry.get("label", "label")
    if not isinstance(path, str) or not path.strip():
        raise InvalidValue(
            f"{name}.file={clipped(repr(path), quoted=False)} must name a K-class predictions file, e.g. preds/model.parquet"
        )
    if not isinstance(label, str) or not label:
        raise InvalidValue(f"{name}.label={clipped(repr(label), quoted=False)} must be a column name")
    try:
        model = load_class_file_model(path, label=label, start_dir=start_dir)
    except InvalidValue as error:
        raise InvalidValue(f"{name}.file: {error}") from None
    if model.classes != classes:
        raise InvalidValue(
            f"{name}.file={clipped(path)} has K={model.classes} score columns (score_0 .. "
            f"score_{model.classes - 1}); allowed: {classes} columns, one a class ({classes_key}={classes})"
        )
    return model


def check_prior_rows(prior: str, counts: Sequence[int], model_name: str, model: ClassFileModel) -> None:
    """Refuse a validation prior that gives rows to a class the file has none of: nothing to
    re-weight or draw them from."""
    for label, (count, rows) in enumerate(zip(counts, model.class_counts, strict=True)):
        if count and not rows:
            raise InvalidValue(
                f"{prior} has {count} rows of class {label}, and {model_name}.file {model.path!r} has none; "
                "allowed: a file with rows of every class the prior has rows of"
            )
