"""A validation set's losses and metrics as it is, and re-weighted exactly to other prevalences.

A validation set's prevalence need not be the one its model will meet. Its labels and scores are a
predictions file in memory (:func:`predictions.predictions_from_arrays`); the empirical score model
re-weights each class's scores to any prevalence without sampling (``score_models.empirical``), so
the values at a prevalence are those of an infinitely large set drawn from this one with that
balance, scaled to this set's size where a value is a count or a sum (``tp``, ``focal_tfa``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .checks import InvalidValue, shown
from .evaluation import evaluate
from .expectations import check_prevalence, expected_at_prevalence
from .losses import LOSS_NAMES
from .metrics import DEFAULT_METRICS, MetricSettings
from .predictions import predictions_from_arrays
from .prevalence import prevalence_text
from .score_models.empirical import EmpiricalModel


def check_prevalences(values: object) -> tuple[float, ...]:
    """Distinct prevalences, each strictly inside (0, 1)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidValue(f"prevalences={shown(values)} is not a list of numbers in (0, 1)")
    checked = tuple(check_prevalence(f"prevalences[{index}]", value) for index, value in enumerate(values))
    repeated = sorted({value for value in checked if checked.count(value) > 1})
    if repeated:
        raise InvalidValue(f"prevalences={list(checked)!r} repeats {prevalence_text(repeated[0])}")
    return checked


def check_labels(labels: ArrayLike) -> np.ndarray:
    """Validation labels as booleans: 1-D (or one column), 0 and 1 only, both classes present."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.size == 0:
        raise InvalidValue(f"y_val of shape {labels.shape} is not a non-empty 1-D array (or one column)")
    predictions = predictions_from_arrays(
        labels, np.zeros(labels.shape, np.float32), name="y_val", names=("y_val", "scores")
    )
    positives = int(np.count_nonzero(predictions.labels))
    if positives in (0, predictions.rows):
        kind = "positives" if positives == 0 else "negatives"
        raise InvalidValue(f"y_val has no {kind}: re-weighting needs samples of both classes")
    return predictions.labels


def validation_values(
    labels: np.ndarray,
    scores: np.ndarray,
    prevalences: Sequence[float],
    *,
    losses: Sequence[str] = LOSS_NAMES,
    alpha: float = 0.25,
    gamma: float = 2.0,
    settings: MetricSettings = DEFAULT_METRICS,
) -> dict[float | None, dict[str, float]]:
    """``{None: the set as it is, p: re-weighted to p for each of prevalences}``, each every loss
    (``loss/<name>``) and metric; the re-weighted values without their standard errors."""
    values: dict[float | None, dict[str, float]] = {
        None: evaluate(
            labels,
            scores,
            losses=losses,
            alpha=alpha,
            gamma=gamma,
            beta=settings.beta,
            recall=settings.recall,
            ece_bins=settings.ece_bins,
        )
    }
    model = EmpiricalModel(predictions_from_arrays(labels, scores, name="validation set"))
    for prevalence in prevalences:
        at = expected_at_prevalence(
            prevalence,
            labels.size,
            score_model=model,
            losses=losses,
            alpha=alpha,
            gamma=gamma,
            settings=settings,
        )
        values[prevalence] = {key: value for key, value in at.items() if not key.startswith("stderr/")}
    return values
