"""Pictures of a sweep: per-balance heatmaps of one metric, the loss-vs-metric agreement chart, and
its models' ROC and precision-recall curves.

Figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot: a library should
not pick the process's backend or keep figures alive in pyplot's registry. ``Figure.savefig`` (and so
``mlflow.log_figure``) renders PNG with Agg whatever backend is configured.

A sweep's report draws its figures while a person waits for the command, so the heatmaps and the
agreement chart place their axes themselves (fixed margins in inches) rather than through a layout
engine, which draws the whole figure once more, text and all, before every save.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from ..core.checks import InvalidValue
from ..core.curves import precision_recall_points, roc_points
from ..core.metrics import lower_is_better
from ..core.prevalence import percent as percent_text
from ..core.prevalence import prevalence_of
from ..core.vocabulary import METRIC_NAMES, METRICS, is_loss_key
from .agreement import metric_keys, replicate_summary

if TYPE_CHECKING:
    from .report import SweepModel

MAX_COLUMNS = 3  # heatmap subplots per figure row
PANEL_WIDTH, PANEL_HEIGHT, SUPTITLE_HEIGHT = 4.6, 3.9, 0.5  # a heatmap panel and its colour bar, inches
COLORBAR_TICKS = 5  # at most this many values on a heatmap's colour bar
MAX_TICKS = 6  # accuracy tick labels per heatmap axis (more overlap in a 4-inch panel)
MAX_ANNOTATED_CELLS = 36  # small grids get their values written in the cells
READABLE_NAMES = {metric.name: metric.label for metric in METRICS}
MAX_CURVE_MODELS = 8  # models whose curves are drawn, evenly spaced in the grid's order
MAX_CURVE_BALANCES = 5  # precision-recall panels, evenly spaced in prevalence
STATISTICS = {
    "pair_agreement": ((0.0, 1.0), 0.5, "fraction of model pairs in {reference}'s order"),
    "kendall_tau": ((-1.0, 1.0), 0.0, "Kendall's tau-b between -loss and {reference}"),
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def png_bytes(figure: Figure) -> bytes:
    """``figure`` as the PNG file ``mlflow.log_figure`` writes of it (``savefig`` to a ``.png``
    path): bytes travel from a worker process (sweep/ahead.py), figures do not."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def percent(value: float) -> str:
    """A prevalence as a figure's short percentage: 0.5 -> '50 %', 0.0099 -> '0.99 %'."""
    return percent_text(value, ".2g")


def _balance_title(num_0s: int, num_1s: int, prevalence: float) -> str:
    return f"prevalence {percent(prevalence)} ({num_0s:,} : {num_1s:,})"


def _tick_positions(count: int) -> np.ndarray:
    return np.arange(0, count, max(1, math.ceil(count / MAX_TICKS)))


def _heatmap_panel(figure: Figure, row: int, column: int, *, n_rows: int) -> tuple[Any, Any]:
    """The heatmap's axes and its colour bar's in panel (row, column), placed in inches: room on
    the left for the acc_1s labels, below for the acc_0s labels, above for the title, and on the
    right for the colour bar's ticks and label."""
    width, height = figure.get_size_inches()
    left = column * PANEL_WIDTH + 0.8
    bottom = (n_rows - 1 - row) * PANEL_HEIGHT + 0.55
    map_width, map_height = PANEL_WIDTH - 2.05, PANEL_HEIGHT - 0.95
    ax = figure.add_axes((left / width, bottom / height, map_width / width, map_height / height))
    colorbar_left = left + map_width + 0.12
    colorbar_ax = figure.add_axes((colorbar_left / width, bottom / height, 0.14 / width, map_height / height))
    return ax, colorbar_ax


