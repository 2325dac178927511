"""The post's score model, the default: per class, scores uniform on an interval. Its draw and its
exact moments live here, and nowhere else.

A class with accuracy ``acc`` gets scores uniform on an interval of width
``0.5 / max(acc, 1 - acc)`` placed so that exactly a fraction ``acc`` of it lies on the correct
side of the 0.5 threshold (a sample is predicted positive iff its score > 0.5). For acc >= 0.5
this is the post's formula; below 0.5 the interval moves to the wrong side of the threshold.

Exact moments. The distance of a score from its label, ``q = |p - y|``, is then uniform on
``[0, w)`` when the accuracy is >= 0.5 and on ``(1 - w, 1]`` below, ``w = 0.5 / max(acc, 1 - acc)``.
Every loss term is a function of q alone, so a class's moments are one-dimensional integrals:
closed forms for BCE and Brier, Gauss-Legendre quadrature (on panels that close in geometrically
on the log's cusp at q = 1) for the focal terms. Keras's float32 clipping is integrated exactly
(to the range ``clipping`` keeps for this model).

Population values of the ranking metrics and the ECE (``core.population``) take each class's score
law as :class:`UniformScores`, and have closed forms for two of them.

The grid's accuracies apply; nothing is added to a run's params or to the sweep key, so the post's
sweeps keep theirs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..clipping import EPSILON, TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP
from ..from_score_laws import FromScoreLaws
from ..uniform_law import UniformScores, score_interval
from . import PopulationModel, ScoreModel, unknown_keys

PANELS, NODES = 40, 24


def score_chunks(
    rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
) -> Iterator[np.ndarray]:
    """Yield float32 score chunks of at most ``chunk_size`` that together make ``count`` scores.

    One buffer is reused: a chunk is valid until the next is drawn. Drawing in chunks gives the
    same numbers as one big draw (the generator's stream does not depend on the split).
    """
    anchored_at_zero, width = score_interval(label, acc)
    width32 = np.float32(width)
    # Rounding 1 - width*u to float32 can land on the open end 1 - width (at acc = 1 that is
    # 0.5, a wrong prediction); keep the interval open there.
    floor = np.nextafter(np.float32(1.0) - width32, np.float32(2.0))
    buffer = np.empty(min(count, chunk_size), dtype=np.float32)
    for start in range(0, count, chunk_size):
        chunk = buffer[: min(chunk_size, count - start)]
        rng.random(out=chunk, dtype=np.float32)
        np.multiply(chunk, width32, out=chunk)
        if not anchored_at_zero:
            np.subtract(np.float32(1.0), chunk, out=chunk)
            np.maximum(chunk, floor, out=chunk)
        yield chunk


def distance_interval(acc: float) -> tuple[float, float]:
    """The interval on which q = |p - y| is uniform for a class of accuracy ``acc``.

    For a negative q is the score itself, so this is :func:`score_interval`'s for label 0; a
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
    bounds = np.array(sorted(e for e in edges if u_lo <= e <= u_hi))
    left, right = bounds[:-1, None], bounds[1:, None]
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


def term_moments(label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
    """E[x] and E[x^2] of the per-sample term ``bce``, ``sq`` or ``focal`` under the uniform model."""
    if term == "bce":
        return bce_moments(label, acc)
    if term == "sq":
        return brier_moments(acc)
    return focal_moments(label, acc, gamma)


@dataclass(frozen=True)
class UniformModel(FromScoreLaws):
    name: ClassVar[str] = "uniform"
    grid_accuracies: ClassVar[None] = None
    dataset: ClassVar[None] = None  # no input file to log

    def class_scores(
        self, rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
    ) -> Iterator[np.ndarray]:
        return score_chunks(rng, count, label, acc, chunk_size)

    def term_moments(self, label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
        return term_moments(label, acc, term, gamma)

    def class_accuracy(self, label: int, acc: float) -> float:
        return acc

    def score_distribution(self, label: int, acc: float) -> UniformScores:
        return UniformScores(*score_interval(label, acc))

    def params(self) -> dict[str, object]:
        return {}

    def identity(self) -> dict[str, object]:
        return {}


UNIFORM = UniformModel()

if TYPE_CHECKING:  # for mypy: the model gives score laws (core.population takes them)
    _GIVES_LAWS: PopulationModel = UNIFORM


def or_default(score_model: ScoreModel | None) -> ScoreModel:
    """``score_model`` as the public ``simulate`` and ``expected`` take it: a score model, or ``None``,
    which they have always accepted, for the default model :data:`UNIFORM`."""
    return UNIFORM if score_model is None else score_model


def from_config(
    config: Mapping[str, Any], *, start_dir: str | os.PathLike[str] | None = None
) -> UniformModel:
    unknown_keys(config, ())
    return UNIFORM
