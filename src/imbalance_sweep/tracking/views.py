"""The MLflow UI's prepared view of a sweep's cells: what its runs page shows when the printed
``cells:`` link opens it, without a click (the cells listed flat, their headline losses and metrics
as columns, and charts of those in the chart view).

MLflow's UI (3.17) opens its runs page in a state kept as an experiment tag
``mlflow.sharedViewState.<key>``, named by the URL parameter ``viewStateShareKey=<key>``: the search
facets (``searchFilter``, ``orderByKey``, ``orderByAsc``, ...; a link that carries any of them as URL
parameters is not given the view) and the page's UI state (``selectedColumns``, ``runsHiddenMode``,
``compareRunCharts`` and ``compareRunSections``, the chart view's cards and sections, ...). A tag
holding the state itself, not MLflow's saved-view envelope, stays out of the page's "Views" menu.

Pure data: no mlflow import (where.py builds the link from :func:`cells_view_key`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from ..core.thresholds import DEFAULT_THRESHOLD_TEXT, row_threshold
from ..core.vocabulary import loss_keys, metric_names
from .tags import MLFLOW_PARENT_TAG, VIEW_TAG_PREFIX

HEADLINE_METRICS = metric_names(lambda metric: metric.headline)
ORDER_BY = "recall"
# A K-class sweep's (K >= 3) headline metrics, the first its order: the mean recall, then macro F1
K_CLASS_HEADLINE_METRICS = ("balanced_accuracy", "f1_macro")
HEADLINE_LOSSES = 2  # the first losses of a sweep shown beside the metrics
# The sections the UI makes a chart for every metric in (by the metric's prefix; "Model metrics"
# for the metrics without one), declared closed: below the headline charts, a click away.
COLLAPSED_SECTIONS = (
    "Model metrics",
    "loss",
    "expected",
    "expected/loss",
    "stderr",
    "stderr/loss",
    "threshold",
    "ci_low",
    "ci_low/loss",
    "ci_high",
    "ci_high/loss",
)
# Bars per bar chart: the first cells of the table (a bar chart of 2,000 cells shows nothing)
BARS = 20
# Points per scatter chart: every cell the page has loaded (it loads 100 at a time)
POINTS = 2000


def headline_columns(
    losses: Sequence[str], rows: Sequence[Mapping[str, object]] = (), *, k_classes: bool = False
) -> list[str]:
    """The columns a sweep's cells are shown by, in the printed table and the UI alike: what the
    cell is (``model`` when some cell is a predictions file's, the balance and the accuracies, the
    ``threshold`` when not 0.5 everywhere), its first two losses, recall and F1. A K-class sweep's
    (``k_classes``, K >= 3): the model, the validation prior and the replicate, its first two losses,
    balanced accuracy and macro F1."""
    if k_classes:
        described = ["model", "prior", "replicate"]
        return described + list(loss_keys(losses[:HEADLINE_LOSSES])) + list(K_CLASS_HEADLINE_METRICS)
    named = any(row.get("model") for row in rows)
    cut_elsewhere = any(row_threshold(row) != DEFAULT_THRESHOLD_TEXT for row in rows)
    columns = [*(["model"] if named else []), "num_0s", "num_1s", "acc_0s", "acc_1s"]
    columns += ["threshold"] if cut_elsewhere else []
    return columns + list(loss_keys(losses[:HEADLINE_LOSSES])) + list(HEADLINE_METRICS)


def cells_view_key(parent_run_id: str) -> str:
    """The share key of a sweep's cells view (a run id is hex: safe in a tag key and a URL)."""
    return f"imbalance_sweep.cells.{parent_run_id}"


def cells_view_tag(parent_run_id: str) -> str:
    return VIEW_TAG_PREFIX + cells_view_key(parent_run_id)


def _column(name: str, metrics: Sequence[str]) -> str:
    kind = "metrics" if name in metrics else "params"
    return f"{kind}.`{name}`"


def _card(kind: str, section: str, **fields: object) -> dict[str, object]:
    """A chart card of the chart view, with the fields every card of the UI's has."""
    return {
        "uuid": str(uuid.uuid4()),
        "type": kind,
        "metricSectionId": section,
        "deleted": False,
        "isGenerated": False,
        **fields,
    }


def _section(section: str, name: str, *, shown: bool) -> dict[str, object]:
    return {
        "uuid": section,
        "name": name,
        "display": shown,
        "isReordered": False,
        "deleted": False,
        "isGenerated": False,
    }


def cells_view_state(
    parent_run_id: str, sweep_name: str, losses: Sequence[str], *, k_classes: bool = False
) -> dict[str, object]:
    """The runs page of one sweep's cells: its children listed flat (the filter on the parent),
    the highest recall first, with the headline params, losses and metrics as
    columns; the chart view opens on a section of scatter charts (each headline loss against
    recall and against F1, one point per cell) and bar charts of each headline value, above the
    closed sections of the charts the UI makes of every metric. A K-class sweep's (``k_classes``):
    balanced accuracy and macro F1 in place of recall and F1."""
    references = K_CLASS_HEADLINE_METRICS if k_classes else HEADLINE_METRICS
    metrics = list(loss_keys(losses[:HEADLINE_LOSSES])) + list(references)
    columns = headline_columns(losses, k_classes=k_classes)
    section = str(uuid.uuid4())
    scatter = [
        _card(
            "SCATTER",
            section,
            xaxis={"key": reference, "type": "METRIC"},
            yaxis={"key": loss, "type": "METRIC"},
            runsCountToCompare=POINTS,
            displayName=f"{loss} against {reference}",
        )
        for loss in metrics[:-2]
        for reference in references
    ]
    bars = [
        _card(
            "BAR",
            section,
            metricKey=metric,
            selectedMetricKeys=None,
            datasetName=None,
            dataAccessKey=None,
            runsCountToCompare=BARS,
            displayName=metric,
        )
        for metric in metrics
    ]
    return {
        "searchFilter": f"tags.`{MLFLOW_PARENT_TAG}` = '{parent_run_id}'",
        # Any order but the start time's: sorted by it, the page nests the cells under their parent
        # (3.17 nests only then), one click away. Recall is the project's reference.
        "orderByKey": f"metrics.`{references[0] if k_classes else ORDER_BY}`",
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "modelVersionFilter": "All Runs",
        "datasetsFilter": [],
        "selectedColumns": [_column(name, metrics) for name in columns],
        "runsHiddenMode": "SHOW_ALL",
        "compareRunCharts": [*scatter, *bars],
        "compareRunSections": [
            _section(section, f"{sweep_name}: headline values", shown=True),
            *(_section(str(uuid.uuid4()), name, shown=False) for name in COLLAPSED_SECTIONS),
        ],
        "hideEmptyCharts": True,
        "isAccordionReordered": True,  # the sections in the order given, not by name
        "chartsSearchFilter": "",
    }


def cells_view_text(
    parent_run_id: str, sweep_name: str, losses: Sequence[str], *, k_classes: bool = False
) -> str:
    """The tag's value: :func:`cells_view_state` as JSON (a few KB; MLflow takes 20,000 characters)."""
    return json.dumps(cells_view_state(parent_run_id, sweep_name, losses, k_classes=k_classes))
