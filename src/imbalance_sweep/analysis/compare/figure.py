"""The comparison's figure: per metric, each other sweep against the baseline (matplotlib, imported
when drawn: a mistake answers without it)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .alignment import Comparison

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def comparison_figure(comparison: Comparison, *, title: str) -> Figure:
    """Per metric, each other sweep against the baseline on the coinciding cells.

    Points off the dashed diagonal are cells where the sweeps differ. Identical sweeps still get a
    picture: every compared metric, every point on the diagonal.
    """
    metrics = comparison.shown or comparison.compared
    n_columns = min(4, len(metrics))
    n_rows = math.ceil(len(metrics) / n_columns)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * n_columns, 3.0 * n_rows + 0.5), layout="constrained")
    FigureCanvasAgg(figure)  # rendered by Agg, whatever pyplot's backend is
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    baseline, others = comparison.letters[0], comparison.letters[1:]
    for ax, metric in zip(axes, metrics, strict=False):
        values = comparison.values[metric]
        for index, letter in enumerate(others, start=1):
            ax.scatter(values[0], values[index], s=14, alpha=0.7, label=letter)
        low, high = float(np.min(values)), float(np.max(values))
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel(baseline, fontsize=8)
        ax.set_ylabel(", ".join(others), fontsize=8)
        ax.tick_params(labelsize=7)
    if len(others) > 1:
        axes[0].legend(fontsize=7)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return figure