def _draw_heatmap(
    figure: Figure, ax, colorbar_ax, entries: list[dict], *, metric: str, is_loss: bool
) -> None:
    """One balance: acc_0s across, acc_1s up, colour = replicate mean; missing models left blank."""
    acc_0s = sorted({entry["acc_0s"] for entry in entries})
    acc_1s = sorted({entry["acc_1s"] for entry in entries})
    column_of = {value: index for index, value in enumerate(acc_0s)}
    row_of = {value: index for index, value in enumerate(acc_1s)}
    grid = np.full((len(acc_1s), len(acc_0s)), np.nan)
    for entry in entries:
        grid[row_of[entry["acc_1s"]], column_of[entry["acc_0s"]]] = entry[f"{metric}_mean"]
    # Losses get the reversed colour map, so in every heatmap bright means better and a loss that
    # ranks models as F1 does looks like F1's picture.
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="viridis_r" if is_loss else "viridis",
    )
    colorbar = figure.colorbar(image, cax=colorbar_ax)
    colorbar.locator = MaxNLocator(COLORBAR_TICKS)
    colorbar.set_label(f"{metric} ({'lower' if is_loss else 'higher'} is better)")
    if is_loss:
        colorbar.ax.invert_yaxis()  # better on top, as for the metrics
    for axis_ticks, labels, values in (
        (ax.set_xticks, ax.set_xticklabels, acc_0s),
        (ax.set_yticks, ax.set_yticklabels, acc_1s),
    ):
        positions = _tick_positions(len(values))
        axis_ticks(positions)
        labels([f"{values[p]:g}" for p in positions])
    if grid.size <= MAX_ANNOTATED_CELLS:
        low, high = np.nanmin(grid), np.nanmax(grid)
        for (row, column), value in np.ndenumerate(grid):
            if np.isnan(value):
                continue
            brightness = 0.5 if high == low else (value - low) / (high - low)
            if is_loss:
                brightness = 1.0 - brightness
            ax.text(
                column,
                row,
                f"{value:.3g}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if brightness > 0.6 else "white",
            )
    ax.set_xlabel("acc_0s (fraction of negatives right)")
    ax.set_ylabel("acc_1s (fraction of positives right)")
    first = entries[0]
    ax.set_title(_balance_title(first["num_0s"], first["num_1s"], first["prevalence"]), fontsize=10)


def heatmaps(rows: Sequence[Mapping[str, object]], *, metric: str) -> Figure:
    """One figure, one heatmap per balance, of ``metric`` over the models (acc_0s x acc_1s).

    ``metric`` is a cell key: ``loss/bce``, ``f1``, .... The colour is the mean over replicates
    (the suptitle says over how many); each balance has its own colour scale, since what matters is
    the order of models at a balance and losses differ in scale across balances (``focal_tfa`` is a
    sum). Bright is better in every heatmap. Models missing from a balance stay blank. Always returns
    a figure: a single model or a single balance gives a 1 x 1 heatmap or a single panel.
    """
    if not rows:
        raise InvalidValue("heatmaps: no cells to draw")
    known = metric_keys(rows)
    if metric not in known:
        raise InvalidValue(f"metric={metric!r} is not a metric of the cells; they have: {', '.join(known)}")
    summary = replicate_summary(rows, metrics=[metric])
    by_balance: dict[tuple[int, int], list[dict]] = {}
    for entry in summary:
        by_balance.setdefault((entry["num_0s"], entry["num_1s"]), []).append(entry)

    n_columns = min(len(by_balance), MAX_COLUMNS)
    n_rows = math.ceil(len(by_balance) / n_columns)
    figure = Figure(figsize=(PANEL_WIDTH * n_columns, PANEL_HEIGHT * n_rows + SUPTITLE_HEIGHT))
    is_loss = lower_is_better(metric)  # drawn as a loss: bright where low
    for index, entries in enumerate(by_balance.values()):
        ax, colorbar_ax = _heatmap_panel(figure, *divmod(index, n_columns), n_rows=n_rows)
        _draw_heatmap(figure, ax, colorbar_ax, entries, metric=metric, is_loss=is_loss)

    replicates = sorted({entry["n_replicates"] for entry in summary})
    if replicates == [1]:
        colour = "colour = value of each cell"
    else:
        span = str(replicates[0]) if len(replicates) == 1 else f"{replicates[0]}-{replicates[-1]}"
        colour = f"colour = mean over {span} replicates"
    figure.suptitle(f"{metric} per model, at each class balance ({colour}; bright = better)")
    return figure


def _readable(reference: str) -> str:
    return READABLE_NAMES.get(reference, reference)


