"""The K x K confusion counts of labels and argmax predictions, and the metrics of those counts.

Rows are the true class, columns the predicted one: the argmax of a row of scores, the lowest index
among tied maxima (``np.argmax``, scikit-learn's ``predict``). The metrics are scikit-learn's with
``labels=range(K)`` and ``zero_division=0``, in float64 from exact integer counts:

* per class k: recall = C_kk / row_k, precision = C_kk / column_k, F1 = 2 C_kk / (row_k + column_k),
  0.0 where the denominator is 0 (no NaN, no warning: the project's rule, core.metrics);
* macro: the plain mean over all K classes, a class absent from labels and predictions counting 0.0;
  weighted: the mean weighted by each class's rows (its support); micro: for single-label classes
  micro precision, recall and F1 all equal the accuracy;
* balanced accuracy: the mean recall of the classes present in the labels (scikit-learn's
  ``balanced_accuracy_score``; so it differs from macro recall when a class has no rows);
* MCC: Gorodkin's R_K, ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))`` with c the
  correct rows, s all rows, p_k the predictions and t_k the rows of class k (``matthews_corrcoef``);
* Cohen's kappa: ``(p_o - p_e) / (1 - p_e)``, p_o = c / s, p_e = sum_k p_k t_k / s^2
  (``cohen_kappa_score``, unweighted).
MCC and kappa are 0.0 where their denominator is 0: every row of one class (MCC), or every row and
every prediction of one class (kappa; scikit-learn gives NaN there unless ``replace_undefined_by``).
Numerators and denominators are exact integers, so 10^9 rows neither overflow nor cancel.

Bands (long-tail papers' Many / Medium / Few shot): by a class's count in the training prior,
many > ``many_above``, few < ``few_below``, medium in between (defaults 100 and 20, ImageNet-LT's);
a band's value is the mean recall of its classes that have rows. A band without such a class has no
value (the key is absent): a 0.0 would read as a band the model fails.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..vocabulary import BANDS, band_key, class_key
from .labelled import Labels, Scores

DEFAULT_MANY_ABOVE = 100  # many-shot: more than this many training samples
DEFAULT_FEW_BELOW = 20  # few-shot: fewer than this many


def predicted_classes(scores: Scores) -> Labels:
    """Each row's argmax, the lowest index among tied maxima."""
    predicted: Labels = np.argmax(scores, axis=1).astype(np.intp, copy=False)
    return predicted


def confusion_counts(labels: Labels, predicted: Labels, classes: int) -> NDArray[np.int64]:
    """The K x K counts: rows true class, columns predicted class."""
    cells = np.bincount(labels * classes + predicted, minlength=classes * classes)
    return cells.astype(np.int64, copy=False).reshape(classes, classes)


