"""ROC and precision-recall curves of a model's scores: the points a sweep's parent run draws.

Why: ROC AUC and average precision are one number each; the curves show where two models differ
(at the top of the ranking or across it), and that the precision-recall curve moves with the class
balance while the ROC curve does not.

A threshold t predicts positive for a score >= t: TPR(t) = P(S1 >= t), FPR(t) = P(S0 >= t), and at
prevalence pi precision(t) = pi TPR / (pi TPR + (1 - pi) FPR). So the ROC curve is one set of
points, and the precision-recall curve at any balance is those points seen at its prevalence
(:func:`precision_recall_points`).

* A model with score laws (``uniform``, ``beta``): the population curve, at thresholds on both
  classes' quantiles (in logits, tails included, each law's ends too: for two uniform laws, whose
  rates are linear between those ends, the polyline is the exact curve), from (0, 0) (a threshold
  above every score) through the threshold 1 (a point mass there counts) to (1, 1).
* A predictions file: the points at each of its distinct scores, each class's rows weighted by
  its share, from (0, 0): scikit-learn's ``roc_curve(..., drop_intermediate=False)``.
"""

from __future__ import annotations

import numpy as np

from .population import class_distributions, precision
from .score_models import ScoreDistribution, ScoreModel
from .score_models.empirical import EmpiricalModel

# Where, in each class's quantile, a law's curve takes a threshold: evenly, plus the tails (the
# precision-recall curve at a low prevalence is the negatives' top tail) and the ends
QUANTILES = np.unique(
    np.concatenate(
        [np.linspace(0.0, 1.0, 201), [1e-9, 1e-6, 1e-4, 1e-3, 1 - 1e-3, 1 - 1e-4, 1 - 1e-6, 1 - 1e-9]]
    )
)


def has_curves(model: ScoreModel) -> bool:
    """Whether :func:`roc_points` can draw ``model``: a file's, or a model with score laws."""
    return isinstance(model, EmpiricalModel) or hasattr(model, "score_distribution")


def roc_points(model: ScoreModel, acc_0s: float, acc_1s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of ``model`` at accuracies ``acc_0s``, ``acc_1s``, thresholds descending: from
    (0, 0) to (1, 1), both non-decreasing."""
    if isinstance(model, EmpiricalModel):  # a file's model: its own accuracies
        return file_roc_points(model.class_pool(0), model.class_pool(1))
    negatives, positives = class_distributions(model, acc_0s, acc_1s)
    return law_roc_points(negatives, positives)


def law_roc_points(
    negatives: ScoreDistribution, positives: ScoreDistribution
) -> tuple[np.ndarray, np.ndarray]:
    """The population curve of two score laws (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a quantile at 0 or 1
        thresholds = np.concatenate([law.logit_quantile(QUANTILES) for law in (negatives, positives)])
    thresholds = np.unique(thresholds[np.isfinite(thresholds)])[::-1]
    at_one = [1.0 if law.atom == 1.0 else 0.0 for law in (negatives, positives)]  # P(S >= 1)
    fpr = np.concatenate([[0.0, at_one[0]], negatives.logit_at_least(thresholds), [1.0]])
    tpr = np.concatenate([[0.0, at_one[1]], positives.logit_at_least(thresholds), [1.0]])
    # a law's tail is taken from one side of 1/2 or the other: an ulp of rounding where they meet
    return np.maximum.accumulate(fpr), np.maximum.accumulate(tpr)


def file_roc_points(negatives: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve of a file's scores of each class, at its distinct scores (see the module docstring)."""
    thresholds = np.unique(np.concatenate([negatives, positives]))[::-1]
    rates = []
    for scores in (negatives, positives):
        ordered = np.sort(scores)
        at_least = ordered.size - np.searchsorted(ordered, thresholds, side="left")
        rates.append(np.concatenate([[0.0], at_least / ordered.size]))
    return rates[0], rates[1]


def precision_recall_points(
    fpr: np.ndarray, tpr: np.ndarray, prevalence: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(recall, precision)`` of the ROC points ``(fpr, tpr)`` at ``prevalence``; a point that
    predicts nothing positive (precision 0 / 0) is left out."""
    predicted = prevalence * np.asarray(tpr) + (1.0 - prevalence) * np.asarray(fpr)
    kept = predicted > 0
    return np.asarray(tpr)[kept], precision(prevalence, np.asarray(tpr)[kept], np.asarray(fpr)[kept])
