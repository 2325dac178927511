"""Calibration errors of K-class scores, accumulated chunk by chunk: top-label ECE and class-wise ECE.

Both bin scores into equal-width bins on [0, 1] by the binary ``ece``'s rule (core.calibration: a
score on an inner edge belongs to the bin below, as scikit-learn's ``calibration_curve`` bins it;
1.0 is in the last bin). Per bin only counts and exact score sums are kept (:class:`ExactSums`), so
memory is flat in the sample count and the values are the same bit for bit however the samples are
chunked.

* top-label ECE (Guo et al., 2017): bins of the confidence, the highest score of a row;
  ``sum_b |correct_b - confidence sum_b| / N``, a row correct when its argmax (lowest index among
  ties, as the confusion counts take it) is its label.
* class ECE of class k: bins of the scores of column k over every row;
  ``sum_b |rows of class k_b - score sum_b| / N``. At K = 2 the class ECE of class 1 is the binary
  ``ece`` of p = scores[:, 1]. class-wise ECE (Kull et al., 2019) is the mean of the K class ECEs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..calibration import CalibrationBins, inner_edges
from .exact_sums import ExactSums
from .labelled import Labels, Scores


def bins_of(scores: Scores, bins: int, *, float32_bins: CalibrationBins | None = None) -> NDArray[np.intp]:
    """Each score's bin (any shape): the binary ece's fast rule for float32 (``float32_bins``, when
    given, made for ``bins``), scikit-learn's ``searchsorted`` over the float64 inner edges for
    float64 (the two agree on float32)."""
    if scores.dtype == np.float32:
        return (float32_bins or CalibrationBins(bins)).bin_of(scores)
    return np.searchsorted(inner_edges(bins), scores).astype(np.intp)


class CalibrationCounts:
    """Per bin of the confidence: correct rows and the confidence's exact sum; per class and bin of
    that class's scores: rows of the class and the scores' exact sum."""

    def __init__(self, classes: int, bins: int):
        self.classes, self.bins = classes, bins
        self.samples = 0
        self.correct = np.zeros(bins, dtype=np.int64)
        self.confidence = ExactSums(bins)
        self.in_class = np.zeros(classes * bins, dtype=np.int64)
        self.class_scores = ExactSums(classes * bins)
        self._float32_bins = CalibrationBins(bins)  # its rule worked out once, not per chunk

    def bins_of(self, scores: Scores) -> NDArray[np.intp]:
        """Each score's bin: :func:`bins_of`."""
        return bins_of(scores, self.bins, float32_bins=self._float32_bins)

    def add(self, labels: Labels, scores: Scores, predicted: Labels) -> None:
        """Fold in one chunk of checked labels and scores, with its argmax predictions.

        A score of 0 adds nothing to its bin's sum, so where most scores are 0 (a K-class cell's
        rows hold two that are not) only the others are binned for the class sums; the rows of
        each class are binned by their own class's score."""
        flat = scores.reshape(-1)
        row_starts = np.arange(0, flat.size, self.classes)
        confidence = flat.take(row_starts + predicted)
        confidence_bin = self.bins_of(confidence)
        self.samples += labels.size
        self.correct += np.bincount(confidence_bin[predicted == labels], minlength=self.bins)
        self.confidence.add(confidence_bin, confidence)
        # class k's bins are k * bins .. k * bins + bins - 1
        own_bin = self.bins_of(flat.take(row_starts + labels))
        own_bin += labels * self.bins
        self.in_class += np.bincount(own_bin, minlength=self.classes * self.bins)
        not_zero = flat != 0
        if 2 * np.count_nonzero(not_zero) > flat.size:  # dense scores (a model's softmax): bin them all
            class_bin = self.bins_of(scores)
            class_bin += np.arange(self.classes, dtype=np.intp) * self.bins
            self.class_scores.add(class_bin, scores)
            return
        nonzero = np.flatnonzero(not_zero)
        values = flat[nonzero]
        class_bin = self.bins_of(values)
        class_bin += _columns(nonzero, self.classes) * self.bins
        self.class_scores.add(class_bin, values)

    def values(self) -> tuple[float, NDArray[np.float64]]:
        """The top-label ECE and each class's ECE."""
        if not self.samples:
            return 0.0, np.zeros(self.classes)
        top_label = float(np.abs(self.correct - self.confidence.totals()).sum() / self.samples)
        gaps = np.abs(self.in_class - self.class_scores.totals()).reshape(self.classes, self.bins)
        return top_label, gaps.sum(axis=1) / self.samples


def _columns(places: NDArray[np.intp], classes: int) -> NDArray[np.intp]:
    """The column of each place in a (n, K) array read flat (in 32 bits where they fit: faster)."""
    if places.size and places[-1] < 1 << 32:
        columns: NDArray[np.intp] = (places.astype(np.uint32) % np.uint32(classes)).astype(np.intp)
        return columns
    return places % classes
