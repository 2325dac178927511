"""Exact moments of the K-class loss terms (``loss_terms``) per true class, under the K-class
uniform model of issue 26: what :mod:`.expected` reduces to a cell's expected losses.

The model. A row of true class k has one confuser c ~ r_k; the binary uniform model draws p with
accuracy a_k (``score_models.uniform``); k and c share the row, every other class scores 0. In
either role of k (the higher index of {k, c} gets p, the lower 1 - p) the score of k itself is
u = 1 - q, q = |p - y| uniform on ``distance_interval(a_k)``, and the confuser's is 1 - u. So every
term is a function of u (and, for the prior-adjusted ones, of c): a 1-D integral over u, mixed over c.

* ``ce`` (cce, class_balanced): -log clip(u): the binary positive's ``bce_moments`` (the same clip);
* ``focal``: (1 - clip(u))**gamma * -log clip(u): Gauss-Legendre on the binary model's panels;
* ``brier``: (1 - u)**2 + (1 - u)**2 = 2 q**2: twice ``brier_moments``;
* ``logit_adjusted``, ``balanced_softmax``, ``ldam``: the softmax cross-entropy of
  z_j = s (log clip(p_j) - m_j [j = k]) + b_j, i.e. log1p((alpha + beta clip(1 - u)**s) / clip(u)**s)
  with alpha = EPS**s (sum of e^b over the classes other than k and c) e^(s m_k - b_k) (the clipped
  zeros) and beta = e^(b_c + s m_k - b_k): it depends on c through e^(b_c) alone, so it is
  integrated once per (accuracy and factors of k, distinct b_c), on panels that close in
  geometrically on both ends of [0, 1] (the log's cusp at 0, the steep log near 1 when beta is
  large) and split at the clip bounds.

Clipping is integrated exactly, as the binary model's: scores are taken continuous (the float32
rounding of the draw is left out) and clipped to [EPS, 1 - EPS] as float32 holds those bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

import numpy as np
from numpy.typing import NDArray

from ..clipping import EPSILON, ONE_MINUS_EPSILON
from ..score_models.uniform import _quadrature_nodes, bce_moments, brier_moments, distance_interval
from .loss_settings import ClassTables

Floats = NDArray[np.float64]
Moments = tuple[Floats, Floats]  # per class: E[x] and E[x^2]

LOW, HIGH = float(EPSILON), float(ONE_MINUS_EPSILON)  # the clip, as float32 holds it
ADJUSTED_PANELS, ADJUSTED_NODES = 24, 12  # per half of [0, 1]; Gauss-Legendre nodes per panel
# With a logit scale s the term is about softplus(log beta - s logit(u)), bent within 1/s of its kink:
# panels end at these multiples of 1/s on either side of it
KINK_STEPS = np.array([0.0, *(sign * 2.0**j for j in range(-2, 6) for sign in (-1.0, 1.0))])


def true_score_interval(acc: float) -> tuple[float, float]:
    """Where u, the score of a row's own class, is uniform for a class of accuracy ``acc``."""
    low, high = distance_interval(acc)
    return 1.0 - high, 1.0 - low


def term_moments(
    terms: Iterable[str], accuracies: Floats, spread: Floats, tables: ClassTables
) -> dict[str, Moments]:
    """Per term of ``terms``: each class's E[x] and E[x^2] (its rows' term, unweighted), for
    ``accuracies`` (K,) and the error ``spread`` (K x K, rows summing to 1, zero diagonal)."""
    moments: dict[str, Moments] = {}
    adjusted: dict[tuple[bytes, bytes, float], Moments] = {}  # the same logits give the same moments
    for term in terms:
        if term == "ce":
            moments[term] = _per_accuracy(accuracies, lambda acc: bce_moments(1, acc))
        elif term == "focal":
            moments[term] = _per_accuracy(accuracies, lambda acc: focal_moments(acc, tables.gamma))
        elif term == "brier":
            first, second = _per_accuracy(accuracies, brier_moments)
            moments[term] = (2.0 * first, 4.0 * second)
        else:
            log_factors, margins, scale = adjusted_logits(term, tables)
            key = (log_factors.tobytes(), margins.tobytes(), scale)  # tau = 1: balanced softmax's
            if key not in adjusted:
                adjusted[key] = adjusted_moments(accuracies, spread, log_factors, margins, scale)
            moments[term] = adjusted[key]
    return moments


def adjusted_logits(term: str, tables: ClassTables) -> tuple[Floats, Floats, float]:
    """The logits' additive factors b, the margins m and the scale s of a prior-adjusted term, as
    ``loss_terms.per_sample_terms`` takes them."""
    zeros = np.zeros(tables.classes)
    if term == "logit_adjusted":
        return tables.logit_adjustment, zeros, 1.0
    if term == "balanced_softmax":
        return tables.balanced_softmax, zeros, 1.0
    return zeros, tables.ldam_margins, tables.scale


