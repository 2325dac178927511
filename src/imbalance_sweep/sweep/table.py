"""A sweep's table as its parent's ``cells.csv`` (and a comparison's as ``comparison.csv``): the
runner writes it with or without a report, so it lives in the sweep layer, below ``analysis``."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence


def csv_text(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> str:
    """Rows as CSV at full precision (unless given, the columns of every row, in first-seen order:
    a grid mixing accuracy pairs and predictions files has ``model`` columns only in the files'
    rows, left empty in the others)."""
    buffer = io.StringIO()
    fieldnames = list(columns or dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
