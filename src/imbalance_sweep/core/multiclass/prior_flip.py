"""Where two K-class models' preferences flip as the validation prior moves along a path
(``prior_paths``), for a loss and for a confusion-based metric, and where a loss and a metric agree.

A model is given by its class-conditional values (:class:`ClassValues`): for each loss, the
expected per-sample term l_k of each true class k and the class weight w_k (the loss under a
validation prior pi is ``sum_k pi_k w_k l_k``: each loss is a mean over the samples of a per-class
term weighted by w_y, and the weights follow the training counts, not the validation prior:
``losses``), and its row-stochastic confusion matrix M (rows the true class): under pi the
expected confusion counts are ``pi_k M_kc``, and each metric of ``confusion`` follows from them
(:func:`confusion.float_confusion_metrics`).

The difference of two models is oriented so that > 0 means A is preferred (the registry says which
way is better: lower for the losses, higher for these metrics). For a loss it is
``sum_k pi_k d_k``, ``d_k = w^B_k l^B_k - w^A_k l^A_k`` (a d_k within rounding of 0 taken as 0), so
its flips are exact:

* along a line, ``(1 - t) D(pi0) + t D(pi1)``: one root, ``t = D0 / (D0 - D1)`` (sums exact, fsum);
* along the exponential profile, the sign of the polynomial ``P(x) = sum_k d_k x^k`` in
  ``x = rho**(-1 / (K - 1))``: numpy's roots, those near the real axis taken as candidates; the sign
  is read between neighbouring candidates and each change bisected in rho to adjacent floats. A
  candidate without a change where P is 0 to rounding is a touch (a tie, both sides one model);
* along Zipf, and along the exponential profile above :data:`POLYNOMIAL_MAX_CLASSES` classes (in
  u = log rho, exponents k / (K - 1)), the sign of ``E(s) = sum_k d_k (k + 1)**-s``: an exponential sum, with at most as many
  roots as sign changes of d (Laguerre's rule of signs; the exponents log(k + 1) increase with k).
  Multiplying by ``exp(mu s)``, mu between the exponents of one sign change, and differentiating
  gives a sum with one change fewer, whose roots (found the same way, down to a sum without a
  change) split the range into pieces where the product is monotone: at most one root each,
  bracketed and bisected to adjacent floats. An extremum where E is 0 to rounding is a touch.

A metric is a ratio of linear forms in pi, not solved in closed form: its difference is scanned
(:data:`SCAN_POINTS` values, evenly spaced in t, log rho or s), each change of sign bisected to
adjacent floats, and each scanned local minimum of ``|difference|`` searched (golden section) for a
dip to 0 between two scan points: a touch, or two flips the scan stepped over. Values within
``64 K eps`` of 0 count as a tie (the metrics' rounding). A class with prior 0 counts 0 in a macro
mean (``confusion``), so at the end of a line where a class vanishes a metric can jump, and flip.

The answer: the flips (parameter values where the preferred model changes), the touches, and the
intervals between flips labelled A, B or tie (tie: the two are equal all along it); for a loss and
a metric, the intervals where they agree, disagree (one prefers A, the other B) or one ties.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.polynomial import Polynomial
from numpy.typing import NDArray

from ..checks import InvalidValue, names_from, shown
from ..vocabulary import (
    MULTICLASS_LOSS_NAMES,
    MULTICLASS_LOSSES_BY_NAME,
    MULTICLASS_METRICS,
    PER_CLASS_METRICS,
    class_key,
)
from .confusion import float_confusion_metrics
from .labelled import per_class
from .prior_paths import LinePath, PriorPath, TiltedPath

Floats = NDArray[np.float64]
Preferred = Literal["A", "B", "tie"]
Verdict = Literal["agree", "disagree", "undecided"]
SignAt = Callable[[float], float]

EPS = float(np.finfo(np.float64).eps)
ROW_SUM_TOLERANCE = 1e-6  # a confusion matrix's rows must sum to 1 within this
SCAN_POINTS = 2049  # a metric's difference is scanned at this many values of the path
TIE_ULPS = 64  # a metric difference within TIE_ULPS * K * eps of 0 is a tie
MAX_BISECTIONS = 2200  # enough to reach adjacent floats from any two finite ones
GOLDEN_STEPS = 100
SCAN_BLOCK_VALUES = 1 << 20  # priors x classes evaluated at once
# Above this K the exponential profile's polynomial roots (the eigenvalues of a K x K companion
# matrix: seconds at K = 1000) give way to the isolation of its exponential sum in log rho, as Zipf's
POLYNOMIAL_MAX_CLASSES = 100

# The metrics of the expected confusion counts, by the registry; per class: ``<name>/class_<k>``
CONFUSION_METRICS = {metric.name: metric for metric in MULTICLASS_METRICS if metric.kind == "confusion"}
PER_CLASS_CONFUSION = {metric.name: metric for metric in PER_CLASS_METRICS if metric.kind == "confusion"}
PER_CLASS_KEY = re.compile(r"(?P<name>[a-z0-9]+)/class_(?P<label>[0-9]+)")


@dataclass(frozen=True, eq=False)
class ClassValues:
    """One model's class-conditional values: its confusion rates and, per loss, the expected term
    and the weight of each true class. Made by :func:`class_values`, which checks them."""

    name: str
    confusion: Floats  # (K, K), rows the true class, each summing to 1
    loss_terms: Mapping[str, Floats]
    loss_weights: Mapping[str, Floats]

    @property
    def classes(self) -> int:
        return int(self.confusion.shape[0])

    def weighted_terms(self, loss: str) -> Floats:
        """w_k l_k of ``loss``: its value under prior pi is their sum weighted by pi."""
        weighted: Floats = self.loss_weights[loss] * self.loss_terms[loss]
        return weighted


def class_values(name: str, confusion: Any, loss_terms: Any = None, loss_weights: Any = None) -> ClassValues:
    """A model ``name`` (named so in messages) of confusion rates (K x K, K >= 2, numbers >= 0, each
    row summing to 1), ``loss_terms`` (loss name -> K expected terms >= 0) and ``loss_weights`` (loss
    name -> K class weights >= 0; a loss without: all 1)."""
    matrix = _confusion_rates(f"{name}.confusion", confusion)
    classes = matrix.shape[0]
    terms = {
        loss: per_class(f"{name}.loss_terms[{loss!r}]", values, classes, positive=False)
        for loss, values in _loss_mapping(f"{name}.loss_terms", loss_terms, MULTICLASS_LOSS_NAMES).items()
    }
    weights = {
        loss: per_class(f"{name}.loss_weights[{loss!r}]", values, classes, positive=False)
        for loss, values in _loss_mapping(f"{name}.loss_weights", loss_weights, tuple(terms)).items()
    }
    for loss in terms:
        weights.setdefault(loss, np.ones(classes))
    return ClassValues(name, matrix, terms, weights)


def _confusion_rates(name: str, value: Any) -> Floats:
    try:
        shape = np.shape(value)
    except ValueError:  # a ragged list
        shape = ()
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2:
        raise InvalidValue(
            f"{name} has shape {shape}; allowed: (K, K) with K >= 2, row k the rates of true class k"
        )
    classes = shape[0]
    rows = [per_class(f"{name}[{k}]", row, classes, positive=False) for k, row in enumerate(value)]
    for k, row in enumerate(rows):
        total = math.fsum(row.tolist())
        if abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise InvalidValue(
                f"{name}[{k}] sums to {total:.9g}; allowed: rows summing to 1 within "
                f"{ROW_SUM_TOLERANCE:g} (the rates of true class {k})"
            )
    return np.array(rows)


def _loss_mapping(name: str, value: Any, allowed: Sequence[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{name}={shown(value)} is not a mapping of loss names to K class values")
    if value:
        names_from(f"{name} keys", list(value), allowed)
    return dict(value)


# --- the two models' difference at any priors --------------------------------------------------


def loss_coefficients(model_a: ClassValues, model_b: ClassValues, loss: str) -> Floats:
    """d with ``sum_k pi_k d_k`` the loss's preference for A over B under prior pi (> 0: A has the
    better value); a d_k within rounding of 0 is 0, so equal models tie exactly."""
    a, b = model_a.weighted_terms(loss), model_b.weighted_terms(loss)
    difference = b - a if MULTICLASS_LOSSES_BY_NAME[loss].lower_is_better else a - b
    difference[np.abs(difference) <= 4 * EPS * np.maximum(np.abs(a), np.abs(b))] = 0.0
    return difference


def loss_differences(model_a: ClassValues, model_b: ClassValues, loss: str, priors: Floats) -> Floats:
    """The loss's preference for A (> 0) at each prior of ``priors`` (..., K)."""
    differences: Floats = np.asarray(priors) @ loss_coefficients(model_a, model_b, loss)
    return differences


