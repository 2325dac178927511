"""Where a score becomes a prediction: the threshold of the confusion metrics, fixed or chosen.

Why: a model's accuracies say how it does at 0.5, the post's rule, but a practitioner deploys it at
the threshold that suits the task; the metrics of the confusion counts (``tp`` ... ``lr_minus``)
move with it, the ranking metrics, the skill scores and the ECE do not.

A threshold is a number in [0, 1] (a score > it predicts positive, compared in float32 as the
scores are: :func:`cut`) or ``best:<metric>`` for one of :data:`BEST_METRICS`: the threshold that
maximises that metric, chosen per cell.

* On a draw (sampled mode, and a predictions file's cells in expected mode) the candidates are
  exact: the table of each class's count at each distinct float32 score (``ranking.ScoreCounts``)
  gives the counts at every threshold that separates two distinct scores. A threshold is reported
  as the highest score it predicts negative (the value just below the positives' group; any
  threshold up to the next distinct score predicts the same), or 0.0 when every score is above 0
  and all are predicted positive. A coarsened table (a cell of more distinct scores than it keeps)
  gives the tops of its bins as the candidates: the metrics at the threshold reported are exact,
  the choice is the best among those candidates.
* Under a score law (expected mode) the counts are ``n0 P(S0 <= t)`` and ``n1 P(S1 > t)``: two
  uniform laws in closed form (every metric but MCC is monotone between the laws' ends, MCC has one
  stationary point there, in closed form); other laws on a grid of both laws' quantiles refined by
  bounded Brent searches in logits.

Ties: values within :data:`TIE_RTOL` (relative) of the largest count as equal, and the smallest
threshold among them is chosen (float rounding would otherwise pick between thresholds whose
values agree to twelve digits).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from .checks import InvalidValue, fraction, is_number, shown
from .score_models import ScoreDistribution
from .uniform_law import UniformScores
from .vocabulary import ranked_names

DEFAULT_THRESHOLD = 0.5  # the post's rule; a model's accuracies are defined at it
BEST_PREFIX = "best:"
BEST_METRICS = ranked_names(lambda metric: metric.best)
BEST_CHOICES = tuple(f"{BEST_PREFIX}{name}" for name in BEST_METRICS)
TIE_RTOL = 1e-12
GRID_POINTS = 512  # per law, quantile levels of the grid that brackets a law search's maxima
REFINED_MAXIMA = 4  # the grid's best local maxima refined by a Brent search
LOGIT_RANGE = (-700.0, 36.0)  # expit keeps its digits: 1e-304 up to 1 - 2e-16


def check_threshold(name: str, value: object) -> float | str:
    """``value`` as a threshold: a float in [0, 1], or one of :data:`BEST_CHOICES`."""
    allowed = f"{', '.join(BEST_CHOICES)} or a number in [0, 1]"
    if isinstance(value, str):
        if value in BEST_CHOICES:
            return value
        raise InvalidValue(f"{name}={value!r} is not one of: {allowed}")
    if not is_number(value):
        raise InvalidValue(f"{name}={shown(value)} is not one of: {allowed}")
    return fraction(name, value)


def best_metric(threshold: float | str) -> str | None:
    """The metric a ``best:<metric>`` threshold maximises; None for a fixed threshold."""
    return threshold.removeprefix(BEST_PREFIX) if isinstance(threshold, str) else None


def is_default(threshold: float | str) -> bool:
    """Whether ``threshold`` is the post's 0.5: a cell at it keeps its name and key."""
    return not isinstance(threshold, str) and threshold == DEFAULT_THRESHOLD


def threshold_text(value: object = DEFAULT_THRESHOLD) -> str:
    """A threshold as read back (a run's param, a table's column: text or a number) as one text per
    threshold: a number as Python prints its float, ``best:<metric>`` as it is. Text, so that keys of
    numbers and of ``best:`` thresholds sort together."""
    try:
        return str(float(str(value)))
    except ValueError:
        return str(value)


DEFAULT_THRESHOLD_TEXT = threshold_text(DEFAULT_THRESHOLD)


def row_threshold(row: Mapping[str, object]) -> str:
    """The threshold of a table's row or a run's params, as :func:`threshold_text`: 0.5 when it has
    none (a row, or a run, from before thresholds)."""
    return threshold_text(row.get("threshold", DEFAULT_THRESHOLD))


def from_text(text: str) -> float | str:
    """The threshold a :func:`threshold_text` stands for."""
    try:
        return float(text)
    except ValueError:
        return text


def cut(threshold: float) -> np.float32:
    """The float32 value a score is compared with: a score > it predicts positive."""
    return np.float32(threshold)


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    ratios: np.ndarray = np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )
    return ratios


