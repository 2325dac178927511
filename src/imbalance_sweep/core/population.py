"""Population values of the threshold-free metrics and of the calibration error: what a cell of
infinite size gives under a score model, as ``expectations`` gives the losses and confusion metrics.

Why: a sampled cell estimates ROC AUC, average precision, precision at a recall and the ECE with noise
(and, for average precision and the ECE, a bias) that shrink with its size; the limits tell a metric's
drift with the class balance from the sampling's.

With S0 a negative's score, S1 a positive's, pi the prevalence and A_c(t) = P(S_c >= t):

* ``roc_auc`` = P(S1 > S0) + P(S1 = S0) / 2;
* ``average_precision`` = E[precision(S1)], precision(t) = pi A1(t) / (pi A1(t) + (1 - pi) A0(t)):
  scikit-learn's step-wise sum in the limit, a tie group (a point mass) counting its recall step at
  the precision with the whole group in, as scikit-learn's does;
* ``precision_at_recall`` = the sup of precision(t) over the thresholds with A1(t) >= recall
  (TensorFlow's PrecisionAtRecall in the limit);
* ``ece`` = the sum over scikit-learn's uniform calibration bins of P(bin) |P(y=1 | bin) - E[S | bin]|
  = sum of |pi E[1 - S1; bin] - (1 - pi) E[S0; bin]|, an empty bin giving 0.

With a class absent (prevalence 0 or 1) a value whose denominator is 0 is 0.0, the house rule of
``metrics``: all three ranking values at prevalence 0, ``roc_auc`` at 1 (precision is then 1).

How: two uniform laws in closed form (their tails are linear in t, so precision is a ratio of linear
functions on each piece between the intervals' ends); other laws by tanh-sinh quadrature (scipy's)
over one class's quantile, in logits (``ScoreDistribution``), and point masses exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .checks import InvalidValue, fraction, whole_number
from .score_models import ScoreDistribution, ScoreModel
from .uniform_law import UniformScores

ATOL, RTOL = 1e-13, 1e-12  # each piece's tanh-sinh quadrature
# where, in one class's quantile, the other class's mass lies: the quadrature's pieces end there
BREAK_PROBABILITIES = np.array(
    [1e-9, 1e-6, 1e-3, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1 - 1e-3, 1 - 1e-6, 1 - 1e-9]
)
RECALL_GRID = 257  # recall levels searched for precision's sup before the local refinement


def class_distributions(
    model: ScoreModel, acc_0s: float, acc_1s: float
) -> tuple[ScoreDistribution, ScoreDistribution]:
    """The negatives' and the positives' score laws under ``model``."""
    score_distribution = getattr(model, "score_distribution", None)
    if score_distribution is None:
        raise InvalidValue(f"score_model={model.name} gives no score law for population values yet")
    negatives = score_distribution(0, fraction("acc_0s", acc_0s))
    return negatives, score_distribution(1, fraction("acc_1s", acc_1s))


def precision(prevalence: float, tpr: np.ndarray | float, fpr: np.ndarray | float) -> np.ndarray:
    """pi TPR / (pi TPR + (1 - pi) FPR), elementwise; 0.0 where nothing is predicted positive."""
    positive = prevalence * np.asarray(tpr, dtype=float)
    predicted = positive + (1.0 - prevalence) * np.asarray(fpr, dtype=float)
    return np.divide(positive, predicted, out=np.zeros_like(predicted), where=predicted > 0)


def population_ranking(
    model: ScoreModel, *, acc_0s: float, acc_1s: float, prevalence: float, recall: float = 0.9
) -> dict[str, float]:
    """``roc_auc``, ``average_precision`` and ``precision_at_recall`` (at ``recall``) of an infinite cell."""
    negatives, positives = class_distributions(model, acc_0s, acc_1s)
    prevalence = fraction("prevalence", prevalence)
    if fraction("recall", recall) == 0.0:
        raise InvalidValue("recall=0.0 is not above 0: every threshold reaches it")
    if prevalence in (0.0, 1.0):
        # no positives: recall is 0/0, so all three are 0; no negatives: the false positive rate is
        # 0/0 (roc_auc 0) and precision 1 at every threshold
        return {"roc_auc": 0.0, "average_precision": prevalence, "precision_at_recall": prevalence}
    if isinstance(negatives, UniformScores) and isinstance(positives, UniformScores):
        return {
            "roc_auc": uniform_roc_auc(negatives, positives),
            "average_precision": uniform_average_precision(negatives, positives, prevalence),
            "precision_at_recall": uniform_precision_at_recall(negatives, positives, prevalence, recall),
        }
    return {
        "roc_auc": roc_auc(negatives, positives),
        "average_precision": average_precision(negatives, positives, prevalence),
        "precision_at_recall": precision_at_recall(negatives, positives, prevalence, recall),
    }


def population_ece(
    model: ScoreModel, *, acc_0s: float, acc_1s: float, prevalence: float, bins: int = 15
) -> float:
    """The expected calibration error of an infinite cell over ``bins`` equal-width bins.

    The bins are scikit-learn's ``calibration_curve(strategy="uniform")``'s: edges
    ``linspace(0, 1, bins + 1)``, a score on an inner edge in the bin below it (``searchsorted``), so
    ``[0, e1], (e1, e2], ..., (e_{n-1}, 1]``.
    """
    negatives, positives = class_distributions(model, acc_0s, acc_1s)
    prevalence = fraction("prevalence", prevalence)
    edges = np.linspace(0.0, 1.0, whole_number("bins", bins, minimum=1) + 1)
    low, high = edges[:-1].copy(), edges[1:]
    low[0] = -np.inf  # the first bin holds 0
    positive_distance = positives.cdf(high) - positives.cdf(low) - positives.partial_mean(low, high)
    negative_score = negatives.partial_mean(low, high)
    return float(np.sum(np.abs(prevalence * positive_distance - (1.0 - prevalence) * negative_score)))


def population_score_metrics(
    model: ScoreModel, acc_0s: float, acc_1s: float, prevalence: float, *, recall: float, ece_bins: int
) -> dict[str, float]:
    """The ranking metrics and ``ece`` of an infinite cell: what ``expectations`` logs for them."""
    settings = {"acc_0s": acc_0s, "acc_1s": acc_1s, "prevalence": prevalence}
    values = population_ranking(model, **settings, recall=recall)
    values["ece"] = population_ece(model, **settings, bins=ece_bins)
    return values


# --- any laws: quadrature over a class's quantile, point masses exactly --------------------------------


def _expectation(
    law: ScoreDistribution, function: Callable[[np.ndarray], np.ndarray], breaks: np.ndarray
) -> float:
    """E[function(logit S)], S ~ ``law``: at the point mass, or the integral over S's quantile u in
    (0, 1), by tanh-sinh quadrature (scipy's, vectorised) on the pieces between ``breaks``."""
    from scipy import integrate, special  # only for laws without closed forms: uniform sweeps skip its import

    if law.atom is not None:
        return float(function(special.logit(law.atom)))
    inner = breaks[(breaks > 1e-12) & (breaks < 1.0 - 1e-12)]
    edges = np.unique(np.concatenate(([0.0], inner, [1.0])))
    result = integrate.tanhsinh(
        lambda u: function(law.logit_quantile(u)), edges[:-1], edges[1:], atol=ATOL, rtol=RTOL
    )
    if not np.all(result.success):
        raise ArithmeticError(f"tanh-sinh quadrature did not converge over {law!r}")
    return float(np.sum(result.integral))


def _breaks(law: ScoreDistribution, other: ScoreDistribution) -> np.ndarray:
    """Where, in ``law``'s quantile, ``other``'s mass lies: P(S < other's quantiles)."""
    return 1.0 - law.logit_at_least(other.logit_quantile(BREAK_PROBABILITIES))


def roc_auc(negatives: ScoreDistribution, positives: ScoreDistribution) -> float:
    """P(S1 > S0) + P(S1 = S0) / 2 as E[A1(S0)] (a tie has probability 0 unless both are point masses)."""
    value = _expectation(negatives, positives.logit_at_least, _breaks(negatives, positives))
    if negatives.atom is not None and negatives.atom == positives.atom:
        value -= 0.5  # A1 counted the whole tie
    return value


def average_precision(negatives: ScoreDistribution, positives: ScoreDistribution, prevalence: float) -> float:
    """E[precision(S1)], precision at a positive's score with every score tied to it in."""

    def precision_at(z: np.ndarray | float) -> np.ndarray:
        return precision(prevalence, positives.logit_at_least(z), negatives.logit_at_least(z))

    return _expectation(positives, precision_at, _breaks(positives, negatives))


def precision_at_recall(
    negatives: ScoreDistribution, positives: ScoreDistribution, prevalence: float, recall: float
) -> float:
    """The sup of precision over thresholds with A1 >= ``recall``.

    A point mass of positives: the threshold at it (recall 1, the fewest negatives). Otherwise, for a
    law with a density on an interval, the thresholds are the positives' (1 - s)-quantiles, s in
    [recall, 1] their recall: a grid over s, then a bounded Brent search around its best point.
    """
    from scipy import optimize, special  # as in _expectation

    if positives.atom is not None:
        return float(precision(prevalence, 1.0, negatives.logit_at_least(special.logit(positives.atom))))

    def precision_at(level: np.ndarray | float) -> np.ndarray:
        threshold = positives.logit_quantile(1.0 - level)
        return precision(prevalence, level, negatives.logit_at_least(threshold))

    levels = np.linspace(recall, 1.0, RECALL_GRID)
    values = precision_at(levels)
    best = int(np.argmax(values))
    bounds = (levels[max(best - 1, 0)], levels[min(best + 1, RECALL_GRID - 1)])
    refined = optimize.minimize_scalar(
        lambda level: -float(precision_at(level)), bounds=bounds, method="bounded", options={"xatol": 1e-13}
    )
    return max(float(values[best]), -float(refined.fun))


# --- two uniform laws: closed forms ---------------------------------------------------------------------


def _uniform_at_least(law: UniformScores, t: float) -> float:
    """P(S >= t) for S uniform on [low, high]."""
    return min(max((law.high - t) / law.width, 0.0), 1.0)


def uniform_roc_auc(negatives: UniformScores, positives: UniformScores) -> float:
    """(1 / w0) times the integral of A1 over the negatives' interval: A1 is 1 below the positives'
    interval and falls linearly to 0 across it, so the integral is a length plus a triangle's area."""
    start, end = negatives.low, negatives.high
    flat = max(0.0, min(end, positives.low) - start)
    a, b = max(start, positives.low), min(end, positives.high)
    ramp = ((positives.high - a) ** 2 - (positives.high - b) ** 2) / (2.0 * positives.width) if b > a else 0.0
    return (flat + ramp) / negatives.width


def uniform_average_precision(negatives: UniformScores, positives: UniformScores, prevalence: float) -> float:
    """(1 / w1) times the integral of precision over the positives' interval, piece by piece between
    the intervals' ends, where pi A1 and pi A1 + (1 - pi) A0 are linear in t (:func:`_linear_ratio_integral`)."""
    inner = (end for end in (negatives.low, negatives.high) if positives.low < end < positives.high)
    cuts = sorted({positives.low, positives.high, *inner})
    total = 0.0
    for start, end in itertools.pairwise(cuts):
        tp_start, tp_end = (prevalence * _uniform_at_least(positives, t) for t in (start, end))
        fp_start, fp_end = ((1.0 - prevalence) * _uniform_at_least(negatives, t) for t in (start, end))
        total += _linear_ratio_integral(end - start, tp_start, tp_end, tp_start + fp_start, tp_end + fp_end)
    return total / positives.width


def _linear_ratio_integral(length: float, n1: float, n2: float, p1: float, p2: float) -> float:
    """The integral of N/P over an interval of ``length`` where N and P are linear, (n1, n2) and
    (p1, p2) their values at its ends, p1 > 0.

    With x = (p2 - p1) / p1 it is (length / p1) (n1 log1p(x)/x + (n2 - n1) (x - log1p(x))/x^2): the
    usual B/D t + (A D - B C)/D^2 log(C + D t) with the cancellation of its two terms done by hand.
    """
    if p2 == 0.0:  # N and P both vanish at the end: N/P is constant
        return length * n1 / p1
    x = (p2 - p1) / p1
    if abs(x) < 1e-2:  # both series to x^9: under 1e-18 off
        powers = (-x) ** np.arange(10)
        ratio, remainder = powers @ (1.0 / np.arange(1, 11)), powers @ (1.0 / np.arange(2, 12))
    else:
        ratio, remainder = np.log1p(x) / x, (x - np.log1p(x)) / x**2
    return float(length / p1 * (n1 * ratio + (n2 - n1) * remainder))


def uniform_precision_at_recall(
    negatives: UniformScores, positives: UniformScores, prevalence: float, recall: float
) -> float:
    """Precision is a ratio of linear functions of t between the intervals' ends, so monotone there:
    its sup over the thresholds up to t_r (A1(t_r) = recall) is at one of those ends or at t_r. Below
    the positives' interval A1 = 1 and A0 only falls, so that sup starts at its low end."""
    top = positives.high - recall * positives.width
    inside = [t for t in (negatives.low, negatives.high, positives.low) if positives.low <= t <= top]
    return max(
        float(precision(prevalence, _uniform_at_least(positives, t), _uniform_at_least(negatives, t)))
        for t in [*inside, top]
    )
