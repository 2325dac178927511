"""Score models: how one class's scores are distributed, as values the core takes.

A score model answers, for one class (``label`` 0 or 1) and the accuracy the grid asks of it:

* ``class_scores(rng, count, label, acc, chunk_size)``: float32 score chunks drawn from ``rng``
  (at most ``chunk_size`` each, ``count`` in all; the draw must not depend on the chunk size);
* ``term_moments(label, acc, term, gamma)``: the exact ``(E[x], E[x^2])`` of a per-sample loss term
  (``bce``, ``sq`` or ``focal``, as ``losses`` defines them, with Keras's float32 clipping) over the
  class's score distribution, for ``mode=expected`` and the expectations logged beside sampled cells;
* ``class_accuracy(label, acc)``: the probability that a score of the class is on its correct side
  of 0.5;
* ``class_accuracy_at(label, acc, threshold)``: the same at another threshold (a float64 cut:
  ``thresholds``), ``acc``'s meaning unchanged (the accuracy at 0.5 places the scores);
* ``best_threshold(acc_0s, acc_1s, num_0s, num_1s, *, metric, beta)``: the threshold that maximises
  one of ``thresholds.BEST_METRICS`` at the cell's population counts (``best:<metric>``);
* ``score_metrics(acc_0s, acc_1s, prevalence, *, recall, ece_bins)``: the population values of
  ``roc_auc``, ``average_precision``, ``precision_at_recall`` and ``ece`` (``core.population`` for a
  model with score laws, the file's re-weighted scores for ``empirical``);
* ``params()`` (what a run logs about the model) and ``identity()`` (what enters the sweep key);
  both are empty for ``uniform``, so the post's sweeps keep their keys and params;
* ``grid_accuracies``: ``None`` when the grid's accuracies apply, else the pair the model imposes
  on every cell (a model fitted to real predictions sets its own);
* ``dataset``: ``None``, or the input file a run logs as its MLflow dataset (``name``, ``path``,
  ``digest``, ``columns``).

For population values of the threshold-free and calibration metrics (``core.population``) a model
also gives each class's score law, ``score_distribution(label, acc)`` (:class:`ScoreDistribution`):
a second, smaller protocol (:class:`PopulationModel`), so a model can be used for cells before it
has one.

Adding a model is one module here, named as its config file ``conf/score_model/<name>.yaml``, with
a ``from_config(config, *, start_dir)`` that validates the config and returns the model.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from ..checks import InvalidValue, one_of

DEFAULT = "uniform"


class ScoreModel(Protocol):
    # read-only: a model may give them as class constants or as properties
    @property
    def name(self) -> str: ...

    @property
    def grid_accuracies(self) -> tuple[float, float] | None: ...

    @property
    def dataset(self) -> Mapping[str, object] | None: ...

    def class_scores(
        self, rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
    ) -> Iterator[np.ndarray]: ...

    def term_moments(self, label: int, acc: float, term: str, gamma: float) -> tuple[float, float]: ...

    def class_accuracy(self, label: int, acc: float) -> float: ...

    def class_accuracy_at(self, label: int, acc: float, threshold: float) -> float: ...

    def best_threshold(
        self, acc_0s: float, acc_1s: float, num_0s: float, num_1s: float, *, metric: str, beta: float
    ) -> float: ...

    def score_metrics(
        self, acc_0s: float, acc_1s: float, prevalence: float, *, recall: float, ece_bins: int
    ) -> dict[str, float]: ...

    def params(self) -> dict[str, object]: ...

    def identity(self) -> dict[str, object]: ...


class ScoreDistribution(Protocol):
    """One class's score law S, for population values. The methods take and give numpy arrays
    (or scalars) elementwise.

    ``atom`` is the score every sample has when the law is a point mass, else ``None`` (then S has
    a density). Ranking methods take thresholds as logits, ``z = log(t / (1 - t))``: ranks do not
    change under that increasing map, and it keeps scores within 1e-16 of 1 (or of each other near
    1) apart, which float64 scores cannot.
    """

    @property
    def atom(self) -> float | None: ...

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        """P(S <= t)."""
        ...

    def partial_mean(self, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        """E[S; low < S <= high]."""
        ...

    def logit_at_least(self, z: np.ndarray | float) -> np.ndarray:
        """P(logit(S) >= z), accurate relative to itself in the upper tail."""
        ...

    def logit_quantile(self, p: np.ndarray | float) -> np.ndarray:
        """The z with P(logit(S) <= z) = p (a law with a density: its inverse)."""
        ...


class PopulationModel(ScoreModel, Protocol):
    """A score model that also gives each class's score law (``core.population`` takes these)."""

    def score_distribution(self, label: int, acc: float) -> ScoreDistribution: ...


def names() -> tuple[str, ...]:
    """The score models available: the modules of this package."""
    return tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.ispkg))


def from_config(
    config: Mapping[str, Any] | None, *, start_dir: str | os.PathLike[str] | None = None
) -> ScoreModel:
    """The score model a ``score_model`` config names (``uniform`` when there is none), validated."""
    config = dict(config or {"name": DEFAULT})
    name = one_of("score_model.name", config.get("name"), names())
    module = importlib.import_module(f"{__name__}.{name}")
    model: ScoreModel = module.from_config(config, start_dir=start_dir)
    return model


def unknown_keys(config: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse a key the model does not take, naming it and those it does."""
    unknown = sorted(set(config) - set(allowed) - {"name"})
    if unknown:
        raise InvalidValue(
            f"score_model.{unknown[0]} is not a key of score_model={config.get('name')}; "
            f"its keys are: {', '.join(('name', *allowed))}"
        )