def agreement_chart(
    agreement_rows: Sequence[Mapping[str, Any]],
    *,
    reference: str = "f1",
    statistic: str = "pair_agreement",
) -> Figure | None:
    """One line per loss: how often it ranks two models as ``reference`` does, against prevalence (log x).

    ``agreement_rows`` is :func:`imbalance_sweep.analysis.agreement`'s output. ``statistic`` is
    ``pair_agreement`` (y in [0, 1], 0.5 = a coin flip) or ``kendall_tau`` (y in [-1, 1]). Points that
    are undefined (NaN: one model at the balance, or the reference equal for all) or at prevalence 0
    (no place on a log axis) are left out, and a footnote says how many. Returns None when nothing
    is left to draw (no rows, or e.g. a single model per balance); raises InvalidValue when the rows
    were computed without ``reference``.
    """
    if statistic not in STATISTICS:
        raise InvalidValue(f"statistic={statistic!r} is not one of: {', '.join(STATISTICS)}")
    if not agreement_rows:
        return None
    chosen = [row for row in agreement_rows if row["reference"] == reference]
    if not chosen:
        available = ", ".join(dict.fromkeys(str(row["reference"]) for row in agreement_rows))
        raise InvalidValue(f"reference={reference!r} is not in the agreement rows; they have: {available}")
    lines, left_out = _agreement_lines(chosen, statistic)
    if not lines:
        return None
    figure = Figure(figsize=(8.5, 5.0))
    # inches: the y label and ticks on the left, the legend on the right, the x label (and its
    # footnote) below, the title above
    bottom = 0.65 + (0.2 if left_out else 0.0)
    ax = figure.add_axes((0.8 / 8.5, bottom / 5.0, 5.55 / 8.5, (5.0 - 0.5 - bottom) / 5.0))
    _plot_agreement_lines(ax, lines, statistic)
    _label_agreement_axes(ax, lines, statistic, _readable(reference), left_out)
    return figure


def _agreement_lines(
    chosen: Sequence[Mapping[str, Any]], statistic: str
) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """Each loss's (prevalence, value) points in prevalence order, and how many points were left
    out: a NaN value or prevalence 0 has no place on the chart's log axis."""
    lines: dict[str, list[tuple[float, float]]] = {}
    left_out = 0
    for row in chosen:
        x, y = float(row["prevalence"]), float(row[statistic])
        if x > 0 and math.isfinite(y):
            lines.setdefault(str(row["loss"]), []).append((x, y))
        else:
            left_out += 1
    for points in lines.values():
        points.sort()
    return lines, left_out


def _plot_agreement_lines(ax, lines: Mapping[str, Sequence[tuple[float, float]]], statistic: str) -> None:
    """One line per loss, then the chance level as a dashed line."""
    _, chance, _ = STATISTICS[statistic]
    for index, (loss, points) in enumerate(lines.items()):
        # Decreasing marker sizes: losses that rank models identically (bce, focal_tfa and
        # focal_balanced often do) stay visible as nested markers instead of hiding each other.
        ax.plot(
            [x for x, _ in points],
            [y for _, y in points],
            marker=MARKERS[index % len(MARKERS)],
            markersize=max(3.0, 10.0 - 1.2 * index),
            linewidth=1.5,
            alpha=0.85,
            label=loss,
            clip_on=False,
        )
    ax.axhline(
        chance,
        color="grey",
        linestyle="--",
        linewidth=1,
        label="coin flip" if statistic == "pair_agreement" else "no relation",
    )


def _label_agreement_axes(
    ax, lines: Mapping[str, Sequence[tuple[float, float]]], statistic: str, name: str, left_out: int
) -> None:
    """The log prevalence axis ticked at the prevalences drawn, the statistic's range, the labels
    (with a footnote on the points left out), the title and the legend."""
    (y_low, y_high), _, y_label = STATISTICS[statistic]
    ax.set_xscale("log")
    prevalences = sorted({x for points in lines.values() for x, _ in points})
    ax.set_xticks(prevalences)
    ax.set_xticklabels([percent(x) for x in prevalences])
    ax.xaxis.set_minor_locator(NullLocator())
    if len(prevalences) == 1:  # a lone tick: give it room on both sides
        ax.set_xlim(prevalences[0] / 2, prevalences[0] * 2)
    ax.set_ylim(y_low, y_high)
    ax.grid(True, alpha=0.3)
    x_label = "prevalence (fraction of positives in the validation set, log scale)"
    if left_out:
        x_label += f"\n{left_out} point(s) not shown: undefined (under two models, or {name} equal for all) or at prevalence 0"
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label.format(reference=name))
    if statistic == "pair_agreement":
        ax.set_title(f"How often does each loss rank two models the way {name} does?")
    else:
        ax.set_title(f"How closely does each loss rank models the way {name} does? (Kendall's tau-b)")
    ax.legend(title="loss", loc="center left", bbox_to_anchor=(1.01, 0.5))