def _per_accuracy(accuracies: Floats, moments_of: Callable[[float], tuple[float, float]]) -> Moments:
    """A per-class function of the accuracy alone, evaluated once per distinct accuracy."""
    distinct, inverse = np.unique(accuracies, return_inverse=True)
    values = np.array([moments_of(float(acc)) for acc in distinct])
    return values[inverse, 0], values[inverse, 1]


def focal_moments(acc: float, gamma: float) -> tuple[float, float]:
    """E and E[x^2] of (1 - clip(u))**gamma * -log clip(u): the binary ``focal_moments`` with the
    weight clipped too, as the K-class term clips it."""
    u_lo, u_hi = true_score_interval(acc)
    u, weights = _quadrature_nodes(u_lo, u_hi)
    clipped = np.clip(u, LOW, HIGH)
    focal = (1.0 - clipped) ** gamma * -np.log(clipped)
    width = u_hi - u_lo
    return float(weights @ focal) / width, float(weights @ focal**2) / width


@cache
def _legendre(nodes: int) -> tuple[Floats, Floats]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return x, w


@cache
def adjusted_nodes(
    u_lo: float,
    u_hi: float,
    kinks: tuple[float, ...] = (),
    kink_width: float = 1.0,
    panels: int = ADJUSTED_PANELS,
    nodes: int = ADJUSTED_NODES,
) -> Moments:
    """Nodes and weights on [u_lo, u_hi] for the prior-adjusted terms: panels geometric towards 0
    and towards 1 (``panels`` each, down to EPS / 8 from the end), split at the clip bounds and
    around each logit of ``kinks`` at :data:`KINK_STEPS` times ``kink_width``."""
    towards = np.geomspace(LOW / 8, 0.5, panels)
    edges = {u_lo, u_hi, LOW, HIGH, 1.0 - HIGH, 1.0 - LOW, *towards.tolist(), *(1.0 - towards).tolist()}
    for kink in kinks:
        edges.update((1.0 / (1.0 + np.exp(-(kink + kink_width * KINK_STEPS)))).tolist())
    bounds = np.array(sorted(e for e in edges if u_lo <= e <= u_hi))
    left, right = bounds[:-1, None], bounds[1:, None]
    x, w = _legendre(nodes)
    points = (left + right) / 2 + (right - left) / 2 * x
    return points.ravel(), ((right - left) / 2 * w).ravel()


def adjusted_moments(
    accuracies: Floats, spread: Floats, log_factors: Floats, margins: Floats, scale: float
) -> Moments:
    """Each class's E and E[x^2] of a prior-adjusted term, mixed over its confusers (the variance
    then includes the spread between confusers, as a row's confuser is drawn)."""
    factors = np.exp(log_factors - log_factors.max())  # e^b up to a common factor, which cancels
    total = float(factors.sum())
    own = np.exp(scale * margins) / factors  # e^(s m_k - b_k)
    confusers, confuser_group = np.unique(factors, return_inverse=True)
    # per class k and distinct e^(b_c): the share of k's errors that go to such confusers
    shares = spread @ (confuser_group.ravel()[:, None] == np.arange(confusers.size))
    rows, row_group = np.unique(np.stack([accuracies, factors, own]), axis=1, return_inverse=True)
    first = np.zeros((rows.shape[1], confusers.size))
    second = np.zeros_like(first)
    clip_zero = LOW**scale
    for group, (acc, factor, own_factor) in enumerate(rows.T.tolist()):
        beta = confusers * own_factor
        alpha = clip_zero * np.maximum(total - factor - confusers, 0.0) * own_factor  # the zeros' share
        # with s != 1 the term bends sharply where beta ((1 - u) / u)**s = 1 (ldam: one beta)
        kinks = () if scale == 1.0 else tuple((np.log(beta) / scale).tolist())
        u_lo, u_hi = true_score_interval(acc)
        u, weights = adjusted_nodes(u_lo, u_hi, kinks, 1.0 / scale)
        values = _adjusted_terms(u, alpha[:, None], beta[:, None], scale)
        first[group] = values @ weights / (u_hi - u_lo)
        second[group] = values**2 @ weights / (u_hi - u_lo)
    row_group = row_group.ravel()
    return (shares * first[row_group]).sum(axis=1), (shares * second[row_group]).sum(axis=1)


def _adjusted_terms(u: Floats, alpha: Floats, beta: Floats, scale: float) -> Floats:
    """log1p((alpha + beta clip(1 - u)**s) / clip(u)**s); where a power leaves float64's range, the
    same from logs (as ``loss_terms`` recomputes such samples by log-sum-exp)."""
    log_true, log_confuser = np.log(np.clip(u, LOW, HIGH)), np.log(np.clip(1.0 - u, LOW, HIGH))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        values: Floats = np.log1p((alpha + beta * np.exp(scale * log_confuser)) / np.exp(scale * log_true))
        unsafe = ~np.isfinite(values)
        if unsafe.any():
            log_ratio = np.logaddexp(np.log(alpha), np.log(beta) + scale * log_confuser) - scale * log_true
            values = np.where(unsafe, np.logaddexp(0.0, log_ratio), values)
    return values
