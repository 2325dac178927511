"""What a sweep's parent run shows: summary tables and pictures built from its cells' rows.

Plain data in, plain data and matplotlib figures out; the sweep's runner hands them to ``tracking``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..core.thresholds import DEFAULT_THRESHOLD, threshold_text
from .agreement import DEFAULT_REFERENCES, agreement, as_columns, replicate_summary

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
    does. Figures: per loss and for F1 a heatmap over (acc_0s, acc_1s) per balance, and the
    agreement chart against each reference (left out where it has nothing to show, e.g. one
    model per balance). A sweep at several thresholds has a ``threshold`` column in its tables,
    its losses' heatmaps once (a threshold cuts the same scores), and the F1 heatmap and the
    agreement charts of each threshold under ``figures/threshold_<t>/`` (``best:f1``: ``best_f1``).
    """
    agreement_rows = agreement(rows, losses=losses)
    tables = {
        "summary/replicates.json": as_columns(replicate_summary(rows)),
        "summary/agreement.json": as_columns(agreement_rows),
    }
    by_threshold: dict[str, list[Mapping[str, object]]] = {}
    for row in rows:
        by_threshold.setdefault(threshold_text(row.get("threshold", DEFAULT_THRESHOLD)), []).append(row)
    first = next(iter(by_threshold.values()), [])
    figures = _figures(first, agreement_rows, losses=losses, metrics=["f1"] if len(by_threshold) == 1 else [])
    if len(by_threshold) > 1:
        for threshold, cut_rows in by_threshold.items():
            folder = f"figures/threshold_{threshold.replace(':', '_')}/"
            at_threshold = [row for row in agreement_rows if row["threshold"] == threshold]
            for path, figure in _figures(cut_rows, at_threshold, losses=[], metrics=["f1"]).items():
                figures[path.replace("figures/", folder, 1)] = figure
    return tables, figures


def _figures(
    rows: Sequence[Mapping[str, object]],
    agreement_rows: Sequence[Mapping[str, object]],
    *,
    losses: Sequence[str],
    metrics: Sequence[str],
) -> dict[str, Figure]:
    """Heatmaps of each loss and metric, and, with ``metrics``, the agreement charts."""
    from .figures import (  # matplotlib: ~1 s of start-up a sweep without a report skips
        agreement_chart,
        heatmaps,
    )

    figures = {
        f"figures/heatmap_{metric.replace('/', '_')}.png": heatmaps(rows, metric=metric)
        for metric in [*(f"loss/{name}" for name in losses), *metrics]
    }
    for reference in DEFAULT_REFERENCES if metrics else ():
        chart = agreement_chart(agreement_rows, reference=reference)
        if chart is not None:
            figures[f"figures/agreement_{reference}.png"] = chart
    return figures
