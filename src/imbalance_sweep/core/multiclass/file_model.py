"""A K-class predictions file (``label`` and ``score_0`` .. ``score_<K-1>``: ``predictions``) as a
model on a K-class grid: a cell of validation counts n_k is the file's set re-weighted or resampled
to those counts, as the binary empirical model (``score_models.empirical``) does for two classes.

* Expected: the file's rows re-weighted exactly to the cell's prior n_k / N (``reweighting``), and
  beside each loss the standard error of a cell of these counts resampled from the file,
  ``sqrt(sum_k n_k w_k**2 Var_k) / N`` (Var_k the variance of class k's per-sample term over the
  file's rows of class k, w_k the loss's class weight), as the binary empirical model logs it.
* Sampled: n_k rows of each class k drawn with replacement from the file's rows of class k, from
  class k's stream (the cell's seed sequence spawned into K children, ``default_rng(children[k])``,
  as the K-class draw's class streams), one float64 uniform u a row and the row ``floor(u m_k)`` of
  the class's m_k rows: the draw does not depend on the chunk size. Rows come class by class.

The cell's seed sequence is the K-class cell's, ``[seed, replicate, n_0 .. n_{K-1}, bits(a_0) ..
bits(a_{K-1})]`` with a_k the file's accuracy on class k, followed by the file's digest, as a binary
file's cell adds its digest (``Cell.seed_sequence``). The file's own class counts are its model's
training counts unless a grid says otherwise (the losses' prior and the bands).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue
from ..predictions import file_digest
from ..simulator import DEFAULT_CHUNK_SIZE
from ..vocabulary import MULTICLASS_LOSSES_BY_NAME, loss_key
from .confusion import confusion_counts, predicted_classes
from .labelled import Labels
from .loss_settings import prior_counts_of
from .losses import MulticlassLosses, class_weights, sample_terms
from .metrics import DEFAULT_MULTICLASS, MulticlassSettings
from .predictions import load_class_predictions, score_column
from .reweighting import reweighted_values
from .simulator import MAX_CHUNK_VALUES

Float32s = NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class ClassFileModel:
    """A read and checked K-class predictions file: its labels, float32 scores and identity."""

    path: str  # resolved
    label_column: str
    digest: str  # the first hex digits of the sha256 of its bytes (``predictions.file_digest``)
    labels: Labels = field(repr=False)
    scores: Float32s = field(repr=False)  # (rows, K)

    @property
    def classes(self) -> int:
        return int(self.scores.shape[1])

    @property
    def rows(self) -> int:
        return int(self.labels.size)

    @cached_property
    def class_counts(self) -> tuple[int, ...]:
        """The file's rows of each class."""
        return tuple(np.bincount(self.labels, minlength=self.classes).tolist())

    @cached_property
    def accuracies(self) -> tuple[float, ...]:
        """The file's accuracy on each class (its recall, the argmax's ties to the lowest index);
        0.0 for a class without rows."""
        confusion = confusion_counts(self.labels, predicted_classes(self.scores), self.classes)
        return tuple(
            float(confusion[k, k] / count) if count else 0.0 for k, count in enumerate(self.class_counts)
        )

    def class_scores(self, label: int) -> Float32s:
        """The file's score rows of class ``label``, in file order (not to be modified)."""
        return self._pools[label]

    @cached_property
    def _pools(self) -> list[Float32s]:
        return [np.ascontiguousarray(self.scores[self.labels == k]) for k in range(self.classes)]

    @property
    def dataset(self) -> dict[str, object]:
        """What a run logs as its input dataset (``Tracker.log_dataset``)."""
        columns = {self.label_column: "label"}
        columns |= {score_column(k): score_column(k) for k in range(self.classes)}
        return {"name": Path(self.path).name, "path": self.path, "digest": self.digest, "columns": columns}

    def file_params(self, prefix: str) -> dict[str, object]:
        """The file a run evaluated, as params under ``prefix`` (``model`` for a grid's file)."""
        return {
            f"{prefix}.path": self.path,
            f"{prefix}.digest": self.digest,
            f"{prefix}.rows": self.rows,
            f"{prefix}.label": self.label_column,
        }


def load_class_file_model(
    path: str | os.PathLike[str],
    *,
    label: str = "label",
    start_dir: str | os.PathLike[str] | None = None,
) -> ClassFileModel:
    """Read a K-class predictions file (a relative ``path`` from ``start_dir``, else the current
    directory; K its number of ``score_<k>`` columns), one line for each mistake in it."""
    labels, scores = load_class_predictions(path, label=label, start_dir=start_dir)
    where = Path(start_dir or os.getcwd()) / Path(path).expanduser()
    return ClassFileModel(str(where.resolve()), label, file_digest(where), labels, scores)