def metric_value(model: ClassValues, metric: str, priors: Floats) -> Floats:
    """The metric of the expected confusion counts ``pi_k M_kc`` at each prior of ``priors`` (..., K)."""
    priors = np.asarray(priors, dtype=np.float64)
    correct = priors * np.diag(model.confusion)
    rows = priors * model.confusion.sum(axis=1)
    columns = priors @ model.confusion
    return float_confusion_metrics(correct, rows, columns)[metric]


def metric_differences(model_a: ClassValues, model_b: ClassValues, metric: str, priors: Floats) -> Floats:
    """The metric's preference for A (> 0: A has the better value) at each prior of ``priors``."""
    a, b = metric_value(model_a, metric, priors), metric_value(model_b, metric, priors)
    difference: Floats = b - a if _metric_of(metric).lower_is_better else a - b
    return difference


def loss_tie_vertices(model_a: ClassValues, model_b: ClassValues, loss: str) -> Floats:
    """The corners of the set of priors where the loss ties (a hyperplane through the simplex, so
    its corners lie on the simplex's edges), one prior a row: for K = 3 the ends of a segment."""
    d = loss_coefficients(model_a, model_b, loss)
    corners: list[Floats] = []
    identity = np.eye(d.size)
    for i, j in itertools.combinations(range(d.size), 2):
        if d[i] == 0:
            corners.append(identity[i])
        if d[j] == 0:
            corners.append(identity[j])
        if d[i] * d[j] < 0:
            t = d[i] / (d[i] - d[j])
            corners.append((1.0 - t) * identity[i] + t * identity[j])
    if not corners:
        return np.empty((0, d.size))
    unique: Floats = np.unique(np.array(corners), axis=0)
    return unique


