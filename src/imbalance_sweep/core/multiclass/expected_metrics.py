"""Population values of the K-class metrics (``metrics``) under the K-class uniform model of issue 26:
what a cell of infinite size gives, as the binary ``expectations`` and ``population`` give them.

In a row of true class k the class itself scores u, uniform on ``expected_terms.true_score_interval``
(a_k of it above 1/2), its confuser c ~ r_k scores 1 - u and every other class 0. So:

* the argmax is k exactly when u > 1/2 (ties have probability 0): the expected confusion counts are
  C_kk = n_k a_k and C_kc = (n_k - C_kk) r_kc, and the confusion metrics and band recalls are those of
  C, by the formulas of ``confusion`` (in float64: expected counts are not whole);
* top-k accuracy for k >= 2 is 1: k's score is above every class but c. (The float32 draw gives
  u = 0 with probability 2**-24 in a class of accuracy < 1/2; such a row ties with the zeros and can
  miss: a bias below 6e-8, left out.) top-1 is the accuracy;
* log loss: E[-log clip(u)], clipped to [2**-23, 1 - 2**-23] (float32's eps), in closed form;
* ECE: per bin, the exact mass and partial mean of the uniform laws of u and 1 - u (the confidence
  is max(u, 1 - u), right when u > 1/2); a class's column holds u in its rows, 1 - u in a share
  r_kj of class k's, 0 elsewhere (bin 0, adding nothing to its score sum);
* ROC AUC: A(j|k) = P(column j of a class-j row > of a class-k row) = (1 - r_kj) + r_kj P(u_j > 1 - u_k),
  the second a closed form for two uniform laws (``population.uniform_roc_auc``'s); OvR and OvO are
  the means of ``ranking`` over the classes and pairs that have rows.

The ECE and the AUCs are population values: a sampled cell's ECE is biased upwards (each bin's gap
is an absolute value of noisy sums), its AUCs are not.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
from numpy.typing import NDArray

from ..score_models.uniform import _integral_of_minus_log
from ..uniform_law import UniformScores, score_interval
from ..vocabulary import class_key
from .confusion import band_recalls, per_class_rates
from .expected_terms import true_score_interval
from .metrics import MulticlassSettings

Floats = NDArray[np.float64]

LOG_LOSS_CLIP = float(np.finfo(np.float32).eps)  # scikit-learn's log_loss clips float32 scores here


def expected_confusion(counts: Floats, accuracies: Floats, spread: Floats) -> Floats:
    """C_kk = n_k a_k on the diagonal, (n_k - C_kk) r_kc off it (rows true, columns predicted)."""
    correct = counts * accuracies
    confusion: Floats = (counts - correct)[:, None] * spread
    confusion[np.diag_indices_from(confusion)] = correct
    return confusion


def confusion_values(confusion: Floats) -> dict[str, float]:
    """``confusion.confusion_metrics`` of expected (float) counts: the same formulas in float64."""
    classes = confusion.shape[0]
    as_counts = cast(NDArray[np.int64], confusion)  # per_class_rates computes in float64 either way
    rates = per_class_rates(as_counts)
    rows, predictions = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = float(np.trace(confusion)), float(sum(rows.tolist()))
    accuracy = correct / total
    values = {"accuracy": accuracy}
    present = rates["recall"][rows > 0].tolist()
    values["balanced_accuracy"] = sum(present) / len(present)
    for name, per_class in rates.items():
        values[f"{name}_macro"] = float(per_class.mean())
        values[f"{name}_weighted"] = float((per_class * rows).sum() / total)
        values[f"{name}_micro"] = accuracy
    agreement = float(predictions @ rows)
    covariance = correct * total - agreement
    spread = (total * total - float(predictions @ predictions)) * (total * total - float(rows @ rows))
    values["mcc"] = covariance / math.sqrt(spread) if spread > 0 else 0.0
    chance = total * total - agreement
    values["cohen_kappa"] = covariance / chance if chance > 0 else 0.0
    for name, per_class in rates.items():
        for label, value in enumerate(per_class.tolist()):
            values[class_key(name, label, classes)] = value
    return values


def band_values(confusion: Floats, training_counts: Floats, settings: MulticlassSettings) -> dict[str, float]:
    """``recall/<band>`` of the expected counts, bands by the training counts (``confusion``'s rule)."""
    return band_recalls(
        cast(NDArray[np.int64], confusion),
        training_counts,
        many_above=settings.many_above,
        few_below=settings.few_below,
    )


def log_loss_means(accuracies: Floats) -> Floats:
    """Each class's E[-log clip(u)], clipped as ``metrics.true_class_log_losses`` clips float32."""
    low, high = LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP
    distinct, inverse = np.unique(accuracies, return_inverse=True)
    means = []
    for acc in distinct.tolist():
        u_lo, u_hi = true_score_interval(acc)
        below = max(0.0, min(u_hi, low) - u_lo)
        above = max(0.0, u_hi - max(u_lo, high))
        a, b = max(u_lo, low), min(u_hi, high)
        inside = _integral_of_minus_log(a, b) if b > a else 0.0
        means.append((below * -math.log(low) + above * -math.log(high) + inside) / (u_hi - u_lo))
    return np.array(means)[inverse.ravel()]


def calibration_values(counts: Floats, accuracies: Floats, spread: Floats, bins: int) -> tuple[float, Floats]:
    """The top-label ECE and each class's ECE of an infinite cell with these class shares."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    low, high = edges[:-1].copy(), edges[1:]
    low[0] = -np.inf  # the first bin holds 0
    half_low, half_high = np.maximum(low, 0.5), np.maximum(high, 0.5)  # the confidence is >= 1/2
    distinct, inverse = np.unique(accuracies, return_inverse=True)
    own_gap, confuser_mean, top_gap = (np.empty((distinct.size, bins)) for _ in range(3))
    for index, acc in enumerate(distinct.tolist()):
        own, confuser = UniformScores(*score_interval(1, acc)), UniformScores(*score_interval(0, acc))
        own_gap[index] = own.cdf(high) - own.cdf(low) - own.partial_mean(low, high)
        confuser_mean[index] = confuser.partial_mean(low, high)
        right = own.cdf(half_high) - own.cdf(half_low)  # u > 1/2: the confidence is u, the row right
        confidence = own.partial_mean(half_low, half_high) + confuser.partial_mean(half_low, half_high)
        top_gap[index] = right - confidence
    inverse = inverse.ravel()
    total = counts.sum()
    top_label = float(np.abs(counts @ top_gap[inverse]).sum() / total)
    # class j's bins: its own rows' (in class - score) minus the scores 1 - u its confusions get
    gaps = counts[:, None] * own_gap[inverse] - spread.T @ (counts[:, None] * confuser_mean[inverse])
    return top_label, np.abs(gaps).sum(axis=1) / total


def above_probabilities(accuracies: Floats) -> Floats:
    """``P[j, k]`` = P(u_j > 1 - u_k): the AUC of two uniform laws, as ``population.uniform_roc_auc``
    gives it (negatives 1 - u_k, positives u_j), for every pair at once."""
    own_low, own_high = np.array([true_score_interval(acc) for acc in accuracies.tolist()]).T
    positives_low, positives_high = own_low[:, None], own_high[:, None]
    start, end = 1.0 - own_high[None, :], 1.0 - own_low[None, :]  # 1 - u_k's interval
    positives_width = positives_high - positives_low
    flat = np.maximum(0.0, np.minimum(end, positives_low) - start)
    a, b = np.maximum(start, positives_low), np.minimum(end, positives_high)
    ramp = np.where(
        b > a, ((positives_high - a) ** 2 - (positives_high - b) ** 2) / (2.0 * positives_width), 0.0
    )
    above: Floats = (flat + ramp) / (end - start)
    return above


def ranking_values(counts: Floats, accuracies: Floats, spread: Floats) -> dict[str, float]:
    """``roc_auc_ovr``, ``roc_auc_ovr_weighted`` and ``roc_auc_ovo`` of an infinite cell, the
    classes without rows left out as ``ranking`` leaves them out."""
    distinct, inverse = np.unique(accuracies, return_inverse=True)
    inverse = inverse.ravel()
    above = above_probabilities(distinct)[np.ix_(inverse, inverse)]
    wins = 1.0 - spread.T + spread.T * above  # A(j|k) at [j, k]; the diagonal is not used
    total = counts.sum()
    present = counts > 0
    others = total - counts
    scored = present & (others > 0)
    off_diagonal = counts[None, :] * wins
    np.fill_diagonal(off_diagonal, 0.0)
    ovr = off_diagonal.sum(axis=1)[scored] / others[scored]
    pairs = np.triu(np.outer(present, present), k=1)
    ovo = ((wins + wins.T) / 2.0)[pairs]
    return {
        "roc_auc_ovr": float(ovr.mean()) if ovr.size else 0.0,
        "roc_auc_ovr_weighted": float(np.average(ovr, weights=counts[scored])) if ovr.size else 0.0,
        "roc_auc_ovo": float(ovo.mean()) if ovo.size else 0.0,
    }


def metric_values(
    counts: Floats, accuracies: Floats, spread: Floats, training_counts: Floats, settings: MulticlassSettings
) -> dict[str, float]:
    """Every K-class metric of ``multiclass_metrics`` (with ``training_counts``) at its population value."""
    confusion = expected_confusion(counts, accuracies, spread)
    values = confusion_values(confusion)
    values["top_k_accuracy"] = values["accuracy"] if settings.top_k == 1 else 1.0
    values["log_loss"] = float(counts @ log_loss_means(accuracies) / counts.sum())
    top_label, per_class = calibration_values(counts, accuracies, spread, settings.ece_bins)
    values["ece_top_label"] = top_label
    values["ece_classwise"] = float(per_class.mean())
    for label, value in enumerate(per_class.tolist()):
        values[class_key("ece", label, counts.size)] = value
    values |= band_values(confusion, training_counts, settings)
    return values | ranking_values(counts, accuracies, spread)
