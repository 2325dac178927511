"""The simplex of three classes' validation priors, each point coloured by which of two models a
loss and a metric prefer there (``core.multiclass.prior_flip``): the hue is the metric's choice,
dark where the loss chooses the other model (the disagreement), grey where either ties.

The loss is linear in the prior, so where it ties is a straight line, drawn exactly between the
simplex's edges it crosses; the metric's tie is the 0 contour of its difference on the pixel grid.
The figure is built as ``figures`` builds its own (a ``Figure``, no pyplot, axes placed by hand
rather than by a layout engine, so that saving it costs one draw), at screen resolution.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.checks import InvalidValue
from ..core.multiclass.prior_flip import (
    EPS,
    TIE_ULPS,
    ClassValues,
    check_classes,
    checked_losses,
    checked_metrics,
    loss_differences,
    loss_tie_vertices,
    metric_differences,
)

PIXELS = 400  # grid points across the triangle's base (the figure's width is about 700 pixels)
HEIGHT = math.sqrt(3.0) / 2.0  # of the triangle with a base of 1
CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, HEIGHT]])  # class 0, 1, 2 at (1, 0, 0), ...
# (loss's choice, metric's choice) -> colour: light where they agree, dark where they do not
COLOURS = {
    ("A", "A"): "#9ecae1",
    ("B", "B"): "#fdd0a2",
    ("B", "A"): "#2171b5",
    ("A", "B"): "#d94801",
    "tie": "#bdbdbd",
}


def pixel_priors(pixels: int = PIXELS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid's x and y (the centres of ``pixels`` columns and as many rows as the triangle is
    high) and the prior at each, shape (rows, columns, 3): NaN outside the simplex."""
    columns, rows = pixels, round(pixels * HEIGHT)
    x = (np.arange(columns) + 0.5) / columns
    y = (np.arange(rows) + 0.5) / rows * HEIGHT
    grid_x, grid_y = np.meshgrid(x, y)
    third = grid_y / HEIGHT
    second = grid_x - third / 2
    priors = np.stack([1.0 - second - third, second, third], axis=-1)
    priors[(priors < 0).any(axis=-1)] = np.nan
    return grid_x, grid_y, priors


def ternary_figure(
    model_a: ClassValues, model_b: ClassValues, *, loss: str, metric: str, pixels: int = PIXELS
) -> Figure:
    """The simplex of three classes' priors coloured by which model ``loss`` and ``metric`` prefer."""
    classes = check_classes(model_a, model_b)
    if classes != 3:
        raise InvalidValue(f"{model_a.name} has K={classes} classes; allowed: K=3 for a ternary figure")
    (loss,) = checked_losses([loss], model_a, model_b)
    (metric,) = checked_metrics([metric], classes)
    grid_x, grid_y, priors = pixel_priors(pixels)
    inside = ~np.isnan(priors[..., 0])
    loss_side = np.zeros(inside.shape)
    loss_side[inside] = np.sign(loss_differences(model_a, model_b, loss, priors[inside]))
    metric_difference = np.full(inside.shape, np.nan)
    metric_difference[inside] = metric_differences(model_a, model_b, metric, priors[inside])
    metric_side = np.where(
        np.abs(metric_difference) <= TIE_ULPS * classes * EPS, 0.0, np.sign(metric_difference)
    )

    image = np.zeros((*inside.shape, 4))
    for choices, colour in COLOURS.items():
        if choices == "tie":
            continue
        chosen = inside & (loss_side == _sign(choices[0])) & (metric_side == _sign(choices[1]))
        image[chosen] = to_rgba(colour)
    image[inside & ((loss_side == 0) | (metric_side == 0))] = to_rgba(COLOURS["tie"])

    figure = Figure(figsize=(7.2, 5.0), dpi=100)
    ax = figure.add_axes((0.03, 0.08, 0.52, 0.8))
    ax.imshow(image, origin="lower", extent=(0.0, 1.0, 0.0, HEIGHT), interpolation="nearest")
    outline = np.vstack([CORNERS, CORNERS[:1]])
    ax.plot(outline[:, 0], outline[:, 1], color="black", linewidth=1.0)
    handles: list[Patch | Line2D] = []
    corners = loss_tie_vertices(model_a, model_b, loss)
    if 0 < len(corners) < 3:  # a segment or a single corner (all three: the loss ties everywhere)
        points = corners @ CORNERS
        ax.plot(
            points[:, 0], points[:, 1], color="black", linewidth=2.0, marker="o" if len(points) == 1 else ""
        )
        handles.append(Line2D([], [], color="black", linewidth=2.0, label=f"{loss} ties (exact)"))
    if np.nanmin(metric_difference) < 0 < np.nanmax(metric_difference):
        ax.contour(
            grid_x, grid_y, metric_difference, levels=[0.0], colors="black", linestyles="--", linewidths=1.5
        )
        handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1.5, label=f"{metric} ties"))
    for index, (x, y) in enumerate(CORNERS):
        ax.annotate(
            f"class {index}",
            (x, y),
            xytext=(0, 8 if index == 2 else -14),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.08, HEIGHT + 0.08)
    ax.set_aspect("equal")
    ax.set_axis_off()
    names = {"A": model_a.name, "B": model_b.name}
    handles = [
        Patch(color=COLOURS[("A", "A")], label=f"both prefer A ({names['A']})"),
        Patch(color=COLOURS[("B", "B")], label=f"both prefer B ({names['B']})"),
        Patch(color=COLOURS[("B", "A")], label=f"{loss} prefers B, {metric} A"),
        Patch(color=COLOURS[("A", "B")], label=f"{loss} prefers A, {metric} B"),
        Patch(color=COLOURS["tie"], label="a tie"),
        *handles,
    ]
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(0.57, 0.5), fontsize=8, frameon=False)
    figure.suptitle(f"Which model do {loss} and {metric} prefer at each prior of three classes?", fontsize=10)
    return figure


def _sign(choice: str) -> float:
    return 1.0 if choice == "A" else -1.0