# --- the answer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A stretch of the path where one model is preferred (or the two tie all along)."""

    low: float
    high: float
    preferred: Preferred


@dataclass(frozen=True)
class PathPreference:
    """How one loss or metric ranks the two models along a path."""

    name: str
    is_loss: bool
    lower_is_better: bool
    parameter: str  # t, rho or s
    flips: tuple[float, ...]  # where the preferred model changes
    touches: tuple[float, ...]  # where the two tie but the same model is preferred on both sides
    intervals: tuple[Interval, ...]  # between the flips, in order, covering the path

    def preferred_at(self, value: float) -> Preferred:
        """The model preferred at ``value`` (at a flip: the one preferred above it)."""
        for interval in self.intervals:
            if interval.low <= value < interval.high:
                return interval.preferred
        return self.intervals[-1].preferred


@dataclass(frozen=True)
class Agreement:
    """A stretch of the path and what a loss and a metric each prefer along it."""

    low: float
    high: float
    loss: Preferred
    metric: Preferred

    @property
    def verdict(self) -> Verdict:
        """agree: the same; disagree: one prefers A, the other B; undecided: one of them ties."""
        if self.loss == self.metric:
            return "agree"
        return "undecided" if "tie" in (self.loss, self.metric) else "disagree"


@dataclass(frozen=True)
class PairAgreement:
    """Where along the path a loss and a metric agree on the preferred model."""

    loss: str
    metric: str
    intervals: tuple[Agreement, ...]

    def where(self, verdict: Verdict) -> tuple[tuple[float, float], ...]:
        """The stretches of the path with this verdict, as (low, high)."""
        return tuple((part.low, part.high) for part in self.intervals if part.verdict == verdict)


