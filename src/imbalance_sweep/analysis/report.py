"""What a sweep's parent run shows: summary tables and pictures built from its cells' rows, and
the ROC and precision-recall curves of its models.

Plain data in (the rows; for the curves, each model's score model and accuracies), plain data and
matplotlib figures out; parent_page.py hands them to ``tracking``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.cell import Cell, model_label
from ..core.curves import has_curves
from ..core.score_models import ScoreModel
from ..core.score_models.empirical import EmpiricalModel
from ..core.thresholds import row_threshold
from ..core.vocabulary import loss_keys
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

CURVES_FIGURE = "figures/roc_pr_curves.png"


@dataclass(frozen=True)
class SweepModel:
    """One model of a sweep, for its curves: a name, its score model and accuracies, and the
    balances ``(num_0s, num_1s)`` it has cells at, in the grid's order."""

    name: str
    score_model: ScoreModel
    acc_0s: float
    acc_1s: float
    balances: tuple[tuple[int, int], ...]


def sweep_models(cells: Sequence[Cell], model_of: Callable[[Cell], ScoreModel]) -> list[SweepModel]:
    """The distinct models of ``cells`` (a predictions file's by its name, else by the accuracies)
    in the order the cells first show them; ``model_of`` gives a cell's score model."""
    found: dict[tuple, tuple[Cell, dict[tuple[int, int], None]]] = {}
    for cell in cells:
        _, balances = found.setdefault((cell.model, cell.acc_0s, cell.acc_1s), (cell, {}))
        balances[(cell.num_0s, cell.num_1s)] = None
    models = []
    for cell, balances in found.values():
        score_model = model_of(cell)
        name = cell.model or model_label(cell.acc_0s, cell.acc_1s)
        if cell.model is None and isinstance(score_model, EmpiricalModel):  # score_model=empirical
            name = f"{Path(score_model.predictions.path).stem} ({name})"
        models.append(SweepModel(name, score_model, cell.acc_0s, cell.acc_1s, tuple(balances)))
    return models


# The figures that answer a sweep's question (``report=answer``, the default): how often each loss
# ranks two models as F1 does, at each prevalence, and F1's heatmap. ``report=all`` adds each loss's
# heatmap, the agreement charts of the other references and the models' curves.
ANSWER_REFERENCES = ("f1",)


def sweep_report(
    rows: Sequence[Mapping[str, object]],
    *,
    losses: Sequence[str],
    models: Sequence[SweepModel] = (),
    all_figures: bool = True,
) -> tuple[dict[str, dict[str, list]], dict[str, Figure]]:
    """``(tables, figures)`` keyed by artifact path: :func:`report_tables` and :func:`report_figures`."""
    return report_tables(rows, losses=losses), report_figures(
        rows, losses=losses, models=models, all_figures=all_figures
    )


def _references_and_agreement(
    rows: Sequence[Mapping[str, object]], losses: Sequence[str]
) -> tuple[list[str], list[dict]]:
    """The reference metrics of a sweep's agreement (F1, recall and balanced accuracy, then the
    metrics of :data:`SCORE_REFERENCES` every row has) and the agreement's rows, theirs after the
    others'."""
    shared = set(metric_keys(rows))  # a sweep resumed across releases: older cells lack the new metrics
    references = [*DEFAULT_REFERENCES, *(name for name in SCORE_REFERENCES if name in shared)]
    agreement_rows = agreement(rows, losses=losses)
    if len(references) > len(DEFAULT_REFERENCES):
        agreement_rows += agreement(rows, losses=losses, references=references[len(DEFAULT_REFERENCES) :])
    return references, agreement_rows


def report_tables(
    rows: Sequence[Mapping[str, object]], *, losses: Sequence[str]
) -> dict[str, dict[str, list]]:
    """Tables (``mlflow.log_table``) keyed by artifact path: per (balance, model) the mean and
    standard deviation over replicate seeds; per balance how often each loss ranks model pairs as
    each reference metric does. A sweep at several thresholds has a ``threshold`` column."""
    _, agreement_rows = _references_and_agreement(rows, losses)
    return {
        "summary/replicates.json": as_columns(replicate_summary(rows)),
        "summary/agreement.json": as_columns(agreement_rows),
    }


def report_figures(
    rows: Sequence[Mapping[str, object]],
    *,
    losses: Sequence[str],
    models: Sequence[SweepModel] = (),
    all_figures: bool = True,
) -> dict[str, Figure]:
    """Figures keyed by artifact path: per loss and for F1 a heatmap over (acc_0s, acc_1s) per
    balance, the agreement chart against each reference (left out where it has nothing to show,
    e.g. one model per balance), and with ``models`` their ROC and precision-recall curves.

    A sweep at several thresholds has its losses' heatmaps once (a threshold cuts the same scores),
    and the F1 heatmap and the agreement charts of each threshold under ``figures/threshold_<t>/``
    (``best:f1``: ``best_f1``). Without ``all_figures``, only F1's heatmaps and the agreement charts
    of :data:`ANSWER_REFERENCES`: the figures a person waits for at the end of every sweep (each
    costs tens of milliseconds to render, and the first the import of matplotlib). The rows' values
    are all they read (not a run id): a worker that computed the cells can draw them (sweep/ahead.py).
    """
    references, agreement_rows = _references_and_agreement(rows, losses)
    by_threshold: dict[str, list[Mapping[str, object]]] = {}
    for row in rows:
        by_threshold.setdefault(row_threshold(row), []).append(row)
    first = next(iter(by_threshold.values()), [])
    single = len(by_threshold) == 1
    charted = references if all_figures else [name for name in references if name in ANSWER_REFERENCES]
    figures = _figures(
        first,
        agreement_rows,
        losses=losses if all_figures else [],
        metrics=["f1"] if single else [],
        references=charted,
    )
    if not single:
        for threshold, cut_rows in by_threshold.items():
            folder = f"figures/threshold_{threshold.replace(':', '_')}/"
            at_threshold = [row for row in agreement_rows if row["threshold"] == threshold]
            found = _figures(cut_rows, at_threshold, losses=[], metrics=["f1"], references=charted)
            for path, figure in found.items():
                figures[path.replace("figures/", folder, 1)] = figure
    drawable = [model for model in models if has_curves(model.score_model)]  # a model without laws: none
    if drawable and all_figures:
        from .figures import roc_pr_chart  # matplotlib, as below

        figures[CURVES_FIGURE] = roc_pr_chart(drawable)
    return figures


def _figures(
    rows: Sequence[Mapping[str, object]],
    agreement_rows: Sequence[Mapping[str, object]],
    *,
    losses: Sequence[str],
    metrics: Sequence[str],
    references: Sequence[str],
) -> dict[str, Figure]:
    """Heatmaps of each loss and metric, and, with ``metrics``, the agreement charts."""
    from .figures import (  # matplotlib: ~1 s of start-up a sweep without a report skips
        agreement_chart,
        heatmaps,
    )

    figures = {
        f"figures/heatmap_{metric.replace('/', '_')}.png": heatmaps(rows, metric=metric)
        for metric in [*loss_keys(losses), *metrics]
    }
    for reference in references if metrics else ():
        chart = agreement_chart(agreement_rows, reference=reference)
        if chart is not None:
            figures[f"figures/agreement_{reference}.png"] = chart
    return figures
