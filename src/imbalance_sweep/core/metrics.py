"""Classification metrics: the decision rule that turns scores into predictions, and the metrics
of the confusion counts it gives, in float64, with explicit zero-division values; the settings of
the metrics that take one (fbeta's beta, precision_at_recall's recall, ece's bins).

A score predicts the positive class iff it is > the threshold, 0.5 unless a cell sets another
(:func:`on_correct_side`; ``thresholds``); a class's accuracy is the share of its scores on their
correct side of 0.5.
Counts arrive as Python ints, so 10**9 samples neither overflow nor lose precision before the
float64 arithmetic. Where a denominator is zero the metric is 0.0, as scikit-learn gives with
``zero_division=0`` (and as it gives for MCC); balanced accuracy averages the recalls of the classes
present, as scikit-learn does. No NaN, no warning. So the class likelihood ratios
``lr_plus = recall / (1 - specificity)`` and ``lr_minus = (1 - recall) / specificity`` are 0.0 where
their denominator is 0 (scikit-learn's ``class_likelihood_ratios`` gives NaN there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import InvalidValue, is_number, shown, whole_number
from .thresholds import DEFAULT_THRESHOLD, cut
from .vocabulary import LOWER_IS_BETTER, is_loss_key, metric_names
from .vocabulary import METRIC_NAMES as METRIC_NAMES  # where the API has always found them

THRESHOLD = cut(DEFAULT_THRESHOLD)  # a score > THRESHOLD predicts 1; float32, as the scores are

# The metrics of the confusion counts (a function of tp, fp, tn and fn alone), then those of the
# scores themselves, at no threshold (``ranking``) and as probabilities (``calibration``); which
# way is better, for whatever ranks models (agreement, flip points, the heatmaps): ``vocabulary``.
CONFUSION_METRIC_NAMES = metric_names(lambda metric: metric.of_counts)
SCORE_METRIC_NAMES = metric_names(lambda metric: not metric.of_counts)

DEFAULT_BETA = 2.0  # fbeta: recall weighs beta times as much as precision (screening)
DEFAULT_RECALL = 0.9  # precision_at_recall: the best precision at this recall or more
DEFAULT_ECE_BINS = 15  # ece: equal-width bins on [0, 1], as calibration curves draw them


@dataclass(frozen=True)
class MetricSettings:
    """The values the metrics that take one are computed at (the config's ``metrics`` section)."""

    beta: float = DEFAULT_BETA
    recall: float = DEFAULT_RECALL
    ece_bins: int = DEFAULT_ECE_BINS

    def non_default(self) -> dict[str, object]:
        """``metrics.<key>`` of each setting that differs from its default: what enters a sweep's
        key, so that a sweep at the defaults keeps the key it had before the settings existed."""
        return {
            f"metrics.{key}": value
            for key, value in vars(self).items()
            if value != getattr(DEFAULT_METRICS, key)
        }


DEFAULT_METRICS = MetricSettings()
MAX_ECE_BINS = 1_000_000


SETTING_KEYS = ("beta", "recall", "ece_bins")
# How a config's section of the settings words a refusal of its shape, as each command has always
# printed it: a sweep's ``metrics``, and flip's ``metric_settings`` (flip's ``metrics`` names metrics).
SECTION_WORDING = {
    "metrics": ("must be a mapping of: ", "is not a metrics key; its keys are: "),
    "metric_settings": ("must be a mapping of ", "is not a setting; they are: "),
}


def metric_settings(
    beta: Any = DEFAULT_BETA,
    recall: Any = DEFAULT_RECALL,
    ece_bins: Any = DEFAULT_ECE_BINS,
    *,
    section: str = "metrics",
) -> MetricSettings:
    """Validate the metrics' settings (a config's ``section``, or the API's keywords)."""
    if not is_number(beta) or not 0 < beta < math.inf:
        raise InvalidValue(f"{section}.beta={shown(beta)} is not a finite number > 0")
    if not is_number(recall) or not 0 < recall <= 1:
        raise InvalidValue(f"{section}.recall={shown(recall)} is not a number in (0, 1]")
    bins = whole_number(f"{section}.ece_bins", ece_bins, minimum=1, maximum=MAX_ECE_BINS)
    return MetricSettings(float(beta), float(recall), bins)


def settings_section(settings: Any, *, section: str) -> MetricSettings:
    """A config's section of the settings (``section``: one of :data:`SECTION_WORDING`), checked:
    a mapping of :data:`SETTING_KEYS` only (a misspelt key is refused, not ignored; a missing one,
    or no section, takes its default)."""
    mapping_of, not_a_key = SECTION_WORDING[section]
    settings = {} if settings is None else settings
    keys = ", ".join(SETTING_KEYS)
    if not isinstance(settings, Mapping):
        raise InvalidValue(f"{section}={settings!r} {mapping_of}{keys}")
    unknown = sorted(set(settings) - set(SETTING_KEYS))
    if unknown:
        raise InvalidValue(f"{section}.{unknown[0]} {not_a_key}{keys}")
    return metric_settings(**settings, section=section)


def lower_is_better(key: str) -> bool:
    """Whether a lower value of a cell's ``key`` is better: a loss (``loss/<name>``) or a metric of
    :data:`LOWER_IS_BETTER`."""
    return is_loss_key(key) or key in LOWER_IS_BETTER


def on_correct_side(label: int, scores: np.ndarray, threshold: float | np.float32 = THRESHOLD) -> np.ndarray:
    """Which of a class's scores predict that class: > the threshold (0.5 unless given, compared in
    float32) for positives, <= it for negatives."""
    cut = np.float32(threshold)
    return scores > cut if label == 1 else scores <= cut


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def confusion_metrics(
    *, tp: float, fp: float, tn: float, fn: float, beta: float = DEFAULT_BETA
) -> dict[str, float]:
    """All of :data:`CONFUSION_METRIC_NAMES` from the four confusion counts (whole or expected)."""
    # Before the float conversion: with Python ints (sampled counts) the MCC numerator is exact,
    # though tp*tn and fp*fn can be ~1e18 and nearly cancel; expected counts are floats already.
    mcc_numerator = tp * tn - fp * fn
    tp, fp, tn, fn = (float(x) for x in (tp, fp, tn, fn))
    positives, negatives = tp + fn, tn + fp
    recall = _ratio(tp, positives)
    specificity = _ratio(tn, negatives)
    present = [rate for rate, support in ((recall, positives), (specificity, negatives)) if support]
    mcc_denominator = math.sqrt((tp + fp) * positives * negatives * (tn + fn))
    weighted_tp = (1.0 + beta * beta) * tp
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": recall,
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, positives + negatives),
        "balanced_accuracy": sum(present) / len(present) if present else 0.0,
        "specificity": specificity,
        "mcc": _ratio(mcc_numerator, mcc_denominator),
        "fbeta": _ratio(weighted_tp, weighted_tp + beta * beta * fn + fp),
        "lr_plus": _ratio(recall, _ratio(fp, negatives)),
        "lr_minus": _ratio(_ratio(fn, positives), specificity),
    }