def metric_curve(
    metric: str,
    tp: np.ndarray | float,
    fp: np.ndarray | float,
    tn: np.ndarray | float,
    fn: np.ndarray | float,
    *,
    beta: float,
) -> np.ndarray:
    """One of :data:`BEST_METRICS` at each set of confusion counts (arrays), as
    ``metrics.confusion_metrics`` defines it: float64, 0.0 where a denominator is 0."""
    tp, fp, tn, fn = (np.asarray(count, dtype=np.float64) for count in (tp, fp, tn, fn))
    positives, negatives = tp + fn, tn + fp
    if metric == "f1":
        return _ratios(2.0 * tp, 2.0 * tp + fp + fn)
    if metric == "fbeta":
        weighted = (1.0 + beta * beta) * tp
        return _ratios(weighted, weighted + beta * beta * fn + fp)
    if metric == "balanced_accuracy":
        has_positives, has_negatives = positives > 0, negatives > 0
        rates = np.where(has_positives, _ratios(tp, positives), 0.0)
        rates = rates + np.where(has_negatives, _ratios(tn, negatives), 0.0)
        return _ratios(rates, has_positives.astype(float) + has_negatives)
    if metric == "mcc":
        return _ratios(tp * tn - fp * fn, np.sqrt((tp + fp) * positives * negatives * (tn + fn)))
    raise InvalidValue(f"metric={metric!r} is not one of: {', '.join(BEST_METRICS)}")


def choose(thresholds: np.ndarray, values: np.ndarray) -> int:
    """The index of the best value; among ties (within :data:`TIE_RTOL`), of the smallest threshold."""
    best = float(np.max(values))
    tied = np.flatnonzero(values >= best - TIE_RTOL * abs(best))
    return int(tied[np.argmin(thresholds[tied])])


# --- a table of counts at distinct scores: a draw, or a predictions file's re-weighted rows -------------


def row_tops(values: np.ndarray, resolution_bits: int = 0) -> np.ndarray:
    """Per row of a score table, the highest float32 score it holds (at most 1.0): the row's own
    value when exact, the last value of its bin of 2**resolution_bits float32 values when coarsened."""
    values = np.asarray(values, dtype=np.float64)
    if not resolution_bits:
        return values
    keys = values.astype(np.float32).view(np.uint32).astype(np.uint64) >> resolution_bits
    tops = ((keys + 1) << resolution_bits) - 1
    top_of_one = np.float32(1.0).view(np.uint32)
    coarsened: np.ndarray = np.minimum(tops, top_of_one).astype(np.uint32).view(np.float32).astype(np.float64)
    return coarsened


# (tp, fp, tn, fn) at each of a table's candidate thresholds
TableCounts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def table_counts(
    values: np.ndarray, weights_0: np.ndarray, weights_1: np.ndarray, resolution_bits: int = 0
) -> tuple[np.ndarray, TableCounts]:
    """The candidate thresholds of a table (ascending) and ``(tp, fp, tn, fn)`` at each: 0.0 first
    when every score is above it, then each row's top (everything up to it predicted negative)."""
    thresholds = row_tops(values, resolution_bits)
    tn = np.cumsum(np.asarray(weights_0, dtype=np.float64))
    fn = np.cumsum(np.asarray(weights_1, dtype=np.float64))
    if thresholds.size == 0 or np.asarray(values)[0] > 0.0:
        thresholds, tn, fn = (np.concatenate(([0.0], column)) for column in (thresholds, tn, fn))
    total_0, total_1 = tn[-1], fn[-1]
    return thresholds, (total_1 - fn, total_0 - tn, tn, fn)


def best_in_table(
    values: np.ndarray,
    weights_0: np.ndarray,
    weights_1: np.ndarray,
    metric: str,
    *,
    beta: float,
    resolution_bits: int = 0,
) -> tuple[float, tuple[float, float, float, float]]:
    """The threshold of a table that maximises ``metric`` (ties: the smallest), and the confusion
    counts ``(tp, fp, tn, fn)`` there."""
    thresholds, counts = table_counts(values, weights_0, weights_1, resolution_bits)
    index = choose(thresholds, metric_curve(metric, *counts, beta=beta))
    tp, fp, tn, fn = (float(column[index]) for column in counts)
    return float(thresholds[index]), (tp, fp, tn, fn)


# --- score laws: population counts n0 P(S0 <= t) and n1 P(S1 > t) -------------------------------------------


def share_on_correct_side(law: ScoreDistribution, label: int, threshold: float) -> float:
    """P(S <= t) for a negative's law, P(S > t) for a positive's."""
    below = float(law.cdf(threshold))
    return below if label == 0 else 1.0 - below


def _law_values(
    negatives: ScoreDistribution,
    positives: ScoreDistribution,
    sizes: tuple[float, float],
    metric: str,
    beta: float,
    thresholds: np.ndarray | float,
) -> np.ndarray:
    n0, n1 = sizes
    tn = n0 * negatives.cdf(thresholds)
    tp = n1 * (1.0 - positives.cdf(thresholds))
    return metric_curve(metric, tp, n0 - tn, tn, n1 - tp, beta=beta)


