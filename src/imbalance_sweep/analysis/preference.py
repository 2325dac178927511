"""Which of two models a loss or a metric prefers, as the validation set's prevalence varies.

A model is a pair of per-class accuracies under the uniform score model, or a predictions file
(its per-class mean terms and accuracies, re-weighted exactly). At prevalence pi (the fraction of
positives) the expected per-sample loss is ``(1 - pi) * m0 + pi * m1`` from the per-class
expectations (``balanced_bce`` averages the two classes and does not depend on pi; ``focal_tfa`` is
a sum, N times ``focal_balanced``, so it prefers what that prefers), and a metric follows from the
expected confusion fractions ``tp = pi a1``, ``fn = pi (1 - a1)``, ``tn = (1 - pi) a0``,
``fp = (1 - pi)(1 - a0)``: a rational function of pi.

The *flip point* is the prevalence at which the preference changes sides. It is found exactly:
the difference of two losses is linear in pi; two precisions, F1s or accuracies are equal where a
polynomial of degree 1 is zero (cross-multiplying the positive denominators), and so are two MCCs
(squared, the pi^2 terms cancel; MCCs of opposite signs are never equal); recall, specificity and balanced accuracy do not depend on pi. The real
roots of that polynomial in the prevalences considered are the candidates, a candidate is a flip
where the true difference changes sign across it, and bisection on the true difference, between the
neighbouring candidates, pins each to float precision. :func:`crossings` (a scan and bisection) is
kept for any other curve.

The metrics of the scores take their population values (``ScoreModel.score_metrics`` at each
prevalence) and follow what those are: ROC AUC does not depend on pi, and neither does which model
has the better precision at a recall (precision = 1 / (1 + (1 - pi) / pi * FPR / TPR) at every
threshold, so the best threshold, and the ranking of two models' best, is the same at every pi): both
are compared at pi = 1/2, as are the likelihood ratios; F-beta is F1's kind of line; a skill score is
``1 - loss / loss of predicting pi``, the same denominator for both models, so it flips where its
loss (BCE, Brier) does. Average precision and the ECE have no polynomial: their flips are a scan's
(:data:`SCAN`, 641 prevalences) sign changes, bisected, so two flips within one scan step (0.05 in
logit) would escape. A metric of which lower is better (``metrics.lower_is_better``: ``lr_minus``,
``ece``) prefers the model with the lower value, as a loss does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial import Polynomial

from ..core.calibration import skill_scores
from ..core.cell import model_label
from ..core.expectations import class_term_moments
from ..core.losses import LOSSES
from ..core.metrics import DEFAULT_METRICS, MetricSettings, confusion_metrics, lower_is_better
from ..core.score_models import ScoreModel
from ..core.score_models.uniform import UNIFORM
from ..core.vocabulary import METRICS, loss_key, metric_names

# Prevalences scanned for a change of sign: logit-spaced, from about 1e-7 to 1 - 1e-7.
SCAN = 1.0 / (1.0 + np.exp(-np.linspace(-16.0, 16.0, 641)))
# What the chart shows: below 1e-4 nothing changes any more.
SHOWN = SCAN[(SCAN >= 1e-4) & (SCAN <= 0.9999)]
BISECTIONS = 80
# The metrics whose values are the score model's population values at each prevalence
SCORE_VALUE_NAMES = metric_names(lambda metric: metric.of_score_law)
# a skill score -> its loss: it flips where its loss does
SKILL_LOSSES = {metric.name: metric.skill_of for metric in METRICS if metric.skill_of is not None}
# Metrics whose preference between two models is the same at every prevalence, and why
PREVALENCE_FREE = {metric.name: metric.never_flips for metric in METRICS if metric.never_flips is not None}
# Metrics without a closed form: their flips are a scan's
SCANNED = metric_names(lambda metric: metric.flip == "scan")


@dataclass(frozen=True)
class Model:
    """A classifier: its accuracy on each class, and the score model its per-class terms come from
    (the uniform model, or a predictions file's ``EmpiricalModel``, with ``title`` its name)."""

    acc_0s: float
    acc_1s: float
    title: str | None = None
    score_model: ScoreModel = UNIFORM

    @property
    def name(self) -> str:
        return self.title or model_label(self.acc_0s, self.acc_1s)


def class_means(model: Model, loss: str, *, alpha: float, gamma: float) -> tuple[float, float]:
    """The mean per-sample term of ``loss`` over each class's scores: ``(m0, m1)``."""
    term = LOSSES[loss][0]
    m0, m1 = (
        class_term_moments(label, acc, [term], alpha=alpha, gamma=gamma, model=model.score_model)[term][0]
        for label, acc in ((0, model.acc_0s), (1, model.acc_1s))
    )
    return m0, m1


def loss_curve(model: Model, loss: str, *, alpha: float, gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    """Expected per-sample ``loss`` of ``model`` as a function of prevalence (vectorised)."""
    reduction = LOSSES[loss][1]
    means = class_means(model, loss, alpha=alpha, gamma=gamma)
    if reduction == "class_mean":
        return lambda prevalence: np.full_like(np.asarray(prevalence, dtype=float), (means[0] + means[1]) / 2)
    return lambda prevalence: (1.0 - np.asarray(prevalence)) * means[0] + np.asarray(prevalence) * means[1]


def metric_curve(
    model: Model, metric: str, settings: MetricSettings = DEFAULT_METRICS
) -> Callable[[np.ndarray], np.ndarray]:
    """Expected ``metric`` of ``model`` as a function of prevalence (vectorised): of the expected
    confusion fractions, the score model's population values, or a skill score of the losses."""
    if metric in SCORE_VALUE_NAMES:
        return _pointwise(lambda pi: _score_values(model, pi, settings)[metric])
    if metric in SKILL_LOSSES:
        # alpha and gamma are the focal losses' settings: BCE and Brier do not take them
        bce, brier = (loss_curve(model, name, alpha=0.25, gamma=2.0) for name in ("bce", "brier"))

        def skill(pi: float) -> float:
            at = np.array([pi])
            return skill_scores(bce=float(bce(at)[0]), brier=float(brier(at)[0]), prevalence=pi)[metric]

        return _pointwise(skill)

    def at(pi: float) -> float:
        tp, tn = pi * model.acc_1s, (1.0 - pi) * model.acc_0s
        return confusion_metrics(tp=tp, fp=(1.0 - pi) - tn, tn=tn, fn=pi - tp, beta=settings.beta)[metric]

    return _pointwise(at)


def _pointwise(value: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    """A function of one prevalence, vectorised over an array of them."""

    def at(prevalence: np.ndarray) -> np.ndarray:
        values = [value(float(pi)) for pi in np.atleast_1d(np.asarray(prevalence, dtype=float))]
        return np.asarray(values).reshape(np.shape(prevalence))

    return at


@lru_cache(maxsize=4096)  # a scan, its bisections and the chart ask each prevalence for two metrics
def _score_values(model: Model, prevalence: float, settings: MetricSettings) -> dict[str, float]:
    """The population ``roc_auc``, ``average_precision``, ``precision_at_recall`` and ``ece``."""
    return model.score_model.score_metrics(
        model.acc_0s, model.acc_1s, prevalence, recall=settings.recall, ece_bins=settings.ece_bins
    )


PI = Polynomial([0.0, 1.0])  # the prevalence, as a polynomial
NOT_PI = 1.0 - PI


def loss_polynomial(model_a: Model, model_b: Model, loss: str, *, alpha: float, gamma: float) -> Polynomial:
    """B's expected per-sample loss minus A's, as the polynomial in pi it is (> 0: A preferred)."""
    a0, a1 = class_means(model_a, loss, alpha=alpha, gamma=gamma)
    b0, b1 = class_means(model_b, loss, alpha=alpha, gamma=gamma)
    if LOSSES[loss][1] == "class_mean":
        return Polynomial([((b0 + b1) - (a0 + a1)) / 2])
    return NOT_PI * (b0 - a0) + PI * (b1 - a1)


def _fractions(model: Model) -> dict[str, Polynomial]:
    a0, a1 = model.acc_0s, model.acc_1s
    tp, fn, tn, fp = PI * a1, PI * (1 - a1), NOT_PI * a0, NOT_PI * (1 - a0)
    return {"tp": tp, "fn": fn, "tn": tn, "fp": fp, "predicted": tp + fp, "negative_calls": tn + fn}


def metric_polynomial(
    model_a: Model, model_b: Model, metric: str, *, beta: float = DEFAULT_METRICS.beta
) -> Polynomial:
    """A polynomial in pi whose real roots include every prevalence in (0, 1) where A's and B's
    ``metric`` are equal (a metric that does not depend on pi gives a constant)."""
    a, b = _fractions(model_a), _fractions(model_b)
    a0, a1, b0, b1 = model_a.acc_0s, model_a.acc_1s, model_b.acc_0s, model_b.acc_1s
    if metric == "recall":
        return Polynomial([a1 - b1])
    if metric == "specificity":
        return Polynomial([a0 - b0])
    if metric == "balanced_accuracy":
        return Polynomial([(a0 + a1) - (b0 + b1)])
    if metric == "accuracy":
        return (a["tp"] + a["tn"]) - (b["tp"] + b["tn"])
    if metric == "precision":  # pi a1 / P_a = pi b1 / P_b, divided by pi
        return a1 * b["predicted"] - b1 * a["predicted"]
    if metric == "f1":  # 2 tp / (2 tp + fp + fn): pi a1 / D_a = pi b1 / D_b
        return a1 * (2 * b["tp"] + b["fp"] + b["fn"]) - b1 * (2 * a["tp"] + a["fp"] + a["fn"])
    if metric == "fbeta":  # (1 + B) tp / ((1 + B) tp + B fn + fp), B = beta^2: as F1's, divided by (1 + B) pi
        weight = beta * beta
        return a1 * ((1 + weight) * b["tp"] + weight * b["fn"] + b["fp"]) - b1 * (
            (1 + weight) * a["tp"] + weight * a["fn"] + a["fp"]
        )
    if metric == "mcc":
        # tp tn - fp fn = pi (1 - pi) (a0 + a1 - 1): MCC = J sqrt(pi (1 - pi)) / sqrt(P N) with
        # P = (1 - a0) + pi J, N = a0 - pi J the predicted-positive and -negative fractions; equal
        # MCCs square to this, whose pi^2 terms (-Ja^2 Jb^2 on both sides) cancel
        j_a, j_b = a0 + a1 - 1, b0 + b1 - 1
        return j_a**2 * b["predicted"] * b["negative_calls"] - j_b**2 * a["predicted"] * a["negative_calls"]
    raise ValueError(f"metric={metric!r} has no polynomial form")


def exact_flips(
    difference: Callable[[np.ndarray], np.ndarray],
    polynomial: Polynomial,
    *,
    low: float = float(SCAN[0]),
    high: float = float(SCAN[-1]),
) -> tuple[float, ...]:
    """The prevalences in (low, high) where ``difference`` changes sign, given a ``polynomial`` whose
    real roots include each of its zeros there (a zero polynomial: a difference of constant sign)."""
    scale = float(np.max(np.abs(polynomial.coef), initial=0.0))
    # A leading coefficient that is rounding (two near-equal products cancelling) is a zero one:
    # kept, it would throw the other roots off.
    polynomial = polynomial.trim(tol=1e-12 * scale)
    if scale == 0 or polynomial.coef.size == 1:
        return ()
    roots: np.ndarray = polynomial.roots()
    roots = np.unique(roots[np.abs(roots.imag) <= 1e-12 * np.maximum(1.0, np.abs(roots))].real)
    roots = roots[(roots > low) & (roots < high)]
    if roots.size == 0:
        return ()
    edges = np.concatenate([[low], roots, [high]])
    logit = np.log(edges) - np.log1p(-edges)
    middles = 1.0 / (1.0 + np.exp(-(logit[:-1] + logit[1:]) / 2))  # one point between neighbours
    signs = np.sign(difference(middles))
    flips = []
    for index in range(roots.size):
        left, right = signs[index], signs[index + 1]
        if left == 0 or right == 0 or left == right:
            continue
        lo, hi = float(middles[index]), float(middles[index + 1])
        for _ in range(BISECTIONS):
            middle = (lo + hi) / 2
            if np.sign(difference(np.array([middle]))[0]) == left:
                lo = middle
            else:
                hi = middle
        flips.append((lo + hi) / 2)
    return tuple(flips)


def crossings(difference: Callable[[np.ndarray], np.ndarray], scan: np.ndarray = SCAN) -> list[float]:
    """Prevalences in (0, 1) where ``difference`` changes sign, each bisected to float precision.
    A scanned prevalence where it is exactly 0 (two mirrored models tie at 1/2) is passed over to its
    neighbours: when they differ in sign, the tie is the flip."""
    signs = np.sign(difference(scan))
    nonzero = np.flatnonzero(signs)
    roots = []
    for index, after in itertools.pairwise(nonzero):
        if signs[index] == signs[after]:
            continue
        if after > index + 1:  # exact ties between: the middle one
            roots.append(float(scan[(index + after) // 2]))
            continue
        low, high = float(scan[index]), float(scan[after])
        for _ in range(BISECTIONS):
            middle = (low + high) / 2
            if np.sign(difference(np.array([middle]))[0]) == signs[index]:
                low = middle
            else:
                high = middle
        roots.append((low + high) / 2)
    return roots


@dataclass(frozen=True)
class Preference:
    """How one loss or metric ranks two models across prevalence."""

    name: str
    is_loss: bool
    flips: tuple[float, ...]  # prevalences where the preference changes sides
    prefers_a_at: Callable[[float], bool]
    never_because: str | None = None  # why it cannot flip, for the metrics of PREVALENCE_FREE

    @property
    def key(self) -> str:
        """The name a sweep logs it under: ``loss/<name>`` for a loss, the metric's own name otherwise."""
        return loss_key(self.name) if self.is_loss else self.name


def preferences(
    model_a: Model,
    model_b: Model,
    *,
    losses: Sequence[str],
    metrics: Sequence[str],
    alpha: float,
    gamma: float,
    settings: MetricSettings = DEFAULT_METRICS,
) -> list[Preference]:
    """For each loss (lower is better) and metric (higher is better, or lower where
    ``metrics.lower_is_better`` says so): where it flips between A and B."""
    found = []
    for name in losses:
        curve_a = loss_curve(model_a, name, alpha=alpha, gamma=gamma)
        curve_b = loss_curve(model_b, name, alpha=alpha, gamma=gamma)
        difference = lambda pi, a=curve_a, b=curve_b: b(pi) - a(pi)  # noqa: E731  > 0: A is better
        polynomial = loss_polynomial(model_a, model_b, name, alpha=alpha, gamma=gamma)
        found.append(_preference(name, True, difference, polynomial))
    for name in metrics:
        curve_a, curve_b = metric_curve(model_a, name, settings), metric_curve(model_b, name, settings)
        if lower_is_better(name):
            difference = lambda pi, a=curve_a, b=curve_b: b(pi) - a(pi)  # noqa: E731  > 0: A is better
        else:
            difference = lambda pi, a=curve_a, b=curve_b: a(pi) - b(pi)  # noqa: E731  > 0: A is better
        if name in SCANNED:  # no polynomial
            found.append(_preference(name, False, difference, None))
            continue
        polynomial = _polynomial_of(
            model_a, model_b, name, difference, alpha=alpha, gamma=gamma, beta=settings.beta
        )
        found.append(_preference(name, False, difference, polynomial, PREVALENCE_FREE.get(name)))
    return found


def _polynomial_of(
    model_a: Model, model_b: Model, metric: str, difference, *, alpha: float, gamma: float, beta: float
) -> Polynomial:
    """The polynomial whose roots hold ``metric``'s flips: a constant for a metric of
    :data:`PREVALENCE_FREE` (its difference at pi = 1/2), a skill score's loss's, or
    :func:`metric_polynomial`."""
    if metric in PREVALENCE_FREE:
        return Polynomial([float(difference(np.array([0.5]))[0])])
    if metric in SKILL_LOSSES:
        return loss_polynomial(model_a, model_b, SKILL_LOSSES[metric], alpha=alpha, gamma=gamma)
    return metric_polynomial(model_a, model_b, metric, beta=beta)


def _preference(
    name: str, is_loss: bool, difference, polynomial: Polynomial | None, never_because: str | None = None
) -> Preference:
    """``polynomial`` None: the flips are :func:`crossings`'s."""
    flips = tuple(crossings(difference)) if polynomial is None else exact_flips(difference, polynomial)
    return Preference(
        name=name,
        is_loss=is_loss,
        flips=flips,
        prefers_a_at=lambda pi: bool(difference(np.array([pi]))[0] > 0),
        never_because=never_because,
    )
