"""The uniform score model's law of one class's scores: where they lie (:func:`score_interval`)
and their distribution (:class:`UniformScores`, a ``ScoreDistribution``).

Why apart from score_models/uniform.py: ``thresholds`` and ``population`` have closed forms for
two uniform laws, and the model builds on them (``from_score_laws``); with the law here the
imports point one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


def score_interval(label: int, acc: float) -> tuple[bool, float]:
    """Where a class's scores lie: ``(anchored_at_zero, width)``.

    Anchored at zero the scores are ``[0, width)``; otherwise ``(1 - width, 1]``. Negatives
    that are mostly right, and positives that are mostly wrong, sit low.
    """
    width = 0.5 / max(acc, 1.0 - acc)
    anchored_at_zero = (label == 0) == (acc >= 0.5)
    return anchored_at_zero, width


def _expit(z: np.ndarray | float) -> np.ndarray:
    """1 / (1 + exp(-z)), relative to itself near 0 (numpy only: this module does without scipy)."""
    with np.errstate(over="ignore"):
        expit: np.ndarray = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
    return expit


@dataclass(frozen=True)
class UniformScores:
    """A class's score law under the uniform model, for population values (``ScoreDistribution``):
    uniform on ``[low, high]``, one end at 0 or 1 (:func:`score_interval`)."""

    anchored_at_zero: bool
    width: float
    atom: ClassVar[None] = None

    @property
    def low(self) -> float:
        return 0.0 if self.anchored_at_zero else 1.0 - self.width

    @property
    def high(self) -> float:
        return self.width if self.anchored_at_zero else 1.0

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        return np.clip((np.asarray(t, dtype=float) - self.low) / self.width, 0.0, 1.0)

    def partial_mean(self, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        a = np.clip(low, self.low, self.high)
        b = np.clip(high, self.low, self.high)
        mean: np.ndarray = (b - a) * (b + a) / (2.0 * self.width)
        return mean

    def logit_at_least(self, z: np.ndarray | float) -> np.ndarray:
        # (high - t) / width; with the top end at 1, 1 - t = expit(-z) keeps its digits
        below_top = _expit(np.negative(z)) if self.high == 1.0 else self.high - _expit(z)
        return np.clip(below_top / self.width, 0.0, 1.0)

    def logit_quantile(self, p: np.ndarray | float) -> np.ndarray:
        with np.errstate(divide="ignore"):
            if self.anchored_at_zero:
                t = self.width * np.asarray(p, dtype=float)
                return np.log(t) - np.log1p(-t)
            top_distance = self.width * (1.0 - np.asarray(p, dtype=float))
            return np.log1p(-top_distance) - np.log(top_distance)
