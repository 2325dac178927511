"""The mixin of the score models with a score law per class (:class:`FromScoreLaws`).

Why its own module: ``thresholds`` and ``population`` take score laws (the protocols of
``score_models``), and the models with laws (``uniform``, ``beta``) build on them through this
mixin, so the imports point one way: score_models <- thresholds, population <- this <- the models.
"""

from __future__ import annotations

from typing import cast

from .population import population_score_metrics
from .score_models import ScoreDistribution, ScoreModel
from .thresholds import best_of_laws, is_default, share_on_correct_side


class FromScoreLaws:
    """What a score model with a score law per class gets from the laws alone: its accuracies at
    any threshold, the best threshold, and the population values of the ranking and calibration
    metrics (``core.thresholds`` and ``core.population``)."""

    def score_distribution(self, label: int, acc: float) -> ScoreDistribution:
        raise NotImplementedError  # each model gives its own

    def class_accuracy_at(self, label: int, acc: float, threshold: float) -> float:
        """The share of the class's scores on its correct side of ``threshold``: ``acc`` at 0.5."""
        if is_default(threshold):
            return acc
        return share_on_correct_side(self.score_distribution(label, acc), label, threshold)

    def best_threshold(
        self, acc_0s: float, acc_1s: float, num_0s: float, num_1s: float, *, metric: str, beta: float
    ) -> float:
        laws = self.score_distribution(0, acc_0s), self.score_distribution(1, acc_1s)
        return best_of_laws(*laws, (num_0s, num_1s), metric, beta=beta)

    def score_metrics(
        self, acc_0s: float, acc_1s: float, prevalence: float, *, recall: float, ece_bins: int
    ) -> dict[str, float]:
        model = cast(ScoreModel, self)  # the class that mixes this in is one
        return population_score_metrics(model, acc_0s, acc_1s, prevalence, recall=recall, ece_bins=ece_bins)