def preference_chart(
    prevalences: np.ndarray,
    margins: Mapping[str, np.ndarray],
    flips: Mapping[str, Sequence[float]],
    *,
    model_a: str,
    model_b: str,
) -> Figure:
    """Each loss's (top) and metric's (bottom) preference between two models against prevalence.

    ``margins[name]`` is positive where ``name`` prefers model A, as a fraction of the two models'
    mean value; a dotted vertical line marks each flip point, and the legend says where it is.
    """
    figure = Figure(figsize=(9.5, 7.5), layout="constrained")
    loss_ax, metric_ax = figure.subplots(2, 1, sharex=True)
    drawn = {loss_ax: 0, metric_ax: 0}
    for name, margin in margins.items():
        ax = loss_ax if is_loss_key(name) else metric_ax
        points = flips.get(name, ())
        where = ", ".join(map(percent_text, points))
        (line,) = ax.plot(
            prevalences,
            margin,
            linewidth=1.6,
            linestyle="-" if drawn[ax] < 10 else "--",  # past the 10 colours of the cycle
            label=f"{name}: flips at {where}" if where else name,
        )
        drawn[ax] += 1
        for flip in points:
            ax.axvline(flip, color=line.get_color(), linestyle=":", linewidth=1.2)
    for ax, kind in ((loss_ax, "loss"), (metric_ax, "metric")):
        ax.axhline(0.0, color="grey", linewidth=1)
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.set_ylabel(f"{kind}: relative margin\n> 0 prefers A, < 0 prefers B")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    metric_ax.set_xlabel("prevalence (fraction of positives in the validation set, log scale)")
    loss_ax.set_title(f"Which model does each loss and metric prefer?  A: {model_a}   B: {model_b}")
    return figure


def selection_chart(
    epochs: Sequence[int],
    recall: Sequence[float],
    precision: Mapping[str, Sequence[float]],
    picks: Sequence[Any],
) -> Figure:
    """One column per population (``"val"``, then each prevalence): recall and precision there by
    epoch (top), and the epoch each criterion picks there (bottom, one row per criterion).

    ``picks`` are ``analysis.selection.Pick`` values."""
    columns = list(precision)
    criteria = list(dict.fromkeys(pick.criterion for pick in picks))
    height = 2.6 + 0.2 * len(criteria)
    figure = Figure(figsize=(3.6 * len(columns) + 1.4, height), layout="constrained")
    axes = figure.subplots(
        2, len(columns), sharex=True, squeeze=False, height_ratios=[2.6, 0.2 * len(criteria) + 0.4]
    )
    rows = {criterion: index for index, criterion in enumerate(reversed(criteria))}
    for column, where in enumerate(columns):
        top, bottom = axes[0][column], axes[1][column]
        top.plot(epochs, recall, marker=".", color="black", label="recall")
        top.plot(epochs, precision[where], marker=".", color="tab:red", label="precision")
        top.set_ylim(-0.02, 1.02)
        top.grid(True, alpha=0.3)
        top.set_title(
            "validation set as it is" if where == "val" else f"re-weighted to {percent(float(where))}"
        )
        chosen = [pick for pick in picks if pick.chosen_on == where]
        for pick in chosen:
            colour = "tab:green" if pick.criterion in METRIC_NAMES else "tab:blue"  # a loss: blue
            bottom.plot(pick.epoch, rows[pick.criterion], marker="o", color=colour, linestyle="none")
        bottom.set_yticks(range(len(criteria)), list(reversed(criteria)) if column == 0 else [])
        bottom.set_ylim(-0.6, len(criteria) - 0.4)
        bottom.grid(True, alpha=0.3)
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("epoch")
    axes[0][0].set_ylabel("recall, precision")
    axes[0][0].legend(loc="lower right", fontsize=8)
    axes[1][0].set_ylabel("epoch chosen by")
    figure.suptitle("Which epoch each loss (blue) and metric (green) picks, and what it finds")
    return figure


