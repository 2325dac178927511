"""The empirical score model: each class's scores resampled from a predictions file's scores of it.

The grid's balances apply, its accuracies do not: each class's accuracy is that of the file's
scores of the class, and every cell gets the file's pair (the sweep logs it, and says so).

* Sampled: per class, scores drawn with replacement from the file's scores of that class, from the
  cell's own stream (an index ``floor(u * n)`` per score from one float64 uniform ``u``, so the draw
  does not depend on the chunk size).
* Expected: exact re-weighting, no sampling: each class's mean term over the file's scores of that
  class, weighted to the cell's class sizes (the reductions of ``expectations``); the standard
  errors are those of resampling a cell of that size. The ranking and calibration metrics likewise
  weigh each class's distinct scores to the cell's class shares: the values of an infinitely large
  cell resampled from the file (ROC AUC is the file's own at any prevalence; average precision,
  precision at recall and ECE move with it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..calibration import CalibrationBins, expected_calibration_error
from ..checks import InvalidValue
from ..losses import per_sample_terms
from ..metrics import on_correct_side
from ..predictions import Predictions, load_predictions
from ..ranking import ranking_metrics
from ..thresholds import best_in_table
from . import unknown_keys

KEYS = ("path", "label", "score", "from_logits")


@dataclass(frozen=True, eq=False)
class EmpiricalModel:
    predictions: Predictions
    name: ClassVar[str] = "empirical"
    _pools: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)
    # filled on first use: a term's moments by (label, term, gamma), the calibration shares by bin count
    _moments: dict[tuple[int, str, float | None], tuple[float, float]] = field(
        init=False, repr=False, default_factory=dict
    )
    _calibration: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        labels, scores = self.predictions.labels, self.predictions.scores
        pools = (np.ascontiguousarray(scores[~labels]), np.ascontiguousarray(scores[labels]))
        for label, pool in enumerate(pools):
            if pool.size == 0:
                raise InvalidValue(
                    f"predictions file {self.predictions.path!r} has no rows of label {label}: "
                    "score_model=empirical resamples each class from the file's scores of it"
                )
        object.__setattr__(self, "_pools", pools)

    @property
    def grid_accuracies(self) -> tuple[float, float]:
        """The file's accuracy on each class at 0.5: these replace the grid's."""
        acc_0s, acc_1s = (
            float(np.count_nonzero(on_correct_side(label, pool)) / pool.size)
            for label, pool in enumerate(self._pools)
        )
        return acc_0s, acc_1s

    @property
    def dataset(self) -> dict[str, object]:
        """What a run logs as its input dataset."""
        prediction = self.predictions
        return {
            "name": Path(prediction.path).name,
            "path": prediction.path,
            "digest": prediction.digest,
            "columns": {prediction.label_column: "label", prediction.score_column: "score"},
        }

    def class_pool(self, label: int) -> np.ndarray:
        """The file's float32 scores of class ``label`` (not to be modified)."""
        return self._pools[label]

    def class_scores(
        self, rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
    ) -> Iterator[np.ndarray]:
        pool = self._pools[label]
        buffer = np.empty(min(count, chunk_size), dtype=np.float32)
        for start in range(0, count, chunk_size):
            chunk = buffer[: min(chunk_size, count - start)]
            index = (rng.random(chunk.size) * pool.size).astype(np.intp)
            np.minimum(index, pool.size - 1, out=index)  # u * n may round up to n
            np.take(pool, index, out=chunk)
            yield chunk

    def term_moments(self, label: int, acc: float, term: str, gamma: float) -> tuple[float, float]:
        key = (label, term, gamma if term == "focal" else None)
        if key not in self._moments:
            values = per_sample_terms(label, self._pools[label], [term], gamma=gamma)[term]
            values = values.astype(np.float64)
            self._moments[key] = (float(values.mean()), float(np.mean(np.square(values))))
        return self._moments[key]

    def class_accuracy(self, label: int, acc: float) -> float:
        return self.grid_accuracies[label]

    def class_accuracy_at(self, label: int, acc: float, threshold: float) -> float:
        """The share of the file's scores of the class on its correct side of ``threshold`` (float32)."""
        pool = self._pools[label]
        return float(np.count_nonzero(on_correct_side(label, pool, threshold)) / pool.size)

    def best_threshold(
        self, acc_0s: float, acc_1s: float, num_0s: float, num_1s: float, *, metric: str, beta: float
    ) -> float:
        """Exactly, over the file's distinct scores: each class's rows weighted to the cell's size."""
        values, (share_0, share_1) = self._score_table
        threshold, _ = best_in_table(values, num_0s * share_0, num_1s * share_1, metric, beta=beta)
        return threshold

    @cached_property
    def _score_table(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The file's distinct scores (ascending) and each class's share of its rows at each."""
        values = np.unique(np.concatenate(self._pools))
        shares = []
        for pool in self._pools:
            distinct, counts = np.unique(pool, return_counts=True)
            share = np.zeros(values.size)
            share[np.searchsorted(values, distinct)] = counts / pool.size
            shares.append(share)
        return values.astype(np.float64), (shares[0], shares[1])

    def score_metrics(
        self, acc_0s: float, acc_1s: float, prevalence: float, *, recall: float, ece_bins: int
    ) -> dict[str, float]:
        """``roc_auc``, ``average_precision``, ``precision_at_recall`` and ``ece`` of an infinitely large
        cell of this ``prevalence`` resampled from the file: each class's rows weighted by its share."""
        values, (share_0, share_1) = self._score_table
        weights = ((1.0 - prevalence) * share_0, prevalence * share_1)
        metrics = ranking_metrics(values, *weights, recall=recall)
        (_, mean_sums_0), (positives, mean_sums_1) = self._calibration_shares(ece_bins)
        score_sums = (1.0 - prevalence) * mean_sums_0 + prevalence * mean_sums_1
        metrics["ece"] = expected_calibration_error(prevalence * positives, score_sums, 1.0)
        return metrics

    def _calibration_shares(self, ece_bins: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per class, its share of rows and its mean score sum in each calibration bin: the same at
        every prevalence, so a flip's scan over prevalences bins the file once."""
        if ece_bins not in self._calibration:
            per_class = []
            for pool in self._pools:
                bins = CalibrationBins(ece_bins)
                bins.add(0, pool)
                per_class.append((bins.counts[0] / pool.size, bins.score_sums[0] / pool.size))
            self._calibration[ece_bins] = per_class
        return self._calibration[ece_bins]

    def file_params(self, prefix: str) -> dict[str, object]:
        """The file a run evaluated, as params under ``prefix`` (``model`` for a grid's file)."""
        prediction = self.predictions
        return {
            f"{prefix}.path": prediction.path,
            f"{prefix}.digest": prediction.digest,
            f"{prefix}.rows": prediction.rows,
            f"{prefix}.label": prediction.label_column,
            f"{prefix}.score": prediction.score_column,
            f"{prefix}.from_logits": prediction.from_logits,
        }

    def params(self) -> dict[str, object]:
        return {
            "score_model": self.name,
            **self.file_params("score_model"),
            "score_model.accuracies": "the file's; the grid's do not apply",
        }

    def identity(self) -> dict[str, object]:
        # the file's content, not where it lies: a moved file continues the same sweep
        prediction = self.predictions
        return {
            "score_model": self.name,
            "score_model.digest": prediction.digest,
            "score_model.label": prediction.label_column,
            "score_model.score": prediction.score_column,
            "score_model.from_logits": prediction.from_logits,
        }


def from_config(
    config: Mapping[str, Any], *, start_dir: str | os.PathLike[str] | None = None
) -> EmpiricalModel:
    unknown_keys(config, KEYS)
    path = config.get("path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidValue(
            f"score_model.path={path!r}: score_model=empirical needs a predictions file, "
            "e.g. score_model.path=predictions.csv"
        )
    return EmpiricalModel(_load(path, "score_model", config, start_dir))


def _load(
    path: str, where: str, options: Mapping[str, Any], start_dir: str | os.PathLike[str] | None
) -> Predictions:
    """The file at ``path``, read with the column names and ``from_logits`` of ``options``."""
    columns = {}
    for key in ("label", "score"):
        value = options.get(key, key)
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"{where}.{key}={value!r} must be a column name")
        columns[key] = value
    from_logits = options.get("from_logits", False)
    if not isinstance(from_logits, bool):
        raise InvalidValue(f"{where}.from_logits={from_logits!r} must be true or false")
    return load_predictions(path, **columns, from_logits=from_logits, start_dir=start_dir)


FILE_ENTRY_KEYS = ("path", "name", "label", "score", "from_logits")


def is_file_entry(entry: Any) -> bool:
    """Whether a ``grid.models`` (or ``model_a``) entry names a predictions file: a path, or a
    mapping with a ``path``; a pair of accuracies is not."""
    return isinstance(entry, (str, Mapping))


def file_entry(
    where: str, entry: Any, *, start_dir: str | os.PathLike[str] | None = None
) -> tuple[str, EmpiricalModel]:
    """``(name, model)`` of a predictions-file entry: ``path`` alone, or a mapping of ``path`` and
    optionally ``name`` (default: the file's stem), ``label``, ``score`` and ``from_logits``."""
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, Mapping):
        raise InvalidValue(
            f"{where}={entry!r} must be a predictions file (a path, or {{path: ..., name: ...}})"
        )
    unknown = sorted(set(entry) - set(FILE_ENTRY_KEYS))
    if unknown:
        raise InvalidValue(
            f"{where}.{unknown[0]} is not a key of a predictions file entry; its keys are: "
            f"{', '.join(FILE_ENTRY_KEYS)}"
        )
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidValue(f"{where}.path={path!r} must name a predictions file, e.g. preds/logreg.csv")
    name = entry.get("name") or Path(path).stem
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(f"{where}.name={name!r} must be a non-empty string")
    return name, EmpiricalModel(_load(path, where, entry, start_dir))