@dataclass(frozen=True, eq=False)
class PathFlips:
    """Every loss's and metric's preference along one path, and each (loss, metric) pair's agreement."""

    path: PriorPath
    model_a: str
    model_b: str
    preferences: tuple[PathPreference, ...]
    pairs: tuple[PairAgreement, ...]


def path_flips(
    model_a: ClassValues, model_b: ClassValues, path: PriorPath, *, losses: Any = (), metrics: Any = ()
) -> PathFlips:
    """Where along ``path`` each of ``losses`` and ``metrics`` prefers A or B, and each pair's agreement."""
    classes = check_classes(model_a, model_b, path)
    loss_names = checked_losses(losses, model_a, model_b)
    metric_names = checked_metrics(metrics, classes)
    if not loss_names and not metric_names:
        raise InvalidValue("losses=[] and metrics=[]: name at least one loss or metric to compare")
    found = [loss_preference(model_a, model_b, name, path) for name in loss_names]
    found += [metric_preference(model_a, model_b, name, path) for name in metric_names]
    by_name = {preference.name: preference for preference in found}
    pairs = tuple(agreement(by_name[loss], by_name[metric]) for loss in loss_names for metric in metric_names)
    return PathFlips(path, model_a.name, model_b.name, tuple(found), pairs)


def check_classes(model_a: ClassValues, model_b: ClassValues, path: PriorPath | None = None) -> int:
    """K, the same for both models (and the path)."""
    classes = model_a.classes
    if model_b.classes != classes:
        raise InvalidValue(
            f"{model_b.name} has K={model_b.classes} classes; allowed: K={classes}, as {model_a.name}"
        )
    if path is not None and path.classes != classes:
        raise InvalidValue(f"path has K={path.classes} classes; allowed: K={classes}, as the models")
    return classes


def checked_losses(losses: Any, model_a: ClassValues, model_b: ClassValues) -> tuple[str, ...]:
    """``losses`` (names, or one comma-separated string), each with terms in both models; [] for none."""
    if isinstance(losses, (list, tuple)) and not losses:
        return ()
    both = tuple(
        name for name in MULTICLASS_LOSS_NAMES if name in model_a.loss_terms and name in model_b.loss_terms
    )
    return names_from("losses", losses, both or ("(none: the models have no loss terms)",))


def checked_metrics(metrics: Any, classes: int) -> tuple[str, ...]:
    """``metrics`` (names, or one comma-separated string), each of the confusion counts of K classes
    (per class too: ``recall/class_001``); [] for none."""
    if isinstance(metrics, str):
        metrics = [part.strip() for part in metrics.split(",") if part.strip()]
    if isinstance(metrics, (list, tuple)) and not metrics:
        return ()
    per_class_keys = (class_key(name, k, classes) for name in PER_CLASS_CONFUSION for k in range(classes))
    allowed = (*CONFUSION_METRICS, *per_class_keys)
    for index, item in enumerate(metrics if isinstance(metrics, (list, tuple)) else ()):
        if item not in allowed:  # one line, not the K per-class keys one by one
            first, last = class_key("recall", 0, classes), class_key("recall", classes - 1, classes)
            raise InvalidValue(
                f"metrics[{index}]={shown(item)} is not a metric of the confusion counts: "
                f"{', '.join(CONFUSION_METRICS)}, or {', '.join(PER_CLASS_CONFUSION)} of a class "
                f"({first} to {last})"
            )
    return names_from("metrics", metrics, allowed)