def _divided(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    """numerator / denominator, 0.0 where the denominator is 0."""
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def per_class_rates(confusion: NDArray[np.int64]) -> dict[str, NDArray[np.float64]]:
    """Each class's precision, recall and F1."""
    correct = np.diag(confusion).astype(np.float64)
    rows = confusion.sum(axis=1).astype(np.float64)
    columns = confusion.sum(axis=0).astype(np.float64)
    return class_rates(correct, rows, columns)


def class_rates(
    correct: NDArray[np.float64], rows: NDArray[np.float64], columns: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """Each class's precision, recall and F1 from its correct rows, rows and predictions (the last
    axis the classes; any leading shape)."""
    return {
        "precision": _divided(correct, columns),
        "recall": _divided(correct, rows),
        "f1": _divided(2.0 * correct, rows + columns),
    }


def confusion_metrics(confusion: NDArray[np.int64]) -> dict[str, float]:
    """The metrics of the counts of at least one row: the overall ones and ``<name>/class_<k>``."""
    classes = confusion.shape[0]
    rates = per_class_rates(confusion)
    support = confusion.sum(axis=1)
    rows = [int(count) for count in support.tolist()]
    predictions = [int(count) for count in confusion.sum(axis=0).tolist()]
    correct, total = int(np.trace(confusion)), sum(rows)
    accuracy = float(correct) / float(total)
    values = {"accuracy": accuracy}
    recalls_present = [recall for recall, count in zip(rates["recall"].tolist(), rows, strict=True) if count]
    values["balanced_accuracy"] = sum(recalls_present) / len(recalls_present)
    for name, per_class in rates.items():
        values[f"{name}_macro"] = float(per_class.mean())
        values[f"{name}_weighted"] = float((per_class * support).sum() / total)
        values[f"{name}_micro"] = accuracy
    agreement = sum(p * t for p, t in zip(predictions, rows, strict=True))  # sum_k p_k t_k
    covariance = correct * total - agreement
    spread = (total * total - sum(p * p for p in predictions)) * (total * total - sum(t * t for t in rows))
    values["mcc"] = covariance / math.sqrt(spread) if spread else 0.0
    chance = total * total - agreement
    values["cohen_kappa"] = covariance / chance if chance else 0.0
    for name, per_class in rates.items():
        for label, value in enumerate(per_class.tolist()):
            values[class_key(name, label, classes)] = value
    return values


def float_confusion_metrics(
    correct: NDArray[np.float64], rows: NDArray[np.float64], columns: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """:func:`confusion_metrics` of float counts (expected ones: a prior times a model's confusion
    rates), for many sets at once: each class's correct rows, rows and predictions along the last
    axis, any leading shape, every set with rows > 0 in all. Every value depends on the counts only
    through these three, so a caller needs no K x K matrix per set. The same formulas and the same
    0.0 where a denominator is 0, in float64 rounding (the integer counts' are exact)."""
    classes = correct.shape[-1]
    rates = class_rates(correct, rows, columns)
    total = rows.sum(axis=-1)
    accuracy = correct.sum(axis=-1) / total
    values = {"accuracy": accuracy}
    present = rows > 0
    values["balanced_accuracy"] = (rates["recall"] * present).sum(axis=-1) / present.sum(axis=-1)
    for name, per_class in rates.items():
        values[f"{name}_macro"] = per_class.mean(axis=-1)
        values[f"{name}_weighted"] = (per_class * rows).sum(axis=-1) / total
        values[f"{name}_micro"] = accuracy
    agreement = (columns * rows).sum(axis=-1)  # sum_k p_k t_k
    covariance = correct.sum(axis=-1) * total - agreement
    squared = total * total
    spread = (squared - (columns * columns).sum(axis=-1)) * (squared - (rows * rows).sum(axis=-1))
    values["mcc"] = _divided(covariance, np.sqrt(np.maximum(spread, 0.0)))
    values["cohen_kappa"] = _divided(covariance, squared - agreement)
    for name, per_class in rates.items():
        for label in range(classes):
            values[class_key(name, label, classes)] = per_class[..., label]
    return values


def band_recalls(
    confusion: NDArray[np.int64],
    training_counts: NDArray[np.float64],
    *,
    many_above: float = DEFAULT_MANY_ABOVE,
    few_below: float = DEFAULT_FEW_BELOW,
) -> dict[str, float]:
    """``recall/<band>``: the mean recall of each band's classes that have rows, bands by
    ``training_counts`` (bands without such a class are left out)."""
    recall = per_class_rates(confusion)["recall"]
    has_rows = confusion.sum(axis=1) > 0
    membership = band_members(training_counts, many_above=many_above, few_below=few_below)
    values = {}
    for band in BANDS:
        members = membership[band] & has_rows
        if members.any():
            values[band_key(band)] = float(recall[members].mean())
    return values


def band_members(
    training_counts: NDArray[np.float64],
    *,
    many_above: float = DEFAULT_MANY_ABOVE,
    few_below: float = DEFAULT_FEW_BELOW,
) -> dict[str, NDArray[np.bool_]]:
    """Which classes each band holds, by training count: many > ``many_above``, few < ``few_below``,
    medium in between (both cut-offs included)."""
    return {
        "many": training_counts > many_above,
        "medium": (training_counts >= few_below) & (training_counts <= many_above),
        "few": training_counts < few_below,
    }
