"""One-parameter paths through the priors of K classes, along which ``prior_flip`` finds where two
models' preferences change:

* a line between two priors, ``pi(t) = (1 - t) pi0 + t pi1`` for t in [0, 1];
* an exponential long-tail profile (CIFAR-LT's), ``pi_k`` proportional to ``rho**(-k / (K - 1))``,
  its imbalance ratio rho (``pi_0 / pi_{K-1}``) in [rho_low, rho_high], rho >= 1 (1: balanced);
* a Zipf profile, ``pi_k`` proportional to ``(k + 1)**-s``, its exponent s in [s_low, s_high], s >= 0.

Class 0 is the head of both profiles. They are one family, ``pi_k`` proportional to
``exp(-u lambda_k)`` with the rate u = log rho and lambda_k = k / (K - 1), or u = s and
lambda_k = log(k + 1): what lets ``prior_flip`` solve a loss along them exactly. Each path is checked
when made, one line a mistake (core.checks' style).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, shown
from .labelled import checked_classes, per_class
from .loss_settings import finite_at_least

PRIOR_SUM_TOLERANCE = 1e-6  # a prior's numbers must sum to 1 within this (then divided by their sum)
TiltedKind = Literal["exponential", "zipf"]


@dataclass(frozen=True, eq=False)
class LinePath:
    """The priors ``(1 - t) start + t end``, t in [0, 1]."""

    start: NDArray[np.float64]
    end: NDArray[np.float64]
    parameter = "t"
    low = 0.0
    high = 1.0

    @property
    def classes(self) -> int:
        return int(self.start.size)

    def priors(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """The prior at each parameter value: shape ``values.shape + (K,)``."""
        t = np.asarray(values, dtype=np.float64)[..., None]
        priors: NDArray[np.float64] = (1.0 - t) * self.start + t * self.end
        return priors

    def scan(self, points: int) -> NDArray[np.float64]:
        """``points`` parameter values evenly spaced over the path, both ends included."""
        return np.linspace(self.low, self.high, points)


@dataclass(frozen=True)
class TiltedPath:
    """The priors ``pi_k`` proportional to ``exp(-u lambda_k)`` (u the rate of the parameter): an
    exponential profile's ratio rho (u = log rho) or a Zipf exponent s (u = s), in [low, high]."""

    kind: TiltedKind
    classes: int
    low: float
    high: float

    @property
    def parameter(self) -> str:
        return "rho" if self.kind == "exponential" else "s"

    def exponents(self) -> NDArray[np.float64]:
        """lambda_k: k / (K - 1) (exponential) or log(k + 1) (Zipf), increasing from 0."""
        k = np.arange(self.classes, dtype=np.float64)
        return k / (self.classes - 1) if self.kind == "exponential" else np.log1p(k)

    def rates(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """u of each parameter value: log rho, or s itself."""
        values = np.asarray(values, dtype=np.float64)
        return np.log(values) if self.kind == "exponential" else values

    def priors(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """The prior at each parameter value: shape ``values.shape + (K,)``; class 0's weight is 1
        before normalising and the others at most 1, so nothing overflows."""
        weights = np.exp(-self.rates(values)[..., None] * self.exponents())
        priors: NDArray[np.float64] = weights / weights.sum(axis=-1, keepdims=True)
        return priors

    def scan(self, points: int) -> NDArray[np.float64]:
        """``points`` parameter values evenly spaced in the rate (rho log-spaced), both ends included."""
        if self.kind == "exponential":
            return np.geomspace(self.low, self.high, points)
        return np.linspace(self.low, self.high, points)


PriorPath = LinePath | TiltedPath


def line_path(start: Any, end: Any) -> LinePath:
    """The line from prior ``start`` to prior ``end`` (K >= 2 numbers >= 0 summing to 1 each)."""
    first = prior("start", start)
    last = prior("end", end, first.size)
    if np.array_equal(first, last):
        raise InvalidValue(f"end={shown(end)} is the prior start is; allowed: a prior other than start")
    return LinePath(first, last)


def exponential_path(classes: Any, rho_low: Any, rho_high: Any) -> TiltedPath:
    """The exponential profiles of ``classes`` classes with imbalance ratio in [rho_low, rho_high]."""
    return _tilted("exponential", classes, ("rho_low", rho_low), ("rho_high", rho_high), 1.0)


def zipf_path(classes: Any, s_low: Any, s_high: Any) -> TiltedPath:
    """The Zipf profiles of ``classes`` classes with exponent in [s_low, s_high]."""
    return _tilted("zipf", classes, ("s_low", s_low), ("s_high", s_high), 0.0)


def _tilted(
    kind: TiltedKind, classes: Any, low: tuple[str, Any], high: tuple[str, Any], minimum: float
) -> TiltedPath:
    count = checked_classes(classes)
    low_value = finite_at_least(low[0], low[1], minimum)
    high_value = finite_at_least(high[0], high[1], minimum)
    if not high_value > low_value:
        raise InvalidValue(
            f"{high[0]}={shown(high[1])} is not above {low[0]}={shown(low[1])}; allowed: {low[0]} < {high[0]}"
        )
    return TiltedPath(kind, count, low_value, high_value)


def prior(name: str, value: Any, classes: int | None = None) -> NDArray[np.float64]:
    """A prior of K classes (``classes``, or K >= 2 from its length): numbers >= 0 summing to 1
    within :data:`PRIOR_SUM_TOLERANCE`, returned divided by their sum."""
    if classes is None:
        try:
            size = np.shape(value)
        except ValueError:  # a ragged list
            size = ()
        if len(size) != 1:
            raise InvalidValue(f"{name}={shown(value)} is not a list of K >= 2 class priors")
        classes = size[0]
        if classes < 2:
            raise InvalidValue(f"{name} has K={classes} class; allowed: K >= 2 classes")
    numbers = per_class(name, value, classes, positive=False)
    total = math.fsum(numbers.tolist())
    if abs(total - 1.0) > PRIOR_SUM_TOLERANCE:
        raise InvalidValue(
            f"{name} sums to {total:.9g}; allowed: class priors summing to 1 within {PRIOR_SUM_TOLERANCE:g}"
        )
    normalised: NDArray[np.float64] = numbers / total
    return normalised