def _metric_of(name: str) -> Any:
    if name in CONFUSION_METRICS:
        return CONFUSION_METRICS[name]
    match = PER_CLASS_KEY.fullmatch(name)
    if match is None or match["name"] not in PER_CLASS_CONFUSION:
        raise InvalidValue(f"metric={shown(name)} is not a metric of the confusion counts")
    return PER_CLASS_CONFUSION[match["name"]]


# --- a loss: exact -------------------------------------------------------------------------------


def loss_preference(model_a: ClassValues, model_b: ClassValues, loss: str, path: PriorPath) -> PathPreference:
    """Where along ``path`` ``loss`` prefers A or B, solved exactly (the module's docstring)."""
    check_classes(model_a, model_b, path)
    d = loss_coefficients(model_a, model_b, loss)
    if isinstance(path, LinePath):
        sign_at = _line_sign(d, path)
        flips, touches = _line_flips(d, path), list[float]()
    elif path.kind == "exponential" and path.classes <= POLYNOMIAL_MAX_CLASSES:
        sign_at = _polynomial_sign(d, path.classes)
        flips, touches = _polynomial_flips(d, path, sign_at)
    else:  # in the rate u (log rho, or s)
        nonzero = d != 0
        coefficients, exponents = d[nonzero], path.exponents()[nonzero]
        sign_at = lambda value: _exponential_sum_sign(coefficients, exponents, _rate_of(path, value))  # noqa: E731
        low, high = (_rate_of(path, value) for value in (path.low, path.high))
        rates = _exponential_sum_roots(coefficients, exponents, low, high)
        flips, touches = ([_parameter_of(path, rate) for rate in found] for found in rates)
    lower = MULTICLASS_LOSSES_BY_NAME[loss].lower_is_better
    return _preference(loss, True, lower, path, flips, touches, sign_at)


def _rate_of(path: TiltedPath, value: float) -> float:
    """u of a parameter value: log rho, or s itself."""
    return math.log(value) if path.kind == "exponential" else value


def _parameter_of(path: TiltedPath, rate: float) -> float:
    """rho = exp(u) or s = u, kept inside the path (exp rounds)."""
    value = math.exp(rate) if path.kind == "exponential" else rate
    return min(max(value, path.low), path.high)


def _line_sign(d: Floats, path: LinePath) -> SignAt:
    start, end = _line_ends(d, path)
    return lambda t: float(np.sign(math.fsum([(1.0 - t) * start, t * end])))


def _line_ends(d: Floats, path: LinePath) -> tuple[float, float]:
    """The difference at t = 0 and t = 1, each an exact sum rounded once."""
    return math.fsum((path.start * d).tolist()), math.fsum((path.end * d).tolist())


def _line_flips(d: Floats, path: LinePath) -> list[float]:
    start, end = _line_ends(d, path)
    if start * end >= 0:  # the same sign at both ends, or 0 at one: no change inside
        return []
    return [start / (start - end)]


def _polynomial_sign(d: Floats, classes: int) -> SignAt:
    polynomial = Polynomial(d)
    return lambda rho: float(np.sign(polynomial(math.exp(-math.log(rho) / (classes - 1)))))