def file_seed_sequence(
    seed: int, replicate: int, counts: Sequence[int], model: ClassFileModel
) -> np.random.SeedSequence:
    """A file's cell's own seed (module docstring): the K-class cell's entropy and the file's digest;
    a new sequence each call (spawning from one changes what it spawns next)."""
    bits = np.array(model.accuracies, dtype=np.float64).view(np.uint64)
    entropy = [seed, replicate, *counts, *(int(b) for b in bits), int(model.digest, 16)]
    return np.random.SeedSequence(entropy)


def file_score_chunks(
    model: ClassFileModel,
    counts: Sequence[int],
    *,
    seed: int,
    replicate: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[tuple[int, Float32s]]:
    """Yield ``(label, scores)`` chunks of a cell of ``counts`` resampled from the file with the
    sweep ``seed`` (module docstring), at most ``chunk_size`` rows (and ``MAX_CHUNK_VALUES`` scores) a
    chunk. A class with a count > 0 must have rows in the file. The buffer is reused: a chunk is
    valid until the next."""
    classes = model.classes
    children = file_seed_sequence(seed, replicate, counts, model).spawn(classes)
    rows = max(1, min(chunk_size, MAX_CHUNK_VALUES // classes, max(counts)))
    buffer = np.empty((rows, classes), dtype=np.float32)
    for label, count in enumerate(counts):
        if not count:
            continue
        pool = model.class_scores(label)
        if pool.shape[0] == 0:
            raise InvalidValue(
                f"counts[{label}]={count}: the predictions file {model.path!r} has no rows of class "
                f"{label} to draw them from; allowed: 0 for a class without rows"
            )
        stream = np.random.default_rng(children[label])
        for start in range(0, count, rows):
            size = min(rows, count - start)
            index = (stream.random(size) * pool.shape[0]).astype(np.intp)
            np.minimum(index, pool.shape[0] - 1, out=index)  # u * m may round up to m
            np.take(pool, index, axis=0, out=buffer[:size])
            yield label, buffer[:size]


def draw_file_cell(
    model: ClassFileModel, counts: Sequence[int], *, seed: int, replicate: int = 0
) -> tuple[Labels, Float32s]:
    """The rows :func:`file_score_chunks` yields, at once (small cells, tests): labels and scores."""
    labels = np.repeat(np.arange(model.classes, dtype=np.intp), counts)
    scores = np.empty((labels.size, model.classes), dtype=np.float32)
    position = 0
    chunks = file_score_chunks(model, counts, seed=seed, replicate=replicate, chunk_size=max(1, labels.size))
    for _, chunk in chunks:
        scores[position : position + chunk.shape[0]] = chunk
        position += chunk.shape[0]
    return labels, scores


def file_expected_values(
    model: ClassFileModel,
    counts: Sequence[int],
    *,
    losses: Sequence[str],
    training_counts: Sequence[int],
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
    **loss_settings: Any,
) -> dict[str, float]:
    """The exact values of a cell of ``counts`` from the file: its set re-weighted to n_k / N, and
    ``stderr/loss/<name>`` of resampling a cell of these counts (module docstring)."""
    total = sum(counts)
    prior = [count / total for count in counts]
    values = reweighted_values(
        model.labels,
        model.scores,
        prior,
        losses=list(losses),
        training_counts=training_counts,
        settings=settings,
        **loss_settings,
    )
    return values | _standard_errors(model, counts, losses, training_counts, loss_settings)


def _standard_errors(
    model: ClassFileModel,
    counts: Sequence[int],
    losses: Sequence[str],
    training_counts: Sequence[int],
    loss_settings: dict[str, Any],
) -> dict[str, float]:
    if not losses:
        return {}
    prior = prior_counts_of(losses, training_counts)
    chosen = MulticlassLosses(model.classes, list(losses), training_counts=prior, **loss_settings)
    terms = sample_terms(model.labels, model.scores, chosen.losses, training_counts=prior, **loss_settings)
    present = [k for k, count in enumerate(counts) if count]
    variances = {}
    for term, values in terms.items():
        by_class = np.zeros(model.classes)
        for k in present:
            of_class = values[model.labels == k].astype(np.float64)
            mean = float(of_class.mean())
            by_class[k] = max(float(np.mean(np.square(of_class))) - mean * mean, 0.0)
        variances[term] = by_class
    total = sum(counts)
    weights_of_counts = np.array(counts, dtype=np.float64)
    errors = {}
    for name in chosen.losses:
        weights = class_weights(name, chosen.tables)
        spread = variances[MULTICLASS_LOSSES_BY_NAME[name].term]
        errors[f"stderr/{loss_key(name)}"] = (
            math.sqrt(float(weights_of_counts @ (weights**2 * spread))) / total
        )
    return errors
