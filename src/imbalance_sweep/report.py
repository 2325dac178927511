"""What a sweep's parent run shows: summary tables and pictures built from its cells' rows.

Plain data in, plain data and matplotlib figures out; ``app`` hands them to ``tracking``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from .analysis import DEFAULT_REFERENCES, agreement, as_columns, replicate_summary
from .figures import agreement_chart, heatmaps


def csv_text(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> str:
    """Rows as CSV at full precision (the columns of the first row unless given)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns or rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def sweep_report(
    rows: Sequence[Mapping[str, object]], *, losses: Sequence[str]
) -> tuple[dict[str, dict[str, list]], dict[str, Figure]]:
    """``(tables, figures)`` keyed by artifact path.

    Tables (``mlflow.log_table``): per (balance, model) the mean and standard deviation over
    replicate seeds; per balance how often each loss ranks model pairs as each reference metric
    does. Figures: per loss and for F1 a heatmap over (acc_0s, acc_1s) per balance, and the
    agreement chart against each reference (left out where it has nothing to show, e.g. one
    model per balance).
    """
    agreement_rows = agreement(rows, losses=losses)
    tables = {
        "summary/replicates.json": as_columns(replicate_summary(rows)),
        "summary/agreement.json": as_columns(agreement_rows),
    }
    figures = {
        f"figures/heatmap_{metric.replace('/', '_')}.png": heatmaps(rows, metric=metric)
        for metric in [*(f"loss/{name}" for name in losses), "f1"]
    }
    for reference in DEFAULT_REFERENCES:
        chart = agreement_chart(agreement_rows, reference=reference)
        if chart is not None:
            figures[f"figures/agreement_{reference}.png"] = chart
    return tables, figures
