"""The K-class flip's chart: each loss's (top) and metric's (bottom) preference between two models
along a path of validation priors, as a relative margin (> 0 prefers A), a dotted line at each flip.
The binary flip's chart (``figures.preference_chart``) against prevalence, drawn for a path's
parameter: rho on a log scale, s and t on a linear one. A ``Figure`` without pyplot, as ``figures``."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..core.multiclass.prior_flip import (
    ClassValues,
    PathFlips,
    PathPreference,
    loss_differences,
    metric_differences,
    metric_value,
)
from ..core.multiclass.prior_paths import LinePath
from ..core.vocabulary import loss_key

POINTS = 257  # values of the path's parameter the curves are drawn at


def relative_margin(
    a: ClassValues, b: ClassValues, preference: PathPreference, priors: np.ndarray
) -> np.ndarray:
    """The preference for A at each prior, over the two models' mean magnitude (0 where both are 0)."""
    if preference.is_loss:
        difference = loss_differences(a, b, preference.name, priors)
        value_a, value_b = (
            priors @ a.weighted_terms(preference.name),
            priors @ b.weighted_terms(preference.name),
        )
    else:
        difference = metric_differences(a, b, preference.name, priors)
        value_a, value_b = metric_value(a, preference.name, priors), metric_value(b, preference.name, priors)
    scale = (np.abs(value_a) + np.abs(value_b)) / 2
    margin: np.ndarray = np.divide(difference, scale, out=np.zeros_like(difference), where=scale > 0)
    return margin


def path_chart(a: ClassValues, b: ClassValues, found: PathFlips) -> Figure:
    """Each loss's and metric's relative margin for A along ``found.path``, flips marked."""
    path = found.path
    values = path.scan(POINTS)
    priors = path.priors(values)
    figure = Figure(figsize=(9.5, 7.5), layout="constrained")
    loss_ax, metric_ax = figure.subplots(2, 1, sharex=True)
    drawn = {loss_ax: 0, metric_ax: 0}
    for preference in found.preferences:
        ax = loss_ax if preference.is_loss else metric_ax
        name = loss_key(preference.name) if preference.is_loss else preference.name
        where = ", ".join(f"{value:.3g}" for value in preference.flips)
        (line,) = ax.plot(
            values,
            relative_margin(a, b, preference, priors),
            linewidth=1.6,
            linestyle="-" if drawn[ax] < 10 else "--",  # past the 10 colours of the cycle
            label=f"{name}: flips at {path.parameter} = {where}" if where else name,
        )
        drawn[ax] += 1
        for flip in preference.flips:
            ax.axvline(flip, color=line.get_color(), linestyle=":", linewidth=1.2)
    for ax, kind in ((loss_ax, "loss"), (metric_ax, "metric")):
        ax.axhline(0.0, color="grey", linewidth=1)
        if not isinstance(path, LinePath) and path.kind == "exponential":
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.set_ylabel(f"{kind}: relative margin\n> 0 prefers A, < 0 prefers B")
        if drawn[ax]:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    metric_ax.set_xlabel(_axis_label(found))
    loss_ax.set_title(
        f"Which model does each loss and metric prefer?  A: {found.model_a}   B: {found.model_b}"
    )
    return figure


def _axis_label(found: PathFlips) -> str:
    path = found.path
    if isinstance(path, LinePath):
        return "t: the validation prior (1 - t) path.from + t path.to"
    if path.kind == "exponential":
        return f"rho: the validation prior's imbalance ratio pi_0 / pi_{path.classes - 1} (exponential profile, log scale)"
    return "s: the validation prior's Zipf exponent, pi_k proportional to (k + 1)^-s"
