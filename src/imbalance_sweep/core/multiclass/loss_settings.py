"""The settings of the K-class losses, checked, and the per-class tables they make from the
training class counts: the focal loss's alpha per class, the class-balanced weights, the logit
adjustments and the LDAM margins (the formulas: ``losses``'s docstring)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, is_number, shown
from ..vocabulary import MULTICLASS_LOSSES_BY_NAME
from .labelled import per_class

# Keras 3's CategoricalFocalCrossentropy defaults; Cui et al.'s largest beta; Menon et al.'s tau;
# the LDAM code's largest margin (max_m); scale 1, not its 30 (see ``losses``).
DEFAULT_ALPHA = 0.25
DEFAULT_GAMMA = 2.0
DEFAULT_BETA = 0.9999
DEFAULT_TAU = 1.0
DEFAULT_MAX_MARGIN = 0.5
DEFAULT_SCALE = 1.0


@dataclass(frozen=True)
class ClassTables:
    """What the losses take per class, for K classes (float64 arrays of length K)."""

    classes: int
    alpha: NDArray[np.float64]  # the focal loss's weight of each true class
    gamma: float
    class_balanced: NDArray[np.float64]  # (1 - beta) / (1 - beta**n_y), scaled to sum to K
    logit_adjustment: NDArray[np.float64]  # tau * log(prior): added to log p
    balanced_softmax: NDArray[np.float64]  # log(prior): the adjustment at tau = 1
    ldam_margins: NDArray[np.float64]  # max_margin * (n_min / n_y)**(1/4)
    scale: float  # LDAM's logit scale s


def of_the_training_prior(names: Iterable[str]) -> list[str]:
    """The losses of ``names`` that take the training prior."""
    return [name for name in names if MULTICLASS_LOSSES_BY_NAME[name].kind == "training_prior"]


def prior_counts_of(names: Iterable[str], training_counts: Any) -> Any:
    """``training_counts`` where a loss of ``names`` takes their prior, else None: the tables then
    need none, so a training count of 0 is refused only where it is used."""
    return training_counts if of_the_training_prior(names) else None


def class_tables(
    classes: int,
    losses: tuple[str, ...],
    *,
    training_counts: Any = None,
    alpha: Any = DEFAULT_ALPHA,
    gamma: Any = DEFAULT_GAMMA,
    beta: Any = DEFAULT_BETA,
    tau: Any = DEFAULT_TAU,
    max_margin: Any = DEFAULT_MAX_MARGIN,
    scale: Any = DEFAULT_SCALE,
) -> ClassTables:
    """The checked settings of ``losses`` as per-class tables. ``training_counts`` (one number > 0 a
    class: the counts of the training set, whose prior pi = n / sum(n)) is needed by the losses of
    kind ``training_prior`` only."""
    if is_number(alpha):
        alpha_per_class = np.full(classes, finite_at_least("alpha", alpha, 0.0))
    else:
        alpha_per_class = per_class("alpha", alpha, classes, positive=False)
    gamma = finite_at_least("gamma", gamma, 0.0)
    beta = effective_number_beta(beta)
    tau = finite_at_least("tau", tau, 0.0)
    max_margin = finite_at_least("max_margin", max_margin, 0.0)
    scale = finite_at_least("scale", scale, 0.0, strict=True)
    needing = of_the_training_prior(losses)
    if training_counts is None:
        if needing:
            raise InvalidValue(
                f"training_counts=None: {', '.join(needing)} need the training class counts, "
                f"a list of {classes} numbers > 0"
            )
        counts = np.ones(classes)
    else:
        counts = per_class("training_counts", training_counts, classes, positive=True)
    log_prior = np.log(counts) - np.log(counts.sum())
    return ClassTables(
        classes=classes,
        alpha=alpha_per_class,
        gamma=gamma,
        class_balanced=class_balanced_weights(counts, beta),
        logit_adjustment=tau * log_prior,
        balanced_softmax=log_prior,
        ldam_margins=max_margin * (counts.min() / counts) ** 0.25,
        scale=scale,
    )


def finite_at_least(name: str, value: Any, minimum: float, *, strict: bool = False) -> float:
    """``value`` as a float, finite and >= ``minimum`` (> with ``strict``)."""
    if not is_number(value) or not math.isfinite(value) or value < minimum or (strict and value == minimum):
        allowed = f"{'>' if strict else '>='} {minimum:g}"
        raise InvalidValue(f"{name}={shown(value)} is not a finite number {allowed}")
    return float(value)


def effective_number_beta(value: Any) -> float:
    """Cui et al.'s beta: a number in [0, 1) (0: every class weighs the same)."""
    if not is_number(value) or not math.isfinite(value) or not 0.0 <= value < 1.0:
        raise InvalidValue(f"beta={shown(value)} is not a number in [0, 1)")
    return float(value)


def class_balanced_weights(counts: NDArray[np.float64], beta: float) -> NDArray[np.float64]:
    """Cui et al.'s weights: one over each class's effective number (1 - beta**n) / (1 - beta),
    scaled so that they sum to K (beta = 0: all 1)."""
    if beta == 0.0:
        return np.ones_like(counts)
    # 1 - beta**n without the cancellation of beta**n near 1
    effective = -np.expm1(counts * np.log(beta)) / (1.0 - beta)
    weights: NDArray[np.float64] = (1.0 / effective) * (counts.size / np.sum(1.0 / effective))
    return weights