def best_of_laws(
    negatives: ScoreDistribution,
    positives: ScoreDistribution,
    sizes: tuple[float, float],
    metric: str,
    *,
    beta: float,
) -> float:
    """The t in [0, 1] that maximises ``metric`` at the population counts (ties: the smallest)."""
    if isinstance(negatives, UniformScores) and isinstance(positives, UniformScores):
        candidates = _uniform_candidates(negatives, positives, sizes, metric)
    else:
        candidates = _searched_candidates(negatives, positives, sizes, metric, beta)
    values = _law_values(negatives, positives, sizes, metric, beta, candidates)
    return float(candidates[choose(candidates, values)])


def _uniform_candidates(
    negatives: UniformScores, positives: UniformScores, sizes: tuple[float, float], metric: str
) -> np.ndarray:
    """Where a metric of two uniform laws can peak: the laws' ends and 0 and 1 (between them the
    counts are linear in t, so F1, F-beta and balanced accuracy are monotone), and for MCC its one
    stationary point on each piece (:func:`_mcc_stationary_point`)."""
    ends = [0.0, 1.0, negatives.low, negatives.high, positives.low, positives.high]
    pieces = np.unique(np.clip(ends, 0.0, 1.0))
    points = list(pieces)
    if metric == "mcc":
        for start, end in itertools.pairwise(pieces):
            point = _mcc_stationary_point(negatives, positives, sizes, start, end)
            if point is not None:
                points.append(point)
    return np.unique(points)


def _mcc_stationary_point(
    negatives: ScoreDistribution,
    positives: ScoreDistribution,
    sizes: tuple[float, float],
    start: float,
    end: float,
) -> float | None:
    """The t in (start, end) where MCC's derivative is 0, if any.

    With s = t - start, P tn - N fn = a + b s and (tp + fp)(tn + fn) = q(s) = c0 + c1 s + c2 s^2
    (all counts linear in s on the piece), MCC is (a + b s) / sqrt(P N q(s)); its derivative is 0
    where b q - (a + b s) q' / 2 = 0, whose s^2 terms cancel: s = (a c1 / 2 - b c0) / (b c1 / 2 - a c2).
    """
    n0, n1 = sizes
    length = end - start

    def counts(t: float) -> tuple[float, float]:
        tn = n0 * float(negatives.cdf(t))
        return n1 * (1.0 - float(positives.cdf(t))), tn

    (tp_0, tn_0), (tp_1, tn_1) = counts(start), counts(end)
    tp_slope, tn_slope = (tp_1 - tp_0) / length, (tn_1 - tn_0) / length
    a, b = n1 * tn_0 - n0 * (n1 - tp_0), n1 * tn_slope + n0 * tp_slope
    u0, u1 = tp_0 + n0 - tn_0, tp_slope - tn_slope  # predicted positive: tp + fp
    v0, v1 = tn_0 + n1 - tp_0, tn_slope - tp_slope  # predicted negative: tn + fn
    c0, c1, c2 = u0 * v0, u0 * v1 + u1 * v0, u1 * v1
    denominator = b * c1 / 2.0 - a * c2
    if denominator == 0.0:
        return None
    s = (a * c1 / 2.0 - b * c0) / denominator
    return start + s if 0.0 < s < length else None


def _searched_candidates(
    negatives: ScoreDistribution,
    positives: ScoreDistribution,
    sizes: tuple[float, float],
    metric: str,
    beta: float,
) -> np.ndarray:
    """A grid of thresholds at both laws' quantiles (so that a law packed near 0 or 1 is seen) and
    evenly on [0, 1], and the grid's best local maxima refined by bounded Brent searches in logits
    between their neighbours."""
    from scipy import optimize, special  # scipy only for a search: importing the package stays light

    levels = np.linspace(0.0, 1.0, GRID_POINTS + 1)[1:-1]
    with np.errstate(over="ignore"):
        quantiles = [special.expit(law.logit_quantile(levels)) for law in (negatives, positives)]
    grid = np.concatenate([*quantiles, np.linspace(0.0, 1.0, GRID_POINTS + 1)])
    grid = np.unique(np.clip(grid[np.isfinite(grid)], 0.0, 1.0))
    values = _law_values(negatives, positives, sizes, metric, beta, grid)
    padded = np.concatenate(([-np.inf], values, [-np.inf]))
    peaks = np.flatnonzero((values >= padded[:-2]) & (values >= padded[2:]))
    refined = []
    for peak in peaks[np.argsort(-values[peaks], kind="stable")][:REFINED_MAXIMA]:
        low, high = grid[max(peak - 1, 0)], grid[min(peak + 1, grid.size - 1)]
        bounds = np.clip(special.logit([low, high]), *LOGIT_RANGE)
        if bounds[1] <= bounds[0]:
            continue
        found = optimize.minimize_scalar(
            lambda z: -float(_law_values(negatives, positives, sizes, metric, beta, special.expit(z))),
            bounds=tuple(bounds),
            method="bounded",
            options={"xatol": 1e-12},
        )
        refined.append(float(special.expit(found.x)))
    return np.unique(np.concatenate([grid, refined]))
