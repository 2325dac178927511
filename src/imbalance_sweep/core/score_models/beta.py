"""The Beta score model: per class, the distance of a score from its label is Beta-distributed.

Parametrisation. For a class, ``q = |p - y|`` (the score itself for a negative, ``1 - p`` for a
positive) follows ``Beta(mu * k, (1 - mu) * k)``: ``k`` is the config's ``concentration`` (the sum of
the two shape parameters: small ``k`` puts the scores near 0 and 1, large ``k`` packs them around
``mu``), and the mean distance ``mu`` is solved (scipy) so that the class's accuracy at 0.5 is exactly
the requested one: ``P(q < 0.5) = acc``, i.e. negatives ``P(p <= 0.5) = acc_0s`` and positives
``P(p > 0.5) = acc_1s``. For fixed ``k`` that probability falls strictly as ``mu`` grows, so ``mu`` is
unique; ``acc = 0.5`` gives ``mu = 0.5``; a class with accuracy ``acc`` and one with ``1 - acc`` are
mirror images (``a`` and ``b`` swap). Both classes of one accuracy have the same distance law, as in
the uniform model.

The edges are the family's limits: ``acc = 1`` puts every score at its label (q = 0), ``acc = 0`` on
the other label (q = 1); the losses then see the clipped scores, exactly.

Expectations integrate the clipped per-sample terms against the Beta density: with ``u = 1 - q`` the
probability given to the true class, clipped to Keras's float32 bounds ``[L, H]``
(:data:`clipping.TRUE_CLASS_RANGE`), the tails where the clip holds are incomplete Beta functions
times a constant, and the two middle pieces (``q`` up to 0.5 and from 0.5) are smooth integrals
after ``q = e^-t`` and ``1 - q = e^-s`` respectively, which scipy's ``quad`` takes to 1e-12 relative.

Population values of the ranking metrics and the ECE (``core.population``) take each class's score
law as :class:`BetaScores` (a :class:`PointMass` at acc 0 or 1). Its tails and quantiles are in logits
and come from log t or log(1 - t), whichever side holds the digits: with a shape of 1e-3 most of the
mass lies closer to 0 or 1 than float64 can tell from it, yet still in order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import integrate, optimize, special

from ..checks import InvalidValue, shown
from ..clipping import TRUE_CLASS_RANGE
from ..from_score_laws import FromScoreLaws
from . import PopulationModel, unknown_keys

DEFAULT_CONCENTRATION = 2.0
KEYS = ("concentration",)
# The smallest mean distance the solver tries: below it a shape parameter is subnormal.
SMALLEST_MEAN = 1e-290
BREAK_QUANTILES = np.array(
    [1e-9, 1e-5, 1e-3, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1 - 1e-3, 1 - 1e-5, 1 - 1e-9]
)


def _tail(mu: float, concentration: float) -> float:
    """P(q > 0.5) for q ~ Beta(mu k, (1 - mu) k)."""
    return float(special.betaincc(mu * concentration, (1.0 - mu) * concentration, 0.5))


@cache
def distance_shapes(acc: float, concentration: float) -> tuple[float, float] | None:
    """``(a, b)`` of the class's distance law, or ``None`` at acc 0 or 1 (all mass at q = 1 or 0)."""
    if acc in (0.0, 1.0):
        return None
    wrong = min(acc, 1.0 - acc)  # solve for acc >= 0.5, mirror below
    if wrong == 0.5:
        mu = 0.5
    else:

        def excess(log_mu: float) -> float:
            tail = _tail(math.exp(log_mu), concentration)
            return math.log(tail) - math.log(wrong) if tail > 0 else -math.inf

        # Bracket the root in log(mu): step down from mu = 0.5 (where the tail is 0.5 > wrong),
        # doubling the step, and back up half way whenever the tail underflows to 0.
        high, step = math.log(0.5), 1.0
        low = high - step
        while not -math.inf < excess(low) < 0:
            if excess(low) == -math.inf:
                low = (low + high) / 2
            else:
                high, step = low, 2 * step
                low = high - step
            if low < math.log(SMALLEST_MEAN) or high - low < 1e-9:
                raise InvalidValue(
                    f"score_model=beta cannot give accuracy {acc!r} with concentration={concentration!r}: "
                    "the Beta shape would underflow"
                )
        mu = math.exp(optimize.brentq(excess, low, high, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    a, b = mu * concentration, (1.0 - mu) * concentration
    return (a, b) if acc >= 0.5 else (b, a)


def _clip_bounds(label: int) -> tuple[float, float, float, float]:
    """Where the clip holds, in q: below ``q_low`` bce is ``-log H``, above ``q_high`` it is ``-log L``."""
    low, high = TRUE_CLASS_RANGE[label]
    return 1.0 - high, 1.0 - low, -math.log(high), -math.log(low)


def _bce_at(label: int, q: float) -> float:
    """The clipped bce of one score at distance ``q`` from its label."""
    low, high = TRUE_CLASS_RANGE[label]
    return -math.log(min(max(1.0 - q, low), high))


def _quad(function: Callable[[float], float], lo: float, hi: float, points: np.ndarray) -> float:
    margin = 1e-6 * (hi - lo)  # a break point next to an end would only make a sliver
    inside = sorted({float(point) for point in points if lo + margin < point < hi - margin}) or None
    value: float
    value, _ = integrate.quad(function, lo, hi, points=inside, limit=400, epsabs=1e-16, epsrel=1e-11)
    return value


@cache
def log_term_moment(label: int, a: float, b: float, power: float, order: int) -> float:
    """E[q^power * bce^order] for q ~ Beta(a, b), bce clipped as Keras clips it."""
    q_low, q_high, bce_low, bce_high = _clip_bounds(label)
    log_beta = special.betaln(a, b)
    shifted = a + power
    ratio = math.exp(special.betaln(shifted, b) - log_beta)  # E[q^power]
    # The clipped tails: a constant times E[q^power; q < q_low] and E[q^power; q > q_high].
    value: float = bce_low**order * ratio * special.betainc(shifted, b, q_low)
    value += bce_high**order * ratio * special.betaincc(shifted, b, q_high)

    # q in [q_low, 1/2], q = e^-t: density q^(a-1) (1-q)^(b-1) dq / B = e^-(a t) (1-e^-t)^(b-1) dt / B
    def lower(t: float) -> float:
        log_density = -shifted * t + (b - 1.0) * math.log1p(-math.exp(-t)) - log_beta
        return math.exp(log_density) * (-math.log1p(-math.exp(-t))) ** order

    # q in [1/2, q_high], 1 - q = e^-s, where bce = s
    def upper(s: float) -> float:
        log_density = -b * s + (shifted - 1.0) * math.log1p(-math.exp(-s)) - log_beta
        return math.exp(log_density) * s**order

    # Where the mass of the integrand's Beta(a + power, b) lies: quantiles as break points, so that
    # quad sees a sharp bulk (a large concentration) wherever it sits.
    quantiles = special.betaincinv(shifted, b, BREAK_QUANTILES)
    quantiles = quantiles[(quantiles > 0) & (quantiles < 1)]
    value += _quad(lower, math.log(2.0), -math.log(q_low), -np.log(quantiles))
    value += _quad(upper, math.log(2.0), -math.log(1.0 - q_high), -np.log1p(-quantiles))
    return value


NEWTON_STEPS = 2
EXACT = 1e-17  # a relative error float64 cannot see


def _leading_term_error(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """How far I_x(a, b) is from its series' leading term x^a / (a B(a, b)), relatively: the next term
    is a (1 - b) x / (a + 1) of it (the quantile's, (1 - b) x / (a + 1)). Past float64's range (a law
    with a tiny shape has mass at 1e-400) only that term can give them, from log x."""
    error: np.ndarray = np.abs(1.0 - b) * x / (a + 1.0)
    return error


def _leading_term(a: float, b: float, log_x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # where x is not small, and the term not taken
        term: np.ndarray = np.exp(a * log_x - math.log(a) - special.betaln(a, b))
    return term


def _log_lower_tail(a: float, b: float, log_x: np.ndarray | float) -> np.ndarray:
    """log I_x(a, b), from log x: no underflow however small x is."""
    log_x = np.asarray(log_x, dtype=float)
    x = np.exp(log_x)
    with np.errstate(divide="ignore"):
        log_tail = np.log(special.betainc(a, b, x))
    # the leading term also where I_x underflows (x^a with a large): x is small there
    use_leading = (_leading_term_error(a, b, x) < EXACT) | (log_tail == -np.inf)
    leading_or_tail: np.ndarray = np.where(
        use_leading, a * log_x - math.log(a) - special.betaln(a, b), log_tail
    )
    return leading_or_tail


def _lower_tail(a: float, b: float, log_x: np.ndarray | float) -> np.ndarray:
    """I_x(a, b) = P(X <= x) for X ~ Beta(a, b), from log x: relative to itself where it is small."""
    log_x = np.asarray(log_x, dtype=float)
    x = np.exp(log_x)
    return np.where(
        _leading_term_error(a, b, x) < EXACT, _leading_term(a, b, log_x), special.betainc(a, b, x)
    )


def _upper_tail(a: float, b: float, log_x: np.ndarray | float) -> np.ndarray:
    """P(X >= x) for X ~ Beta(a, b), from log x (x small: to within 1e-16 of it)."""
    log_x = np.asarray(log_x, dtype=float)
    x = np.exp(log_x)
    return np.where(
        _leading_term_error(a, b, x) < EXACT, 1.0 - _leading_term(a, b, log_x), special.betaincc(a, b, x)
    )


def _log_quantile(a: float, b: float, below: np.ndarray | float, above: np.ndarray | float) -> np.ndarray:
    """log x, x <= 1/2, where P(X <= x) = ``below`` = 1 - ``above``, X ~ Beta(a, b).

    scipy's inverse, of the smaller of the two (float64 holds it whole); but where x is small enough
    that the series' leading term is within 1e-4 of I_x (and past float64's range, where only it is),
    that term's inverse and two Newton steps on log I_x against log x: scipy's strays there (by up
    to 10x in x, or NaN) at probabilities near 1e-300.
    """
    below, above = np.asarray(below, dtype=float), np.asarray(above, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_below = np.where(below <= 0.5, np.log(below), np.log1p(-above))
        leading = (log_below + math.log(a) + special.betaln(a, b)) / a
        polish = (_leading_term_error(a, b, np.exp(leading)) < 1e-4) & np.isfinite(leading)
        log_x = leading
        for _ in range(NEWTON_STEPS):
            log_tail = _log_lower_tail(a, b, log_x)
            # d log I / d log x = x f(x) / I(x)
            log_slope = a * log_x + (b - 1.0) * np.log1p(-np.exp(log_x)) - special.betaln(a, b) - log_tail
            log_x = np.where(polish, log_x - (log_tail - log_below) / np.exp(log_slope), log_x)
        inverse = np.where(below <= 0.5, special.betaincinv(a, b, below), special.betainccinv(a, b, above))
        polished_or_inverse: np.ndarray = np.where(polish | ~(inverse > 0), log_x, np.log(inverse))
    return polished_or_inverse


def _log_sigmoid(z: np.ndarray | float) -> np.ndarray:
    """log(t) for t = 1 / (1 + e^-z): no underflow to -inf however negative z is."""
    return -np.logaddexp(0.0, np.negative(z))


@dataclass(frozen=True)
class BetaScores:
    """A class's score law, S ~ Beta(alpha, beta), for population values (``ScoreDistribution``)."""

    alpha: float
    beta: float
    atom: ClassVar[None] = None

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        below: np.ndarray = special.betainc(self.alpha, self.beta, np.clip(t, 0.0, 1.0))
        return below

    def partial_mean(self, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        # t f(t) is the Beta(alpha + 1, beta) density times E[S]
        a, b = self.alpha, self.beta
        shifted = special.betainc(a + 1.0, b, np.clip([low, high], 0.0, 1.0))
        mean: np.ndarray = a / (a + b) * (shifted[1] - shifted[0])
        return mean

    def logit_at_least(self, z: np.ndarray | float) -> np.ndarray:
        # from t's side below 1/2, from 1 - t's (1 - S ~ Beta(beta, alpha)) above: each keeps its digits
        z = np.asarray(z, dtype=float)
        from_below = _upper_tail(self.alpha, self.beta, _log_sigmoid(z))
        from_above = _lower_tail(self.beta, self.alpha, _log_sigmoid(-z))
        return np.where(z <= 0.0, from_below, from_above)

    @cached_property
    def _mass_below_half(self) -> float:
        """P(S <= 1/2): quantiles below it are at most 1/2."""
        return float(special.betainc(self.alpha, self.beta, 0.5))

    def logit_quantile(self, p: np.ndarray | float) -> np.ndarray:
        # log t - log(1 - t), from t's side up to 1/2 and from 1 - t's above (P(1 - S <= 1 - t) = 1 - p):
        # the other one has only its digits near 1
        p = np.asarray(p, dtype=float)
        log_t = _log_quantile(self.alpha, self.beta, p, 1.0 - p)
        log_distance_to_one = _log_quantile(self.beta, self.alpha, 1.0 - p, p)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # in the side not taken
            from_below = log_t - np.log1p(-np.exp(log_t))
            from_above = np.log1p(-np.exp(log_distance_to_one)) - log_distance_to_one
        quantile: np.ndarray = np.where(p <= self._mass_below_half, from_below, from_above)
        return quantile


@dataclass(frozen=True)
class PointMass:
    """Every score at ``atom`` (0 or 1): the Beta model at accuracy 0 or 1 (``ScoreDistribution``)."""

    atom: float

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        return np.where(np.asarray(t) >= self.atom, 1.0, 0.0)

    def partial_mean(self, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        inside = (np.asarray(low) < self.atom) & (self.atom <= np.asarray(high))
        return np.where(inside, self.atom, 0.0)

    def logit_at_least(self, z: np.ndarray | float) -> np.ndarray:
        return np.where(np.asarray(z) <= special.logit(self.atom), 1.0, 0.0)

    def logit_quantile(self, p: np.ndarray | float) -> np.ndarray:
        return np.full(np.shape(p), special.logit(self.atom))


@dataclass(frozen=True)
class BetaModel(FromScoreLaws):
    concentration: float = DEFAULT_CONCENTRATION
    name: ClassVar[str] = "beta"
    grid_accuracies: ClassVar[None] = None
    dataset: ClassVar[None] = None  # no input file to log

    def class_scores(
        self, rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
    ) -> Iterator[np.ndarray]:
        shapes = distance_shapes(acc, self.concentration)
        buffer = np.empty(min(count, chunk_size), dtype=np.float32)
        for start in range(0, count, chunk_size):
            chunk = buffer[: min(chunk_size, count - start)]
            if shapes is None:
                chunk.fill(float(label) if acc == 1.0 else 1.0 - label)
            else:
                distance = rng.beta(shapes[0], shapes[1], size=chunk.size)
                chunk[:] = distance if label == 0 else 1.0 - distance
            yield chunk

    def term_moments(self, label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
        shapes = distance_shapes(acc, self.concentration)
        if shapes is None:  # every score at distance q from its label
            q = 1.0 - acc
            value = {"bce": _bce_at(label, q), "sq": q**2, "focal": q**gamma * _bce_at(label, q)}[term]
            return value, value**2
        a, b = shapes
        if term == "sq":
            k = a + b
            second = a * (a + 1) / (k * (k + 1))
            fourth = second * (a + 2) * (a + 3) / ((k + 2) * (k + 3))
            return second, fourth
        power = 0.0 if term == "bce" else gamma
        return log_term_moment(label, a, b, power, 1), log_term_moment(label, a, b, 2 * power, 2)

    def class_accuracy(self, label: int, acc: float) -> float:
        return acc

    def score_distribution(self, label: int, acc: float) -> BetaScores | PointMass:
        """A negative's score is q ~ Beta(a, b), a positive's 1 - q ~ Beta(b, a)."""
        shapes = distance_shapes(acc, self.concentration)
        if shapes is None:
            return PointMass(float(label) if acc == 1.0 else 1.0 - label)
        a, b = shapes
        return BetaScores(a, b) if label == 0 else BetaScores(b, a)

    def params(self) -> dict[str, object]:
        return {"score_model": self.name, "score_model.concentration": self.concentration}

    def identity(self) -> dict[str, object]:
        # repr() round-trips a float exactly: 2.0 and 2.0000001 are different sweeps
        return {"score_model": self.name, "score_model.concentration": repr(self.concentration)}


if TYPE_CHECKING:  # for mypy: the model gives score laws (core.population takes them)
    _GIVES_LAWS: PopulationModel = BetaModel()


def from_config(config: Mapping[str, Any], *, start_dir: str | os.PathLike[str] | None = None) -> BetaModel:
    unknown_keys(config, KEYS)
    value = config.get("concentration", DEFAULT_CONCENTRATION)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidValue(f"score_model.concentration={shown(value)} is not a finite number > 0")
    return BetaModel(float(value))