def _evenly(items: Sequence, most: int) -> list:
    """At most ``most`` of ``items``, evenly spaced, the first and the last among them."""
    if len(items) <= most:
        return list(items)
    return [items[int(i)] for i in np.unique(np.round(np.linspace(0, len(items) - 1, most)))]


def roc_pr_chart(models: Sequence[SweepModel]) -> Figure:
    """The ROC curve of each model (one panel: it does not depend on the balance), and its
    precision-recall curve at each balance it has cells at (a panel per balance, the dashed line a
    random ranking's precision, the prevalence); one colour per model throughout.

    At most :data:`MAX_CURVE_MODELS` models and :data:`MAX_CURVE_BALANCES` balances are drawn,
    evenly spaced (in the grid's order, in prevalence); the title says so when some are left out.
    """
    if not models:
        raise InvalidValue("roc_pr_chart: no models to draw")
    drawn = _evenly(models, MAX_CURVE_MODELS)
    every_balance = sorted(
        {b for model in models for b in model.balances}, key=lambda b: b[1] / (b[0] + b[1])
    )
    balances = _evenly(every_balance, MAX_CURVE_BALANCES)
    n_panels = 1 + len(balances)
    n_columns = min(n_panels, MAX_COLUMNS)
    n_rows = math.ceil(n_panels / n_columns)
    figure = Figure(figsize=(4.6 * n_columns, 4.2 * n_rows + 0.6), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    roc_ax, pr_axes = axes[0], dict(zip(balances, axes[1:], strict=False))
    for ax in axes[n_panels:]:
        ax.remove()
    for index, model in enumerate(drawn):
        fpr, tpr = roc_points(model.score_model, model.acc_0s, model.acc_1s)
        style = {"color": f"C{index % 10}", "linewidth": 1.5, "marker": "o" if fpr.size < 5 else None}
        roc_ax.plot(fpr, tpr, label=model.name, **style)
        for balance in model.balances:
            if balance in pr_axes:
                recall, precision = precision_recall_points(fpr, tpr, prevalence_of(*balance))
                pr_axes[balance].plot(recall, precision, **style)
    _label_roc_pr_axes(roc_ax, pr_axes)
    figure.suptitle(_curves_title(len(drawn), len(models), len(balances), len(every_balance)))
    return figure


def _label_roc_pr_axes(roc_ax, pr_axes: Mapping[tuple[int, int], Any]) -> None:
    """The chance lines, limits, labels and titles of the ROC panel and the precision-recall panels."""
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random ranking")
    roc_ax.set_xlabel("false positive rate (negatives scored >= t)")
    roc_ax.set_ylabel("true positive rate (recall)")
    roc_ax.set_title("ROC (the same at every balance)", fontsize=10)
    roc_ax.legend(loc="lower right", fontsize=7, title="model", title_fontsize=8)
    for (num_0s, num_1s), ax in pr_axes.items():
        positives = prevalence_of(num_0s, num_1s)
        ax.axhline(positives, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"precision-recall, {_balance_title(num_0s, num_1s, positives)}", fontsize=10)
    for ax in (roc_ax, *pr_axes.values()):
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.grid(True, alpha=0.3)


def _curves_title(n_drawn: int, n_models: int, n_balances: int, n_every_balance: int) -> str:
    """The figure's title, and what was left out."""
    title = (
        "ROC and precision-recall curves of the sweep's models (population curves; a file's from its scores)"
    )
    left_out = []
    if n_drawn < n_models:
        left_out.append(f"{n_drawn} of {n_models} models")
    if n_balances < n_every_balance:
        left_out.append(f"{n_balances} of {n_every_balance} balances")
    return f"{title}\n{', '.join(left_out)} drawn, evenly spaced" if left_out else title
