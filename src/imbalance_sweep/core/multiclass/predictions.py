"""A K-class predictions file: a label column of class indices 0..K-1 and K score columns
``score_0`` .. ``score_<K-1>``, one row of probabilities a sample, as Parquet or CSV.

Flat score columns rather than one list column: CSV holds them, and pandas, Arrow and a
spreadsheet write them as they are. K is the number of ``score_<k>`` columns (or the one asked
for); the columns are read and checked as the binary files are (``core.predictions``: its
checks of the file, its CSV header sniffing and its messages): one line naming the file, the row
(from 1, after a CSV's header) and the value, for a missing or doubled column, a missing value, a
label that is no class index, a score that is no probability (NaN, negative, above 1) and a row
whose scores do not sum to 1 within the K-class losses' tolerance (``labelled``: 1e-4, in float64),
so that every K-class loss and metric takes the file. Scores become float32, as Keras computes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import NOT_A_PROBABILITY, InvalidValue, first_non_probability
from ..predictions import (
    check_file,
    column_names,
    column_values,
    csv_error,
    csv_header,
    cut_shown,
    file_named,
    first_non_number,
    missing_column,
    unreadable,
)
from .labelled import LOSSES_ROW_SUM_TOLERANCE, Labels

CLASS_FORMATS = (".csv", ".parquet")
SCORE_COLUMN = re.compile(r"score_(\d+)")


def score_column(label: int) -> str:
    """The name of class ``label``'s score column: ``score_<label>``."""
    return f"score_{label}"


def class_predictions_table(labels: Labels, scores: NDArray[np.float32]) -> Any:
    """A pyarrow table of this format (``label`` as int32), for a Parquet or CSV writer."""
    import pyarrow as pa

    columns = {"label": labels.astype(np.int32)}
    columns |= {
        score_column(label): np.ascontiguousarray(scores[:, label]) for label in range(scores.shape[1])
    }
    return pa.table(columns)


def _score_columns(path: Path, present: list[str], classes: int | None) -> list[str]:
    """``score_0`` .. ``score_<K-1>``, K given or the number of ``score_<k>`` columns (>= 2)."""
    if classes is None:
        classes = sum(1 for name in present if SCORE_COLUMN.fullmatch(name))
        if classes < 2:
            raise InvalidValue(
                f"{file_named(path)} has {classes} score column(s); allowed: K >= 2 columns score_0 .. "
                f"score_<K-1>, one a class; its columns are: {column_names(present)}"
            )
    return [score_column(label) for label in range(classes)]


def _read(path: Path, label: str, classes: int | None) -> tuple[list[str], list[NDArray[Any]]]:
    """The score columns' names and the label and score columns, read by pyarrow."""
    import pyarrow as pa

    parquet = path.suffix.lower() == ".parquet"
    if parquet:
        import pyarrow.parquet as pq

        try:
            present = list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as error:
            raise unreadable(path, "Parquet", error) from None
    else:
        present = csv_header(path)
    scores = _score_columns(path, present, classes)
    columns = [label, *scores]
    for column in columns:
        if column not in present:
            raise missing_column(path, column, present)
        if present.count(column) > 1:
            raise InvalidValue(
                f"{file_named(path)} has {present.count(column)} columns named {column!r}: which one is meant "
                "is ambiguous; give each column its own name"
            )
    try:
        if parquet:
            table = pq.read_table(path, columns=columns)
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=columns))
    except (pa.ArrowException, OSError) as error:
        if parquet:
            raise unreadable(path, "Parquet", error) from None
        raise csv_error(path, error) from None
    arrays = []
    for column in columns:
        array = column_values(path, table, column)
        if array.dtype.kind not in "biuf":  # text, dates, ...: a cast would fail or mislead
            row = first_non_number(array)
            raise InvalidValue(
                f"{file_named(path)}, row {row + 1}: {column}={cut_shown(array[row])} is not a number"
            )
        arrays.append(array)
    return scores, arrays


def load_class_predictions(
    path: str | os.PathLike[str],
    *,
    label: str = "label",
    classes: int | None = None,
    start_dir: str | os.PathLike[str] | None = None,
) -> tuple[Labels, NDArray[np.float32]]:
    """Read and check a K-class predictions file (a relative ``path`` from ``start_dir``, else the
    current directory): its labels (intp, 0..K-1) and scores (float32, shape (n, K)). ``classes``:
    the K it must have (None: as many as its ``score_<k>`` columns)."""
    path = Path(start_dir or os.getcwd()) / Path(path).expanduser()
    if path.suffix.lower() not in CLASS_FORMATS:
        raise InvalidValue(
            f"{file_named(path)}: the extension {path.suffix!r} is not one of: {', '.join(CLASS_FORMATS)} "
            "(a K-class predictions file)"
        )
    check_file(path)
    names, (labels, *columns) = _read(path, label, classes)
    classes = len(names)
    if labels.size == 0:
        raise InvalidValue(f"{file_named(path)} has no rows")
    whole = labels.astype(np.float64, copy=False)
    bad = ~((whole >= 0) & (whole <= classes - 1) & (whole == np.floor(whole)))
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValue(
            f"{file_named(path)}, row {row + 1}: {label}={cut_shown(labels[row])} is not a class index in "
            f"0..{classes - 1} (K={classes})"
        )
    scores = np.column_stack([column.astype(np.float64, copy=False) for column in columns])
    outside = first_non_probability(scores)
    if outside is not None:
        row, column = divmod(outside, classes)
        raise InvalidValue(
            f"{file_named(path)}, row {row + 1}: {names[column]}={cut_shown(scores[row, column])} {NOT_A_PROBABILITY}"
        )
    sums = scores.sum(axis=1)
    off = np.abs(sums - 1.0) > LOSSES_ROW_SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise InvalidValue(
            f"{file_named(path)}, row {row + 1}: the scores sum to {sums[row]:.7g}; allowed: rows summing to 1 "
            f"within {LOSSES_ROW_SUM_TOLERANCE:g}"
        )
    return whole.astype(np.intp), scores.astype(np.float32)
