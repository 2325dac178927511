"""Exact population values of a cell: no sampling. Each score model (``score_models``) gives the
exact per-class moments of the per-sample loss terms; this module reduces them to a cell's losses,
and its expected confusion counts to metrics.

Alongside each value comes the standard error a sampled cell of that size would have: from the
per-class variances for losses (the classes are drawn independently, each of fixed size), and by the
delta method over the two binomial counts for metrics.

:func:`expected_at_prevalence` gives the same values for a set of a given size at any prevalence:
its class sizes are expected counts, not whole numbers (a validation set re-weighted to the
prevalence a model will meet).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .calibration import null_log_loss, skill_scores
from .cell import Cell, make_cell
from .checks import InvalidValue, is_number, shown
from .evaluation import check_loss_settings
from .losses import LOSS_NAMES, LOSSES, per_sample_term, term_weight
from .metrics import CONFUSION_METRIC_NAMES, DEFAULT_METRICS, MetricSettings, confusion_metrics
from .prevalence import prevalence_of
from .score_models import ScoreModel
from .score_models.uniform import UNIFORM, or_default
from .thresholds import DEFAULT_THRESHOLD, best_metric, cut, is_default
from .vocabulary import SKILL_LOSSES, is_loss_key, loss_key, loss_name


@dataclass(frozen=True)
class Population:
    """A set of ``size`` samples at a ``prevalence`` in expectation: like a :class:`Cell`, but its
    class sizes are the expected counts ``size - prevalence size`` and ``prevalence size``."""

    num_0s: float
    num_1s: float
    acc_0s: float
    acc_1s: float
    threshold: float | str = DEFAULT_THRESHOLD  # the metrics' cut, as a cell's

    @property
    def prevalence(self) -> float:
        return prevalence_of(self.num_0s, self.num_1s)


def class_term_moments(
    label: int, acc: float, terms: Iterable[str], *, alpha: float, gamma: float, model: ScoreModel = UNIFORM
) -> dict[str, tuple[float, float]]:
    """Per term: (mean, variance) of the per-sample value for one class, under the score ``model``."""
    moments: dict[str, tuple[float, float]] = {}
    for term in terms:
        first, second = model.term_moments(label, acc, per_sample_term(term), gamma)
        weight = term_weight(term, label, alpha)
        first, second = weight * first, weight**2 * second
        moments[term] = (first, max(second - first**2, 0.0))
    return moments


def expected_losses(
    cell: Cell | Population, losses: Iterable[str], *, alpha: float, gamma: float, model: ScoreModel = UNIFORM
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
        values[loss_key(name)] = value
        values[f"stderr/{loss_key(name)}"] = error
    return values


def threshold_accuracies(
    cell: Cell | Population, model: ScoreModel = UNIFORM, settings: MetricSettings = DEFAULT_METRICS
) -> tuple[float, float, dict[str, float]]:
    """Each class's share on its correct side of the cell's threshold, and for ``best:<metric>``
    the threshold chosen, as ``{"threshold/<metric>": t}``.

    At 0.5 these are the model's accuracies, as they always were; a fixed threshold is cut as the
    scores are compared with it (float32); ``best:<metric>`` maximises the metric at the population
    counts (``ScoreModel.best_threshold``).
    """
    if is_default(cell.threshold):
        return model.class_accuracy(0, cell.acc_0s), model.class_accuracy(1, cell.acc_1s), {}
    metric = best_metric(cell.threshold)
    chosen = {}
    if metric is None:
        threshold = float(cut(float(cell.threshold)))
    else:
        threshold = model.best_threshold(
            cell.acc_0s, cell.acc_1s, cell.num_0s, cell.num_1s, metric=metric, beta=settings.beta
        )
        chosen = {f"threshold/{metric}": threshold}
    a0 = model.class_accuracy_at(0, cell.acc_0s, threshold)
    return a0, model.class_accuracy_at(1, cell.acc_1s, threshold), chosen


def expected_metrics(
    cell: Cell | Population, model: ScoreModel = UNIFORM, settings: MetricSettings = DEFAULT_METRICS
) -> dict[str, float]:
    """Each metric at the expected confusion counts, and its delta-method standard error; with a
    ``best:<metric>`` threshold, the threshold chosen (``threshold/<metric>``) after them.

    tn ~ Binomial(num_0s, a0) and tp ~ Binomial(num_1s, a1), independently, with each class's share
    on its correct side of the cell's threshold (:func:`threshold_accuracies`; the standard errors
    take a chosen threshold as fixed).
    """
    n0, n1 = cell.num_0s, cell.num_1s
    a0, a1, chosen = threshold_accuracies(cell, model, settings)

    def at(tp: float, tn: float) -> dict[str, float]:
        return confusion_metrics(tp=tp, fp=n0 - tn, tn=tn, fn=n1 - tp, beta=settings.beta)

    tp, tn = n1 * a1, n0 * a0
    values = at(tp, tn)

    def slopes(count: float, total: float, shifted: Callable[[float], dict[str, float]]) -> dict[str, float]:
        """d metric / d count by a central difference, kept inside [0, total] (one-sided at the ends)."""
        step = 1e-4 * total
        up, down = min(count + step, total), max(count - step, 0.0)
        above, below = shifted(up), shifted(down)
        return {name: (above[name] - below[name]) / (up - down) for name in CONFUSION_METRIC_NAMES}

    variance_tp, variance_tn = n1 * a1 * (1 - a1), n0 * a0 * (1 - a0)
    zero = dict.fromkeys(CONFUSION_METRIC_NAMES, 0.0)
    slope_tp = slopes(tp, n1, lambda x: at(x, tn)) if variance_tp else zero
    slope_tn = slopes(tn, n0, lambda x: at(tp, x)) if variance_tn else zero
    for name in CONFUSION_METRIC_NAMES:
        values[f"stderr/{name}"] = delta_method_error(
            slope_tp[name], variance_tp, slope_tn[name], variance_tn
        )
    values.update(chosen)
    return values


def delta_method_error(slope_tp: float, variance_tp: float, slope_tn: float, variance_tn: float) -> float:
    """sqrt(slope_tp^2 var_tp + slope_tn^2 var_tn). A slope's square can overflow where the error
    does not (an accuracy within 1e-200 of 0 makes lr_plus's slope enormous and its variance tiny):
    then each term is scaled before it is squared (``math.hypot``), which is exact to rounding."""
    try:
        return math.sqrt(slope_tp**2 * variance_tp + slope_tn**2 * variance_tn)
    except OverflowError:
        return math.hypot(slope_tp * math.sqrt(variance_tp), slope_tn * math.sqrt(variance_tn))


def expected_skill(prevalence: float, losses: Mapping[str, float]) -> dict[str, float]:
    """``log_loss_skill`` and ``brier_skill`` of the expected BCE and Brier score (``losses``, as
    :func:`expected_losses` gives them), and their standard errors: the losses' over the constant
    losses of predicting the prevalence (``calibration``)."""
    values = skill_scores(bce=losses[loss_key("bce")], brier=losses[loss_key("brier")], prevalence=prevalence)
    for name, loss, null in (
        ("log_loss_skill", "bce", null_log_loss(prevalence)),
        ("brier_skill", "brier", prevalence * (1.0 - prevalence)),
    ):
        values[f"stderr/{name}"] = losses[f"stderr/{loss_key(loss)}"] / null if null else 0.0
    return values


def expected_cell(
    cell: Cell | Population,
    *,
    losses: Iterable[str],
    alpha: float,
    gamma: float,
    model: ScoreModel = UNIFORM,
    settings: MetricSettings = DEFAULT_METRICS,
) -> dict[str, float]:
    """A cell's population values under the same keys a sampled cell logs, plus ``stderr/<key>``;
    ``model`` is its score model (``score_models``), ``settings`` the metrics'."""
    losses = list(losses)
    # the skill scores' BCE and Brier score come with the cell's losses, computed once
    computed = expected_losses(
        cell,
        [*losses, *(name for name in SKILL_LOSSES if name not in losses)],
        alpha=alpha,
        gamma=gamma,
        model=model,
    )
    return {
        **{key: value for key, value in computed.items() if loss_name(key.removeprefix("stderr/")) in losses},
        **expected_metrics(cell, model, settings),
        **model.score_metrics(
            cell.acc_0s, cell.acc_1s, cell.prevalence, recall=settings.recall, ece_bins=settings.ece_bins
        ),
        **expected_skill(cell.prevalence, computed),
    }


def beside_sampled(expected: dict[str, float]) -> dict[str, float]:
    """What a sampled cell logs next to its own values: ``expected/<key>`` for every value, and
    the standard errors of the losses (a metric's follows from its expected counts; each logged
    value costs the tracking store a row, and a big sweep's time is mostly the store's)."""
    return {
        key if key.startswith("stderr/") else f"expected/{key}": value
        for key, value in expected.items()
        if not key.startswith("stderr/") or is_loss_key(key.removeprefix("stderr/"))
    }


def expected(
    num_0s: Any,
    acc_0s: Any,
    num_1s: Any,
    acc_1s: Any,
    *,
    losses: Sequence[str] = LOSS_NAMES,
    alpha: float = 0.25,
    gamma: float = 2.0,
    score_model: ScoreModel | None = UNIFORM,
    threshold: float | str = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """Public API: a cell's exact population values (``loss/<name>``, metrics) and ``stderr/<key>``.

    ``score_model`` is a value of ``score_models`` (see :func:`score_models.uniform.or_default`); one
    that sets its own accuracies (``empirical``) ignores ``acc_0s`` and ``acc_1s``. ``threshold`` is
    where the confusion metrics cut the scores: a number in [0, 1] (the accuracies keep their
    meaning at 0.5) or ``best:<metric>``, which adds the threshold chosen as ``threshold/<metric>``.
    """
    losses, _, alpha, gamma, _ = check_loss_settings(losses, "numpy", alpha, gamma, 1)
    score_model = or_default(score_model)
    if score_model.grid_accuracies is not None:
        acc_0s, acc_1s = score_model.grid_accuracies
    cell = make_cell(num_0s, num_1s, acc_0s, acc_1s, threshold=threshold)
    return expected_cell(cell, losses=losses, alpha=alpha, gamma=gamma, model=score_model)


def check_prevalence(name: str, value: Any) -> float:
    """A prevalence strictly inside (0, 1): both classes present, so each weighs something."""
    if not is_number(value) or not 0.0 < float(value) < 1.0:  # False for NaN
        raise InvalidValue(f"{name}={shown(value)} is not a number in (0, 1)")
    return float(value)


def expected_at_prevalence(
    prevalence: float,
    size: float,
    *,
    score_model: ScoreModel,
    losses: Iterable[str] = LOSS_NAMES,
    alpha: float = 0.25,
    gamma: float = 2.0,
    settings: MetricSettings = DEFAULT_METRICS,
) -> dict[str, float]:
    """The population values of ``score_model`` (one that sets its own accuracies, as a predictions
    file's does) for ``size`` samples at ``prevalence``: :func:`expected` without whole class sizes.

    Losses and metrics are those of an infinitely large cell; the confusion counts, ``focal_tfa`` (a
    sum) and the standard errors are scaled to ``size``."""
    prevalence = check_prevalence("prevalence", prevalence)
    if score_model.grid_accuracies is None:
        raise InvalidValue(f"score_model={score_model.name!r} does not set its own accuracies")
    acc_0s, acc_1s = score_model.grid_accuracies
    positives = prevalence * size
    population = Population(size - positives, positives, acc_0s, acc_1s)
    return expected_cell(
        population, losses=losses, alpha=alpha, gamma=gamma, model=score_model, settings=settings
    )