def _polynomial_flips(d: Floats, path: TiltedPath, sign_at: SignAt) -> tuple[list[float], list[float]]:
    """The flips and touches of ``sum_k d_k x^k``, x = rho**(-1/(K-1)), for rho in the path."""
    polynomial = Polynomial(d).trim()
    if polynomial.degree() < 1:
        return [], []
    # Candidates from the polynomial scaled to its largest coefficient 1, its highest ones below
    # 1e-12 dropped: they only bring roots far outside x in (0, 1] (and overflow the companion
    # matrix); the signs and the bisections take every coefficient.
    scaled = Polynomial(d / np.abs(d).max()).trim(1e-12)
    roots = scaled.roots() if scaled.degree() >= 1 else np.empty(0)
    near_real = roots[np.abs(roots.imag) <= 1e-6 * np.maximum(1.0, np.abs(roots))].real
    positive = near_real[near_real > 0]
    with np.errstate(over="ignore"):
        rhos = np.exp(-(path.classes - 1) * np.log(positive))
    candidates = np.unique(rhos[(rhos > path.low) & (rhos < path.high)])
    edges = np.concatenate([[path.low], candidates, [path.high]])
    middles = np.sqrt(edges[:-1] * edges[1:])
    probes = [path.low, *middles.tolist(), path.high]
    sizes = Polynomial(np.abs(polynomial.coef))  # what rounds when P is evaluated

    def zero_to_rounding(rho: float) -> bool:
        x = rho ** (-1.0 / (path.classes - 1))
        return abs(float(polynomial(x))) <= 4 * path.classes * EPS * float(sizes(x))

    # a probe between the two candidates of a double root, a rounding apart, is a tie there
    signs = [0.0 if zero_to_rounding(value) else sign_at(value) for value in probes]
    flips, touches = _sign_changes(probes, signs, sign_at)
    derivative = polynomial.deriv()
    for index, candidate in enumerate(candidates.tolist()):
        left, right = signs[index + 1], signs[index + 2]  # at the middles either side
        if left != right or left == 0:
            continue
        x = _newton(polynomial, derivative, candidate ** (-1.0 / (path.classes - 1)))
        rho = x ** -(path.classes - 1)
        if path.low < rho < path.high and zero_to_rounding(rho):
            touches.append(rho)
    return flips, sorted(touches)


def _newton(polynomial: Polynomial, derivative: Polynomial, x: float, steps: int = 30) -> float:
    """x moved towards a root of ``polynomial`` while Newton's steps shrink |polynomial|."""
    value = abs(float(polynomial(x)))
    for _ in range(steps):
        slope = float(derivative(x))
        if slope == 0 or value == 0:
            break
        moved = x - float(polynomial(x)) / slope
        if not abs(float(polynomial(moved))) < value:
            break
        x, value = moved, abs(float(polynomial(moved)))
    return x


def _exponential_sum_sign(coefficients: Floats, exponents: Floats, u: float) -> float:
    """The sign of ``sum_k c_k exp(-u e_k)`` (c without zeros), scaled so that nothing overflows."""
    if coefficients.size == 0:
        return 0.0
    logs = np.log(np.abs(coefficients)) - u * exponents
    return float(np.sign((np.sign(coefficients) * np.exp(logs - logs.max())).sum()))


def _is_zero_to_rounding(coefficients: Floats, exponents: Floats, u: float) -> bool:
    logs = np.log(np.abs(coefficients)) - u * exponents
    terms = np.sign(coefficients) * np.exp(logs - logs.max())
    return bool(abs(terms.sum()) <= 4 * coefficients.size * EPS * np.abs(terms).sum())


def _sign_changes_of(values: Floats) -> int:
    signs = np.sign(values[values != 0])
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def _exponential_sum_roots(
    coefficients: Floats, exponents: Floats, low: float, high: float
) -> tuple[list[float], list[float]]:
    """The sign changes and touches of ``sum_k c_k exp(-u e_k)`` (e increasing, c without zeros)
    for u in (low, high), by the isolation of the module's docstring."""
    levels = [(coefficients, exponents)]
    while _sign_changes_of(levels[-1][0]) > 0:
        c, e = levels[-1]
        change = np.sign(c)
        first = int(np.flatnonzero(change[1:] != change[:-1])[0])
        middle = (e[first] + e[first + 1]) / 2
        levels.append((c * (middle - e), e - middle))  # d/du of exp(middle u) * the sum
    crossings: list[float] = []
    touches: list[float] = []
    for c, e in reversed(levels[:-1]):

        def sign_at(u: float, c: Floats = c, e: Floats = e) -> float:
            return _exponential_sum_sign(c, e, u)

        extrema = crossings  # of the level below: the sum times exp(middle u) is monotone between
        probes = [low, *extrema, high]
        # an extremum where the sum is 0 to rounding is a tie (a touch, if one sign is on both sides)
        signs = [0.0 if _is_zero_to_rounding(c, e, u) else sign_at(u) for u in probes]
        crossings, touches = _sign_changes(probes, signs, sign_at)
    return crossings, touches


