"""Exact population values of a cell: no sampling. The uniform score model's moments live here;
other score models (``score_models``) give their own per-class moments to the same reductions.

Per class, the distance of a score from its label, ``q = |p - y|``, is uniform on ``[0, w)`` when
the class's accuracy is >= 0.5 and on ``(1 - w, 1]`` below, with ``w = 0.5 / max(acc, 1 - acc)``
(see ``simulator``). Every loss term is a function of q alone, so a cell's expected losses are
one-dimensional integrals: closed forms for BCE and Brier, Gauss-Legendre quadrature (on panels
that close in geometrically on the log's cusp at q = 1) for the focal terms. The clipping of
scores to [1e-7, 1 - 1e-7] in float32, as Keras does, is integrated exactly.

Alongside each value comes the standard error a sampled cell of that size would have: from the
per-class variances for losses (the classes are drawn independently, each of fixed size), and by the
delta method over the two binomial counts for metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache

import numpy as np

from .clipping import EPSILON, TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP
from .evaluation import check_loss_settings
from .grid import Cell, make_cell
from .losses import LOSS_NAMES, LOSSES, class_weight
from .metrics import METRIC_NAMES, confusion_metrics
from .simulator import score_interval

PANELS, NODES = 40, 24


def distance_interval(acc: float) -> tuple[float, float]:
    """The interval on which q = |p - y| is uniform for a class of accuracy ``acc``.

    For a negative q is the score itself, so this is the simulator's interval for label 0; a
    positive's q = 1 - p has the same interval by symmetry.
    """
    anchored_at_zero, width = score_interval(0, acc)
    return (0.0, width) if anchored_at_zero else (1.0 - width, 1.0)


def _integral_of_minus_log(a: float, b: float) -> float:
    """Integral of -log(u) over [a, b], a >= 0."""

    def antiderivative(u: float) -> float:
        return u - u * math.log(u) if u > 0 else 0.0

    return antiderivative(b) - antiderivative(a)


def _integral_of_log_squared(a: float, b: float) -> float:
    """Integral of log(u)^2 over [a, b], a >= 0."""

    def antiderivative(u: float) -> float:
        return u * math.log(u) ** 2 - 2 * u * math.log(u) + 2 * u if u > 0 else 0.0

    return antiderivative(b) - antiderivative(a)


def bce_moments(label: int, acc: float) -> tuple[float, float]:
    """E[bce_i] and E[bce_i^2] for one class, in closed form.

    With u = 1 - q the probability given to the true class, bce_i = -log(clip(u)): constant below
    and above the clipping bounds, -log(u) between them.
    """
    lo, hi = distance_interval(acc)
    u_lo, u_hi = 1.0 - hi, 1.0 - lo
    low, high = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label]
    below = max(0.0, min(u_hi, low) - u_lo)
    above = max(0.0, u_hi - max(u_lo, high))
    a, b = max(u_lo, low), min(u_hi, high)
    first = below * -math.log(low) + above * -math.log(high)
    second = below * math.log(low) ** 2 + above * math.log(high) ** 2
    if b > a:
        first += _integral_of_minus_log(a, b)
        second += _integral_of_log_squared(a, b)
    width = u_hi - u_lo
    return first / width, second / width


def brier_moments(acc: float) -> tuple[float, float]:
    """E[q^2] and E[q^4] for one class, in closed form."""
    lo, hi = distance_interval(acc)
    width = hi - lo
    return (hi**3 - lo**3) / (3 * width), (hi**5 - lo**5) / (5 * width)


@cache
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(NODES)


def _quadrature_nodes(u_lo: float, u_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [u_lo, u_hi]: panels geometric towards u = 0, split at the clip bounds."""
    edges = {
        u_lo,
        u_hi,
        *TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[0],
        *TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[1],
    }
    edges.update(np.geomspace(float(EPSILON) / 8, 1.0, PANELS).tolist())
    edges = np.array(sorted(e for e in edges if u_lo <= e <= u_hi))
    left, right = edges[:-1, None], edges[1:, None]
    x, w = _gauss_legendre()
    nodes = (left + right) / 2 + (right - left) / 2 * x
    weights = (right - left) / 2 * w
    return nodes.ravel(), weights.ravel()


@cache  # a grid repeats each accuracy across its balances
def focal_moments(label: int, acc: float, gamma: float) -> tuple[float, float]:
    """E[q^gamma bce_i] and its second moment for one class, by quadrature over u = 1 - q."""
    lo, hi = distance_interval(acc)
    u, weights = _quadrature_nodes(1.0 - hi, 1.0 - lo)
    low, high = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label]
    focal = (1.0 - u) ** gamma * -np.log(np.clip(u, low, high))
    width = hi - lo
    return float(weights @ focal) / width, float(weights @ focal**2) / width


