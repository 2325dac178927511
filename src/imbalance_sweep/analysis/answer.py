"""A sweep's answer in a few numbers, for its parent run's own page: how often each loss and each
metric ranks the grid's models as recall does, and where a two-model grid's preferences flip; as
metrics, a Markdown table for the run's description, and a figure.

The question is the project's: does a loss prefer the model that finds more positives? Recall is
the reference. A *pair* is two models at one balance (and threshold), as in :func:`agreement`;
``agreement/<key>`` is the share of all the grid's pairs that ``<key>`` orders as recall does
(pairs recall cannot order are left out, pairs ``<key>`` cannot order count half).

Plain data in (the sweep's rows; for flips, the two models), plain data out; the figure through
matplotlib's ``Figure``, imported only when drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core.metrics import DEFAULT_METRICS, MetricSettings, lower_is_better
from ..core.prevalence import percent
from ..core.vocabulary import is_loss_key, loss_key, loss_name, metric_names, ranked_names
from .agreement import agreement, metric_keys
from .preference import Model, preferences

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REFERENCE = "recall"
AGREEMENT_PREFIX = "agreement/"
FLIP_PREFIX = "flip/"
# The metrics held against recall beside the losses (those every cell has, none NaN)
COMPARED_METRICS = ranked_names(lambda metric: metric.answer)
# The metrics whose flip a two-model grid reports beside its losses' (recall never flips)
FLIP_METRICS = metric_names(lambda metric: metric.answer_flip)
ANSWER_FIGURE = "answer.png"  # at the top of the artifacts, beside cells.csv

Row = Mapping[str, object]


def _finite_everywhere(rows: Sequence[Row], key: str) -> bool:
    return all(not math.isnan(float(row[key])) for row in rows)  # type: ignore[arg-type]


def agreement_with_recall(rows: Sequence[Row], *, losses: Sequence[str]) -> dict[str, float]:
    """``agreement/<key>`` for each loss (``loss/<name>``) and each of :data:`COMPARED_METRICS` the
    rows have: its share of the grid's model pairs ordered as recall orders them. Empty when no pair
    has two models recall tells apart (one model per balance)."""
    shared = set(metric_keys(rows))
    if REFERENCE not in shared or not _finite_everywhere(rows, REFERENCE):
        return {}
    loss_keys = [key for name in losses if (key := loss_key(name)) in shared]
    metrics = [name for name in COMPARED_METRICS if name in shared]
    keys = [key for key in loss_keys + metrics if _finite_everywhere(rows, key)]
    # A metric ranks models as a loss does once lower is better: its sign turned where higher is.
    # Loss names and metric names never meet (the registry), so loss/<metric> names no real loss.
    ranked = [
        {
            **row,
            **{
                loss_key(name): float(row[name]) if lower_is_better(name) else -float(row[name])  # type: ignore[arg-type]
                for name in metrics
            },
        }
        for row in rows
    ]
    as_losses = [loss_name(key) for key in keys]
    table = agreement(ranked, losses=as_losses, references=[REFERENCE]) if as_losses else []
    found: dict[str, float] = {}
    for key, name in zip(keys, as_losses, strict=True):
        entries = [entry for entry in table if entry["loss"] == name and entry["n_pairs"]]
        pairs = sum(entry["n_pairs"] for entry in entries)
        if pairs:
            agreeing = sum(entry["pair_agreement"] * entry["n_pairs"] for entry in entries)
            found[f"{AGREEMENT_PREFIX}{key}"] = agreeing / pairs
    return found


def flip_prevalences(
    model_a: Model,
    model_b: Model,
    *,
    losses: Sequence[str],
    alpha: float,
    gamma: float,
    settings: MetricSettings = DEFAULT_METRICS,
) -> dict[str, float]:
    """For a grid of two models: ``flip/<key>``, the prevalence at which each loss (and each of
    :data:`FLIP_METRICS`) changes which of the two it prefers (``flip/<key>/2``, ... for further
    flips); a key that prefers one model at every prevalence has none."""
    found: dict[str, float] = {}
    for preference in preferences(
        model_a, model_b, losses=losses, metrics=FLIP_METRICS, alpha=alpha, gamma=gamma, settings=settings
    ):
        for index, prevalence in enumerate(preference.flips):
            suffix = f"/{index + 1}" if index else ""
            found[f"{FLIP_PREFIX}{preference.key}{suffix}"] = prevalence
    return found


def answer_note(
    answer: Mapping[str, float],
    *,
    n_cells: int,
    figure_link: str | None = None,
    headline: Mapping[str, object] | None = None,
) -> str:
    """The answer as Markdown for the run's description: for a one-cell sweep its ``headline``
    values; else a table of each key's agreement with recall and, for two models, its flip; then
    the figure (``figure_link``, a URL the UI can fetch), if any."""
    if headline is not None:
        lines = [
            "**The cell's headline values** (every value is among this run's metrics):",
            "",
            "| " + " | ".join(headline) + " |",
            "|" + "---|" * len(headline),
            "| "
            + " | ".join(
                f"{value:.4g}" if isinstance(value, float) else str(value) for value in headline.values()
            )
            + " |",
        ]
    else:
        keys = [key.removeprefix(AGREEMENT_PREFIX) for key in answer if key.startswith(AGREEMENT_PREFIX)]
        flips = any(key.startswith(FLIP_PREFIX) for key in answer)
        lines = [
            f"**What the {n_cells} cells say**: how often each loss and metric prefers, of two models "
            "at one balance, the one recall prefers (metrics `agreement/<key>`)"
            + ("; where it swaps the grid's two models (metrics `flip/<key>`, a prevalence)" if flips else "")
            + ".",
            "",
            "| loss or metric | agrees with recall |" + (" flips at prevalence |" if flips else ""),
            "|---|---|" + ("---|" if flips else ""),
        ]
        for key in keys:
            line = f"| `{key}` | {percent(answer[AGREEMENT_PREFIX + key], '.0f')} |"
            if flips:  # a loss or a metric of FLIP_METRICS without a flip prefers one model throughout
                flip = answer.get(FLIP_PREFIX + key)
                asked = is_loss_key(key) or key in FLIP_METRICS
                line += f" {percent(flip) if flip is not None else 'never' if asked else ''} |"
            lines.append(line)
        if not keys:
            lines.append("| (no two models recall tells apart at one balance) | |" + (" |" if flips else ""))
    if figure_link:
        lines += ["", f"![Agreement with recall of each loss and metric]({figure_link})"]
    return "\n".join(lines)


def answer_figure(answer: Mapping[str, float], *, title: str) -> Figure | None:
    """One horizontal bar per loss and metric: its agreement with recall over the grid (None when
    there is none to show)."""
    keys = [key for key in answer if key.startswith(AGREEMENT_PREFIX)]
    if not keys:
        return None
    from matplotlib.figure import Figure  # ~1 s of start-up a sweep without a figure skips

    shares = np.array([answer[key] for key in keys]) * 100
    figure = Figure(figsize=(6.4, 0.8 + 0.32 * len(keys)), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(keys))[::-1]
    axes.barh(
        positions,
        shares,
        color=["tab:red" if is_loss_key(key.removeprefix(AGREEMENT_PREFIX)) else "tab:blue" for key in keys],
    )
    axes.set_yticks(positions, [key.removeprefix(AGREEMENT_PREFIX) for key in keys])
    for position, share in zip(positions, shares, strict=True):
        axes.text(min(share, 88) + 1, position, f"{share:.0f} %", va="center", fontsize=8)
    axes.axvline(50, color="grey", linewidth=0.8, linestyle=":")
    axes.set_xlim(0, 100)
    axes.set_xlabel("model pairs ordered as recall orders them (%)")
    axes.set_title(title, fontsize=10)
    return figure
