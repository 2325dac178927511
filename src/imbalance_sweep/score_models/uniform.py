"""The post's score model, the default: per class, scores uniform on an interval (see ``simulator``).

Its drawing lives in ``simulator`` and its exact moments in ``expectations``, where the rest of the
project has always found them; this module makes them a score model value. The grid's accuracies
apply; nothing is added to a run's params or to the sweep key, so the post's sweeps keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..expectations import uniform_term_moments
from ..simulator import score_chunks
from . import unknown_keys


@dataclass(frozen=True)
class UniformModel:
    name: ClassVar[str] = "uniform"
    grid_accuracies: ClassVar[None] = None
    dataset: ClassVar[None] = None  # no input file to log

    def class_scores(
        self, rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
    ) -> Iterator[np.ndarray]:
        return score_chunks(rng, count, label, acc, chunk_size)

    def term_moments(self, label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
        return uniform_term_moments(label, acc, term, gamma)

    def class_accuracy(self, label: int, acc: float) -> float:
        return acc

    def params(self) -> dict[str, object]:
        return {}

    def identity(self) -> dict[str, object]:
        return {}


UNIFORM = UniformModel()


def from_config(config: Mapping[str, Any], *, start_dir=None) -> UniformModel:
    unknown_keys(config, ())
    return UNIFORM