# --- a metric: scanned and bisected --------------------------------------------------------------


def metric_preference(
    model_a: ClassValues, model_b: ClassValues, metric: str, path: PriorPath, *, points: int = SCAN_POINTS
) -> PathPreference:
    """Where along ``path`` ``metric`` prefers A or B: a scan of ``points`` values, bisected."""
    classes = check_classes(model_a, model_b, path)
    tolerance = TIE_ULPS * classes * EPS

    def differences(values: Floats) -> Floats:
        block = max(1, SCAN_BLOCK_VALUES // classes)
        parts = [
            metric_differences(model_a, model_b, metric, path.priors(values[start : start + block]))
            for start in range(0, values.size, block)
        ]
        return np.concatenate(parts)

    def sign_at(value: float) -> float:  # a tie within the rounding
        difference = float(differences(np.array([value]))[0])
        return 0.0 if abs(difference) <= tolerance else float(np.sign(difference))

    def raw_sign_at(value: float) -> float:  # for bisection: the last bit counts
        return float(np.sign(differences(np.array([value]))[0]))

    scan = path.scan(points)
    values = differences(scan)
    signs = np.where(np.abs(values) <= tolerance, 0.0, np.sign(values))
    flips, touches = _sign_changes(scan.tolist(), signs.tolist(), raw_sign_at)
    dip_flips, dip_touches = _dips(scan, values, signs, differences, sign_at, raw_sign_at)
    lower = _metric_of(metric).lower_is_better
    return _preference(metric, False, lower, path, flips + dip_flips, touches + dip_touches, sign_at)


def _dips(
    scan: Floats,
    values: Floats,
    signs: Floats,
    differences: Callable[[Floats], Floats],
    sign_at: SignAt,
    raw_sign_at: SignAt,
) -> tuple[list[float], list[float]]:
    """Flips and touches hidden between scan points: at each scanned local minimum of |difference|
    with one sign around it whose parabola through its neighbours dips below half its value (not a
    wobble of rounding on a flat difference), the lowest point between the neighbours (golden
    section) is 0 (a touch) or of the other sign (two flips)."""
    flips: list[float] = []
    touches: list[float] = []
    for index in range(1, scan.size - 1):
        side = float(signs[index])
        if side == 0 or signs[index - 1] != side or signs[index + 1] != side:
            continue
        before, here, after = (side * float(value) for value in values[index - 1 : index + 2])
        curvature, slope = (before - 2 * here + after) / 2, (after - before) / 2
        if not (here < before and here <= after) or here - slope * slope / (4 * curvature) > here / 2:
            continue
        low, high = float(scan[index - 1]), float(scan[index + 1])

        def oriented(value: float, side: float = side) -> float:  # its lowest: nearest the other sign
            return side * float(differences(np.array([value]))[0])

        lowest = _golden_minimum(oriented, low, high)
        there = sign_at(lowest)
        if there == 0:
            touches.append(lowest)
        elif there != side:
            flips += [_bisect(raw_sign_at, low, lowest, side), _bisect(raw_sign_at, lowest, high, -side)]
    return flips, touches


def _golden_minimum(function: Callable[[float], float], low: float, high: float) -> float:
    """Where ``function`` is lowest in [low, high], taken as unimodal there (golden-section search)."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    at_left, at_right = function(left), function(right)
    for _ in range(GOLDEN_STEPS):
        if at_left <= at_right:
            high, right, at_right = right, left, at_left
            left = high - ratio * (high - low)
            at_left = function(left)
        else:
            low, left, at_left = left, right, at_right
            right = low + ratio * (high - low)
            at_right = function(right)
        if not low < left < right < high:
            break
    return left if at_left <= at_right else right


# --- shared: sign changes, bisection, intervals, agreement ---------------------------------------


def _bisect(sign_at: SignAt, low: float, high: float, low_sign: float) -> float:
    """A point where the sign changes between ``low`` (of ``low_sign``) and ``high``, to adjacent floats."""
    for _ in range(MAX_BISECTIONS):
        middle = low + (high - low) / 2
        if not low < middle < high:
            break
        sign = sign_at(middle)
        if sign == 0:
            return middle
        if sign == low_sign:
            low = middle
        else:
            high = middle
    return low + (high - low) / 2


def _sign_changes(
    points: Sequence[float], signs: Sequence[float], sign_at: SignAt
) -> tuple[list[float], list[float]]:
    """Flips between consecutive ``points`` of opposite ``signs``, bisected, and the ties (0) among
    them: the middle of a run of 0s is a flip between opposite signs, a touch between equal ones."""
    flips: list[float] = []
    touches: list[float] = []
    nonzero = [index for index, sign in enumerate(signs) if sign != 0]
    for index, after in itertools.pairwise(nonzero):
        if after > index + 1:  # ties between: the middle one
            (flips if signs[index] != signs[after] else touches).append(points[(index + after) // 2])
        elif signs[index] != signs[after]:
            flips.append(_bisect(sign_at, points[index], points[after], signs[index]))
    return flips, touches


def _preference(
    name: str,
    is_loss: bool,
    lower_is_better: bool,
    path: PriorPath,
    flips: list[float],
    touches: list[float],
    sign_at: SignAt,
) -> PathPreference:
    """The intervals between the flips, each labelled by the sign inside; neighbours of one label
    (a flip found where rounding alone changes sign) are merged."""
    cuts = [path.low, *sorted(value for value in flips if path.low < value < path.high), path.high]
    intervals: list[Interval] = []
    for low, high in itertools.pairwise(cuts):
        preferred = _preferred_inside(sign_at, low, high, geometric=_geometric(path))
        if intervals and intervals[-1].preferred == preferred:
            intervals[-1] = Interval(intervals[-1].low, high, preferred)
        else:
            intervals.append(Interval(low, high, preferred))
    kept_flips = tuple(interval.low for interval in intervals[1:])
    kept_touches = tuple(
        sorted({value for value in touches if path.low < value < path.high} - set(kept_flips))
    )
    return PathPreference(
        name, is_loss, lower_is_better, path.parameter, kept_flips, kept_touches, tuple(intervals)
    )


def _geometric(path: PriorPath) -> bool:
    return isinstance(path, TiltedPath) and path.kind == "exponential"


def _preferred_inside(sign_at: SignAt, low: float, high: float, *, geometric: bool) -> Preferred:
    """A or B by the sign inside (low, high) (at its middle, else at its quarters), tie if 0 at all three."""
    for share in (0.5, 0.25, 0.75):
        if geometric:
            value = math.exp(math.log(low) + share * (math.log(high) - math.log(low)))
        else:
            value = low + share * (high - low)
        sign = sign_at(value)
        if sign:
            return "A" if sign > 0 else "B"
    return "tie"


def agreement(loss: PathPreference, metric: PathPreference) -> PairAgreement:
    """Where along their path a loss and a metric prefer the same model, opposite ones, or one ties."""
    cuts = sorted(
        {*(i.low for i in loss.intervals), *(i.low for i in metric.intervals), loss.intervals[-1].high}
    )
    parts = [
        Agreement(low, high, loss.preferred_at(low), metric.preferred_at(low))
        for low, high in itertools.pairwise(cuts)
    ]
    return PairAgreement(loss.name, metric.name, tuple(parts))
