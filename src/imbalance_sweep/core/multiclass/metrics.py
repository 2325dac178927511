"""The K-class metrics of labels and scores: an accumulator fed chunk by chunk in flat memory (the
confusion counts, top-k hits, log loss and calibration bins), the ranking metrics of all scores
at once, and :func:`multiclass_metrics`, both of one set.

Choices scikit-learn leaves open or makes otherwise, here (the others: confusion, calibration,
ranking):

* top-k accuracy: the true class is among the k highest scores, ties ordered by the lowest index
  first, as the argmax predictions take them, so top-1 accuracy is the accuracy. scikit-learn's
  ``top_k_accuracy_score`` orders ties by the highest index first (a reversed stable argsort), so the
  two differ only where a row's k-th and (k+1)-th scores tie across its true class. k >= K gives 1.0.
* log loss: scikit-learn's ``log_loss``: the mean of -log of the score given to the true class,
  clipped to [eps, 1 - eps] with eps of the scores' dtype (2^-23 for float32, 2^-52 for float64),
  the log and the mean in float64 (scikit-learn takes the log in the scores' dtype). The Keras-clipped
  categorical cross-entropy is a loss, not this metric.
* Sums that are not counts (log loss, the calibration bins' score sums) are exact until the end
  (:class:`ExactSums`), so every value is the same bit for bit however the rows are chunked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, is_number, shown, whole_number
from ..metrics import DEFAULT_ECE_BINS, MAX_ECE_BINS
from ..simulator import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from ..vocabulary import class_key
from .calibration import CalibrationCounts
from .confusion import (
    DEFAULT_FEW_BELOW,
    DEFAULT_MANY_ABOVE,
    band_recalls,
    confusion_counts,
    confusion_metrics,
    predicted_classes,
)
from .exact_sums import ExactSums
from .labelled import Labels, Scores, checked_classes, labelled_class_scores, per_class
from .ranking import ranking_metrics

DEFAULT_TOP_K = 5  # top-5 accuracy, as ImageNet results report it


@dataclass(frozen=True)
class MulticlassSettings:
    """The values the K-class metrics that take one are computed at."""

    top_k: int = DEFAULT_TOP_K
    ece_bins: int = DEFAULT_ECE_BINS
    many_above: float = DEFAULT_MANY_ABOVE
    few_below: float = DEFAULT_FEW_BELOW


DEFAULT_MULTICLASS = MulticlassSettings()


def multiclass_settings(
    top_k: Any = DEFAULT_TOP_K,
    ece_bins: Any = DEFAULT_ECE_BINS,
    many_above: Any = DEFAULT_MANY_ABOVE,
    few_below: Any = DEFAULT_FEW_BELOW,
) -> MulticlassSettings:
    """The settings, checked: ``top_k`` >= 1, ``ece_bins`` in [1, 10^6], band cut-offs finite,
    ``0 <= few_below <= many_above``."""
    k = whole_number("top_k", top_k, minimum=1)
    bins = whole_number("ece_bins", ece_bins, minimum=1, maximum=MAX_ECE_BINS)
    for name, value in (("many_above", many_above), ("few_below", few_below)):
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise InvalidValue(f"{name}={shown(value)} is not a finite number of training samples >= 0")
    if few_below > many_above:
        raise InvalidValue(
            f"few_below={shown(few_below)} is above many_above={shown(many_above)}; allowed: few_below <= many_above"
        )
    return MulticlassSettings(k, bins, float(many_above), float(few_below))


def top_k_hits(labels: Labels, scores: Scores, predicted: Labels, k: int) -> int:
    """Rows whose true class is among their k highest scores, ties lowest index first. A row whose
    argmax is its class is a hit for any k: where those are most rows, only the others are ranked."""
    classes = scores.shape[1]
    if k >= classes:
        return int(labels.size)
    missed = predicted != labels
    misses = int(np.count_nonzero(missed))
    if k == 1 or misses == 0:
        return int(labels.size - misses)
    hits = 0
    if 2 * misses < labels.size:  # rank the missed rows alone (the rest are hits)
        hits = labels.size - misses
        labels, scores = labels[missed], scores[missed]
    true_score = scores[np.arange(labels.size), labels][:, None]
    ahead = (scores > true_score) | ((scores == true_score) & (np.arange(classes) < labels[:, None]))
    return int(hits + np.count_nonzero(np.count_nonzero(ahead, axis=1) < k))


def true_class_log_losses(labels: Labels, scores: Scores) -> NDArray[np.float64]:
    """-log of each row's score for its true class, clipped as scikit-learn's ``log_loss`` clips."""
    eps = np.finfo(scores.dtype).eps
    true_score = np.clip(scores[np.arange(labels.size), labels], eps, 1 - eps)
    return -np.log(true_score.astype(np.float64))


class MulticlassAccumulator:
    """The chunked K-class metrics of one set: ``add(labels, scores)`` per chunk, ``values()`` at the
    end. Memory is flat in the rows: K x K counts, the calibration bins, a few numbers."""

    def __init__(
        self,
        classes: int,
        settings: MulticlassSettings = DEFAULT_MULTICLASS,
        *,
        training_counts: Any = None,
    ):
        """``training_counts``: each class's count in the training prior, for the frequency bands
        (None: no band values)."""
        self.classes = checked_classes(classes)
        self.settings = settings
        self.training_counts = (
            None
            if training_counts is None
            else per_class("training_counts", training_counts, self.classes, positive=False)
        )
        self.confusion = np.zeros((self.classes, self.classes), dtype=np.int64)
        self.top_k_hits = 0
        self.log_losses = ExactSums(1)
        self.calibration = CalibrationCounts(self.classes, settings.ece_bins)

    def add(self, labels: Any, scores: Any) -> None:
        """Fold in one chunk: labels of shape (n,), scores of shape (n, K) (checked: labelled)."""
        self.add_checked(*labelled_class_scores(labels, scores, classes=self.classes))

    def add_checked(self, labels: Labels, scores: Scores) -> None:
        """:meth:`add` of labels and scores already checked, with K columns."""
        if labels.size == 0:
            return
        predicted = predicted_classes(scores)
        self.confusion += confusion_counts(labels, predicted, self.classes)
        self.top_k_hits += top_k_hits(labels, scores, predicted, self.settings.top_k)
        self.log_losses.add(0, true_class_log_losses(labels, scores))
        self.calibration.add(labels, scores, predicted)

    def values(self) -> dict[str, float]:
        """Every chunked metric: the overall ones, ``<name>/class_<k>`` and ``recall/<band>``."""
        total = int(self.confusion.sum())
        if not total:
            raise InvalidValue("labels is empty: the K-class metrics need at least one sample")
        values = confusion_metrics(self.confusion)
        values["top_k_accuracy"] = self.top_k_hits / total
        values["log_loss"] = float(self.log_losses.totals()[0]) / total
        top_label, per_class = self.calibration.values()
        values["ece_top_label"] = top_label
        values["ece_classwise"] = float(per_class.mean())
        for label, value in enumerate(per_class.tolist()):
            values[class_key("ece", label, self.classes)] = value
        if self.training_counts is not None:
            values |= band_recalls(
                self.confusion,
                self.training_counts,
                many_above=self.settings.many_above,
                few_below=self.settings.few_below,
            )
        return values


def multiclass_metrics(
    labels: Any,
    scores: Any,
    *,
    training_counts: Any = None,
    top_k: Any = DEFAULT_TOP_K,
    ece_bins: Any = DEFAULT_ECE_BINS,
    many_above: Any = DEFAULT_MANY_ABOVE,
    few_below: Any = DEFAULT_FEW_BELOW,
    chunk_size: Any = DEFAULT_CHUNK_SIZE,
) -> dict[str, float]:
    """Every K-class metric of one set of labels (n,) and scores (n, K): the chunked ones, fed
    ``chunk_size`` rows at a time, and the ranking ones of all rows."""
    settings = multiclass_settings(top_k, ece_bins, many_above, few_below)
    size = whole_number("chunk_size", chunk_size, minimum=1, maximum=MAX_CHUNK_SIZE)
    labels, scores = labelled_class_scores(labels, scores)
    accumulator = MulticlassAccumulator(scores.shape[1], settings, training_counts=training_counts)
    for start in range(0, labels.size, size):
        accumulator.add_checked(labels[start : start + size], scores[start : start + size])
    values = accumulator.values()
    return values | ranking_metrics(labels, scores)