def uniform_term_moments(label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
    """E[x] and E[x^2] of the per-sample term ``bce``, ``sq`` or ``focal`` under the uniform model."""
    if term == "bce":
        return bce_moments(label, acc)
    if term == "sq":
        return brier_moments(acc)
    return focal_moments(label, acc, gamma)


def class_term_moments(
    label: int, acc: float, terms: Iterable[str], *, alpha: float, gamma: float, model=None
):
    """Per term: (mean, variance) of the per-sample value for one class, under ``model`` (a score
    model of ``score_models``; ``None``: the uniform model)."""
    raw = uniform_term_moments if model is None else model.term_moments
    moments = {}
    for term in terms:
        first, second = raw(label, acc, "focal" if term == "focal_balanced" else term, gamma)
        if term == "focal_balanced":
            weight = class_weight(label, alpha)
            first, second = weight * first, weight**2 * second
        moments[term] = (first, max(second - first**2, 0.0))
    return moments


def expected_losses(
    cell: Cell, losses: Iterable[str], *, alpha: float, gamma: float, model=None
) -> dict[str, float]:
    """``loss/<name>`` and ``stderr/loss/<name>`` of a cell, exactly (``model``: its score model)."""
    losses = list(losses)
    terms = {LOSSES[name][0] for name in losses}
    counts = (cell.num_0s, cell.num_1s)
    accs = (cell.acc_0s, cell.acc_1s)
    per_class = [
        class_term_moments(label, accs[label], terms, alpha=alpha, gamma=gamma, model=model)
        if counts[label]
        else {}
        for label in (0, 1)
    ]
    total = sum(counts)
    values = {}
    for name in losses:
        term, reduction = LOSSES[name]
        present = [(count, moments[term]) for count, moments in zip(counts, per_class, strict=True) if count]
        if reduction == "class_mean":
            value = sum(mean for _, (mean, _) in present) / len(present)
            error = math.sqrt(sum(var / count for count, (_, var) in present)) / len(present)
        else:
            value = sum(count * mean for count, (mean, _) in present)
            error = math.sqrt(sum(count * var for count, (_, var) in present))
            if reduction == "mean":
                value, error = value / total, error / total
        values[f"loss/{name}"] = value
        values[f"stderr/loss/{name}"] = error
    return values


def expected_metrics(cell: Cell, model=None) -> dict[str, float]:
    """Each metric at the expected confusion counts, and its delta-method standard error.

    tn ~ Binomial(num_0s, acc_0s) and tp ~ Binomial(num_1s, acc_1s), independently, with each
    class's accuracy as its score model (``None``: uniform) gives it.
    """
    n0, n1, a0, a1 = cell.num_0s, cell.num_1s, cell.acc_0s, cell.acc_1s
    if model is not None:
        a0, a1 = model.class_accuracy(0, a0), model.class_accuracy(1, a1)

    def at(tp: float, tn: float) -> dict[str, float]:
        return confusion_metrics(tp=tp, fp=n0 - tn, tn=tn, fn=n1 - tp)

    tp, tn = n1 * a1, n0 * a0
    values = at(tp, tn)

    def slopes(count: float, total: int, shifted) -> dict[str, float]:
        """d metric / d count by a central difference, kept inside [0, total] (one-sided at the ends)."""
        step = 1e-4 * total
        up, down = min(count + step, total), max(count - step, 0.0)
        above, below = shifted(up), shifted(down)
        return {name: (above[name] - below[name]) / (up - down) for name in METRIC_NAMES}

    variance_tp, variance_tn = n1 * a1 * (1 - a1), n0 * a0 * (1 - a0)
    zero = dict.fromkeys(METRIC_NAMES, 0.0)
    slope_tp = slopes(tp, n1, lambda x: at(x, tn)) if variance_tp else zero
    slope_tn = slopes(tn, n0, lambda x: at(tp, x)) if variance_tn else zero
    for name in METRIC_NAMES:
        values[f"stderr/{name}"] = math.sqrt(
            slope_tp[name] ** 2 * variance_tp + slope_tn[name] ** 2 * variance_tn
        )
    return values


def expected_cell(
    cell: Cell, *, losses: Iterable[str], alpha: float, gamma: float, model=None
) -> dict[str, float]:
    """A cell's population values under the same keys a sampled cell logs, plus ``stderr/<key>``;
    ``model`` is its score model (``score_models``; ``None``: uniform)."""
    return {
        **expected_losses(cell, losses, alpha=alpha, gamma=gamma, model=model),
        **expected_metrics(cell, model),
    }


def beside_sampled(expected: dict[str, float]) -> dict[str, float]:
    """What a sampled cell logs next to its own values: ``expected/<key>`` for every value, and
    the standard errors of the losses (a metric's follows from its expected counts; each logged
    value costs the tracking store a row, and a big sweep's time is mostly the store's)."""
    return {
        key if key.startswith("stderr/") else f"expected/{key}": value
        for key, value in expected.items()
        if not key.startswith("stderr/") or key.startswith("stderr/loss/")
    }


def expected(
    num_0s,
    acc_0s,
    num_1s,
    acc_1s,
    *,
    losses=LOSS_NAMES,
    alpha: float = 0.25,
    gamma: float = 2.0,
    score_model=None,
):
    """Public API: a cell's exact population values (``loss/<name>``, metrics) and ``stderr/<key>``.

    ``score_model`` is a value of ``score_models`` (``None``: the uniform model); one that sets its
    own accuracies (``empirical``) ignores ``acc_0s`` and ``acc_1s``.
    """
    losses, _, alpha, gamma, _ = check_loss_settings(losses, "numpy", alpha, gamma, 1)
    if score_model is not None and score_model.grid_accuracies is not None:
        acc_0s, acc_1s = score_model.grid_accuracies
    return expected_cell(
        make_cell(num_0s, num_1s, acc_0s, acc_1s), losses=losses, alpha=alpha, gamma=gamma, model=score_model
    )
