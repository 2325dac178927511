"""Which of two models a loss or a metric prefers, as the validation set's prevalence varies.

A model is a pair of per-class accuracies. At prevalence pi (the fraction of positives) the
expected per-sample loss is ``(1 - pi) * m0 + pi * m1`` from the per-class expectations of
``expectations`` (``balanced_bce`` averages the two classes and does not depend on pi;
``focal_tfa`` is a sum, N times ``focal_balanced``, so it prefers what that prefers), and a metric
follows from the expected confusion fractions. The *flip point* is the prevalence at which the
preference changes sides: found by scanning a logit-spaced grid of prevalences for sign changes of
the difference and bisecting each one, so it works for any score model with per-class expectations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .expectations import class_term_moments
from .losses import LOSSES
from .metrics import confusion_metrics

# Prevalences scanned for a change of sign: logit-spaced, from about 1e-7 to 1 - 1e-7.
SCAN = 1.0 / (1.0 + np.exp(-np.linspace(-16.0, 16.0, 641)))
# What the chart shows: below 1e-4 nothing changes any more.
SHOWN = SCAN[(SCAN >= 1e-4) & (SCAN <= 0.9999)]
BISECTIONS = 80


@dataclass(frozen=True)
class Model:
    """A classifier as the score model sees it: its accuracy on each class."""

    acc_0s: float
    acc_1s: float

    @property
    def name(self) -> str:
        return f"a0={self.acc_0s:g} a1={self.acc_1s:g}"


def loss_curve(model: Model, loss: str, *, alpha: float, gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    """Expected per-sample ``loss`` of ``model`` as a function of prevalence (vectorised)."""
    term, reduction = LOSSES[loss]
    means = [
        class_term_moments(label, acc, [term], alpha=alpha, gamma=gamma)[term][0]
        for label, acc in ((0, model.acc_0s), (1, model.acc_1s))
    ]
    if reduction == "class_mean":
        return lambda prevalence: np.full_like(np.asarray(prevalence, dtype=float), (means[0] + means[1]) / 2)
    return lambda prevalence: (1.0 - np.asarray(prevalence)) * means[0] + np.asarray(prevalence) * means[1]


def metric_curve(model: Model, metric: str) -> Callable[[np.ndarray], np.ndarray]:
    """Expected ``metric`` of ``model`` as a function of prevalence (vectorised)."""

    def at(prevalence: np.ndarray) -> np.ndarray:
        values = []
        for pi in np.atleast_1d(np.asarray(prevalence, dtype=float)):
            tp, tn = pi * model.acc_1s, (1.0 - pi) * model.acc_0s
            values.append(confusion_metrics(tp=tp, fp=(1.0 - pi) - tn, tn=tn, fn=pi - tp)[metric])
        return np.asarray(values).reshape(np.shape(prevalence))

    return at


def crossings(difference: Callable[[np.ndarray], np.ndarray], scan: np.ndarray = SCAN) -> list[float]:
    """Prevalences in (0, 1) where ``difference`` changes sign, each bisected to float precision."""
    values = difference(scan)
    roots = []
    for index in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
        low, high = float(scan[index]), float(scan[index + 1])
        low_sign = np.sign(values[index])
        for _ in range(BISECTIONS):
            middle = (low + high) / 2
            if np.sign(difference(np.array([middle]))[0]) == low_sign:
                low = middle
            else:
                high = middle
        roots.append((low + high) / 2)
    return roots


@dataclass(frozen=True)
class Preference:
    """How one loss or metric ranks two models across prevalence."""

    name: str
    is_loss: bool
    flips: tuple[float, ...]  # prevalences where the preference changes sides
    prefers_a_at: Callable[[float], bool]

    @property
    def key(self) -> str:
        """The name a sweep logs it under: ``loss/<name>`` for a loss, the metric's own name otherwise."""
        return f"loss/{self.name}" if self.is_loss else self.name


def preferences(
    model_a: Model,
    model_b: Model,
    *,
    losses: Sequence[str],
    metrics: Sequence[str],
    alpha: float,
    gamma: float,
) -> list[Preference]:
    """For each loss (lower is better) and metric (higher is better): where it flips between A and B."""
    found = []
    for name in losses:
        curve_a = loss_curve(model_a, name, alpha=alpha, gamma=gamma)
        curve_b = loss_curve(model_b, name, alpha=alpha, gamma=gamma)
        difference = lambda pi, a=curve_a, b=curve_b: b(pi) - a(pi)  # noqa: E731  > 0: A is better
        found.append(_preference(name, True, difference))
    for name in metrics:
        curve_a, curve_b = metric_curve(model_a, name), metric_curve(model_b, name)
        difference = lambda pi, a=curve_a, b=curve_b: a(pi) - b(pi)  # noqa: E731  > 0: A is better
        found.append(_preference(name, False, difference))
    return found


def _preference(name: str, is_loss: bool, difference) -> Preference:
    return Preference(
        name=name,
        is_loss=is_loss,
        flips=tuple(crossings(difference)),
        prefers_a_at=lambda pi: bool(difference(np.array([pi]))[0] > 0),
    )
