"""What a sweep's parent run shows: summary tables and pictures built from its cells' rows.

Plain data in, plain data and matplotlib figures out; the sweep's runner hands them to ``tracking``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .agreement import (
    DEFAULT_REFERENCES,
    SCORE_REFERENCES,
    agreement,
    as_columns,
    metric_keys,
    replicate_summary,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


def sweep_report(
    rows: Sequence[Mapping[str, object]], *, losses: Sequence[str]
) -> tuple[dict[str, dict[str, list]], dict[str, Figure]]:
    """``(tables, figures)`` keyed by artifact path.

    Tables (``mlflow.log_table``): per (balance, model) the mean and standard deviation over
    replicate seeds; per balance how often each loss ranks model pairs as each reference metric
    does (F1, recall and balanced accuracy, then the metrics of :data:`SCORE_REFERENCES` every row
    has, their rows after the others'). Figures: per loss and for F1 a heatmap over (acc_0s, acc_1s)
    per balance, and the agreement chart against each reference (left out where it has nothing to
    show, e.g. one model per balance).
    """
    from .figures import (  # matplotlib: ~1 s of start-up a sweep without a report skips
        agreement_chart,
        heatmaps,
    )

    shared = set(metric_keys(rows))  # a sweep resumed across releases: older cells lack the new metrics
    more_references = [name for name in SCORE_REFERENCES if name in shared]
    agreement_rows = agreement(rows, losses=losses)
    if more_references:
        agreement_rows += agreement(rows, losses=losses, references=more_references)
    tables = {
        "summary/replicates.json": as_columns(replicate_summary(rows)),
        "summary/agreement.json": as_columns(agreement_rows),
    }
    figures = {
        f"figures/heatmap_{metric.replace('/', '_')}.png": heatmaps(rows, metric=metric)
        for metric in [*(f"loss/{name}" for name in losses), "f1"]
    }
    for reference in (*DEFAULT_REFERENCES, *more_references):
        chart = agreement_chart(agreement_rows, reference=reference)
        if chart is not None:
            figures[f"figures/agreement_{reference}.png"] = chart
    return tables, figures
