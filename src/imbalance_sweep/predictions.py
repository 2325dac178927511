"""Your own predictions: a file of labels and scores, loaded and validated in one vectorised pass.

Formats, by the file's extension: ``.csv`` (pyarrow's multithreaded reader), ``.parquet``
(pyarrow), ``.npy`` (a structured array whose fields are the columns) and ``.npz`` (one array per
column). The label column holds 0 and 1 (integers, floats or booleans); the score column holds
probabilities in [0, 1], or logits with ``from_logits=True`` (any finite number, mapped through the
logistic function). Scores become float32, as Keras casts them. Anything else stops with one line
that names the file, the row (counted from 1, after a CSV's header) and the value.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import special

from .checks import InvalidValue, _show

FORMATS = (".csv", ".parquet", ".npy", ".npz")
DIGEST_LENGTH = 16  # hex digits of the file's sha256


@dataclass(frozen=True, eq=False)
class Predictions:
    """A validated predictions file: float32 probabilities, boolean labels, and where they came from."""

    path: str
    label_column: str
    score_column: str
    from_logits: bool
    digest: str
    labels: np.ndarray = field(repr=False)  # bool: True for a positive
    scores: np.ndarray = field(repr=False)  # float32 probabilities

    @property
    def rows(self) -> int:
        return int(self.labels.size)


def file_digest(path: str | os.PathLike) -> str:
    """The first hex digits of the sha256 of the file's bytes: its identity, wherever it lies."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:DIGEST_LENGTH]


def _missing_column(path: Path, column: str, present) -> InvalidValue:
    return InvalidValue(
        f"predictions file {str(path)!r} has no column {column!r}; its columns are: {', '.join(map(str, present))}"
    )


def _arrow_columns(path: Path, columns: tuple[str, str]) -> list[np.ndarray]:
    """The two columns of a CSV or Parquet file as numpy arrays, nulls reported by row."""
    import pyarrow as pa

    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        present = pq.read_schema(path).names
        for column in columns:
            if column not in present:
                raise _missing_column(path, column, present)
        table = pq.read_table(path, columns=list(columns))
    else:
        import pyarrow.csv as pcsv

        try:
            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=list(columns)))
        except (pa.ArrowInvalid, KeyError) as error:
            with open(path, encoding="utf-8", errors="replace", newline="") as stream:
                present = next(csv.reader(stream), [])
            for column in columns:
                if column not in present:
                    raise _missing_column(path, column, present) from None
            raise InvalidValue(f"predictions file {str(path)!r} cannot be read as CSV: {error}") from None
    arrays = []
    for column in columns:
        values = table.column(column).combine_chunks()
        if values.null_count:
            row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise InvalidValue(f"predictions file {str(path)!r}, row {row + 1}: {column} is missing")
        arrays.append(values.to_numpy(zero_copy_only=False))
    return arrays


def _numpy_columns(path: Path, columns: tuple[str, str]) -> list[np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:  # pickled object arrays, a damaged file
        raise InvalidValue(f"predictions file {str(path)!r} cannot be read: {error}") from None
    if path.suffix == ".npz":
        with loaded:
            present = list(loaded.files)
            for column in columns:
                if column not in present:
                    raise _missing_column(path, column, present)
            return [loaded[column] for column in columns]
    present = loaded.dtype.names
    if not present:
        raise InvalidValue(
            f"predictions file {str(path)!r} holds a {loaded.dtype} array of shape {loaded.shape}, not a "
            f"structured array with fields {columns[0]!r} and {columns[1]!r}"
        )
    for column in columns:
        if column not in present:
            raise _missing_column(path, column, present)
    return [loaded[column] for column in columns]


def _first_bad(path: Path, bad: np.ndarray, column: str, values: np.ndarray, why: str) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValue(
            f"predictions file {str(path)!r}, row {row + 1}: {column}={_show(values[row])} {why}"
        )


def load_predictions(
    path: str | os.PathLike,
    *,
    label: str = "label",
    score: str = "score",
    from_logits: bool = False,
    start_dir: str | os.PathLike | None = None,
) -> Predictions:
    """Read and validate a predictions file (a relative ``path`` is taken from ``start_dir``, else
    the current directory)."""
    path = Path(start_dir or os.getcwd()) / Path(path).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise InvalidValue(
            f"predictions file {str(path)!r}: the extension {path.suffix!r} is not one of: {', '.join(FORMATS)}"
        )
    if not path.is_file():
        raise InvalidValue(f"predictions file {str(path)!r} does not exist")
    if label == score:
        raise InvalidValue(f"the label and score columns are both {label!r}: give two columns")
    columns = (label, score)
    if path.suffix.lower() in (".csv", ".parquet"):
        labels, scores = _arrow_columns(path, columns)
    else:
        labels, scores = _numpy_columns(path, columns)
    if labels.ndim != 1 or scores.ndim != 1 or labels.size == 0:
        raise InvalidValue(
            f"predictions file {str(path)!r}: columns {label!r} and {score!r} must be 1-D and not empty; "
            f"got shapes {labels.shape} and {scores.shape}"
        )
    for column, values in ((label, labels), (score, scores)):
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            _first_bad(path, np.ones(values.size, bool), column, values, "is not a number")

    if labels.dtype != bool:
        _first_bad(path, (labels != 0) & (labels != 1), label, labels, "is not 0 or 1")
    scores = scores.astype(np.float64, copy=False)
    if from_logits:
        _first_bad(path, ~np.isfinite(scores), score, scores, "is not a finite logit")
        probabilities = special.expit(scores).astype(np.float32)
    else:
        within = (scores >= 0) & (scores <= 1)  # False for NaN
        _first_bad(
            path, ~within, score, scores, "is not a probability in [0, 1] (from_logits=true for logits)"
        )
        probabilities = scores.astype(np.float32)
    return Predictions(
        path=str(path.resolve()),
        label_column=label,
        score_column=score,
        from_logits=bool(from_logits),
        digest=file_digest(path),
        labels=labels.astype(bool),
        scores=probabilities,
    )
