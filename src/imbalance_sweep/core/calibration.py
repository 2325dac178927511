"""How good a cell's scores are as probabilities: skill against always predicting the prevalence,
and the expected calibration error.

* ``log_loss_skill = 1 - BCE / BCE_0`` and ``brier_skill = 1 - Brier / Brier_0``, where ``BCE_0`` and
  ``Brier_0`` are the losses of predicting the cell's prevalence ``pi`` for every sample:
  ``-(pi log pi + (1 - pi) log(1 - pi))`` and ``pi (1 - pi)`` (scikit-learn's ``d2_log_loss_score``
  and ``d2_brier_score``; BCE here is Keras's, clipped as ``loss/bce`` is). 1 is perfect, 0 no better
  than the prevalence, below 0 worse. A cell of one class has ``BCE_0 = 0``: the skill is 0.0, the
  project's rule for a zero denominator.
* ``ece``: equal-width bins on [0, 1] as scikit-learn's ``calibration_curve`` draws them (a score on
  an inner edge belongs to the bin below it), ``ECE = sum over bins of (n_b / N) |positives_b / n_b -
  mean score_b| = sum_b |positives_b - score sum_b| / N``. Per bin only counts and a float64 score
  sum are kept, so any cell takes the same few numbers per bin.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import numpy as np


def null_log_loss(prevalence: float) -> float:
    """The BCE of predicting ``prevalence`` for every sample of a cell with that prevalence."""
    return -sum(p * math.log(p) for p in (prevalence, 1.0 - prevalence) if p > 0)


def skill_scores(*, bce: float, brier: float, prevalence: float) -> dict[str, float]:
    """``log_loss_skill`` and ``brier_skill`` of a cell's BCE and Brier score."""
    null_bce, null_brier = null_log_loss(prevalence), prevalence * (1.0 - prevalence)
    return {
        "log_loss_skill": 1.0 - bce / null_bce if null_bce else 0.0,
        "brier_skill": 1.0 - brier / null_brier if null_brier else 0.0,
    }


def inner_edges(bins: int) -> np.ndarray:
    """The float64 edges between ``bins`` equal-width bins on [0, 1]."""
    return np.linspace(0.0, 1.0, bins + 1)[1:-1]


def edges_a_floor_misplaces(bins: int) -> list[float]:
    """The inner edges that ``floor(score * bins)`` places a float32 score on in the bin above,
    where scikit-learn's ``searchsorted`` puts it in the bin below.

    A float32 score times ``bins`` is exact in float64, so the floor is the bin of the real edges
    k / bins. The float64 edge ``e_k`` is k / bins rounded, and no float32 lies strictly between the
    two (it would be a float64 nearer to k / bins than ``e_k``): the two rules differ only for a
    score equal to an ``e_k`` that is a float32 and not below k / bins. For 15 bins there is none.
    """
    misplaced = []
    for k, edge in enumerate(inner_edges(bins), start=1):
        if float(np.float32(edge)) == edge and Fraction(edge) >= Fraction(k, bins):
            misplaced.append(float(edge))
    return misplaced


def expected_calibration_error(positives: np.ndarray, score_sums: np.ndarray, total: float) -> float:
    """ECE from each bin's positives and score sum (counts, or weights that sum to ``total``)."""
    return float(np.abs(positives - score_sums).sum() / total) if total else 0.0


class CalibrationBins:
    """Per equal-width bin: each class's samples and the float64 sum of their scores (per class, so
    that the order in which the classes arrive leaves every bit as it is)."""

    def __init__(self, bins: int):
        self.misplaced = edges_a_floor_misplaces(bins)
        self.counts = np.zeros((2, bins), dtype=np.int64)
        self.score_sums = np.zeros((2, bins))

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        """Each float32 score's bin, as scikit-learn's float64 ``searchsorted`` over the inner edges
        gives it (which takes some 40 times as long): ``floor(score * bins)``, 1.0 in the last bin,
        a score on a misplaced edge (:func:`edges_a_floor_misplaces`) in the bin below."""
        bins = self.counts.shape[1]
        # float64 on numpy 1 too; the cast first: multiply(..., dtype=float64) of float32 takes a
        # slow casting loop, some 20 times as long
        index = (scores.astype(np.float64) * bins).astype(np.intp)
        np.minimum(index, bins - 1, out=index)
        for edge in self.misplaced:
            index -= scores == np.float32(edge)
        return index

    def add(self, label: int, scores: np.ndarray) -> None:
        """Fold in one chunk of float32 scores whose true class is ``label``."""
        bins = self.counts.shape[1]
        index = self.bin_of(scores)
        self.counts[label] += np.bincount(index, minlength=bins)
        self.score_sums[label] += np.bincount(index, weights=scores, minlength=bins)

    def plus(self, label: int, counts: np.ndarray, score_sums: np.ndarray) -> CalibrationBins:
        """A copy with scores of class ``label`` added, already counted and summed per bin."""
        added = copy.copy(self)
        added.counts, added.score_sums = self.counts.copy(), self.score_sums.copy()
        added.counts[label] += counts
        added.score_sums[label] += score_sums
        return added

    def ece(self) -> float:
        score_sums = self.score_sums[0] + self.score_sums[1]
        return expected_calibration_error(self.counts[1], score_sums, int(self.counts.sum()))
