"""The losses and metrics of a K-class cell: its chunks (``simulator``) fed to the K-class losses
(:class:`MulticlassLosses`) and metrics (:class:`MulticlassAccumulator`), one flat dict of values.

Keys: ``loss/<name>`` for each loss (``vocabulary.loss_key``), each metric by its name,
``<metric>/class_<k>`` per class and ``recall/<band>`` per frequency band of the training counts.

Choices:

* The training-prior losses (class-balanced, logit-adjusted, balanced softmax, LDAM) need every
  training count > 0 (a log of the prior). With ``losses=None`` (every loss) they are left out of a
  cell with a training count of 0 (every row in one class, with the default training counts); asked
  for by name there, they are refused with one line.
* The ranking metrics (OvR and OvO ROC AUC) rank every score at once (the rows kept column by
  column; a column's zeros counted, its other scores sorted). They are computed for a cell of
  at most :data:`RANKING_MAX_SCORES` scores (n K <= 2^24, 64 MB of float32: 10^6 rows at K = 10)
  with ``threshold_free`` set, and left out above it, so memory stays flat in the sample count.
  Every other value is accumulated chunk by chunk in flat memory, the same bits however chunked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import names_from, whole_number
from ..simulator import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from ..vocabulary import MULTICLASS_LOSS_NAMES, loss_key
from .cell import MulticlassCell
from .loss_settings import of_the_training_prior, prior_counts_of
from .losses import MulticlassLosses
from .metrics import DEFAULT_MULTICLASS, MulticlassAccumulator, MulticlassSettings
from .ranking import ranking_metrics
from .simulator import cell_score_chunks

RANKING_MAX_SCORES = 1 << 24


def applicable_losses(training_counts: tuple[int, ...]) -> tuple[str, ...]:
    """Every K-class loss, less those of the training prior where a training count is 0."""
    if min(training_counts) > 0:
        return MULTICLASS_LOSS_NAMES
    left_out = of_the_training_prior(MULTICLASS_LOSS_NAMES)
    return tuple(name for name in MULTICLASS_LOSS_NAMES if name not in left_out)


def evaluate_rows(
    chunks: Iterable[tuple[int, NDArray[np.float32]]],
    *,
    classes: int,
    training_counts: tuple[int, ...],
    losses: Any = None,
    ranked_rows: int = 0,
    drawn: bool = False,
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
    **loss_settings: Any,
) -> dict[str, float]:
    """The values of ``(label, scores)`` chunks of K-class rows (what :func:`evaluate_multiclass_cell`
    feeds): the ranking metrics too when ``ranked_rows``, the number of rows, is not 0 (then the
    rows are kept). The rows are checked unless ``drawn`` says they are a cell's draw (float32
    probabilities summing to 1 by construction)."""
    names = (
        applicable_losses(training_counts)
        if losses is None
        else names_from("losses", losses, MULTICLASS_LOSS_NAMES)
    )
    loss_sums = MulticlassLosses(
        classes, names, training_counts=prior_counts_of(names, training_counts), **loss_settings
    )
    metrics = MulticlassAccumulator(classes, settings, training_counts=training_counts)
    kept_labels = np.empty(ranked_rows, dtype=np.intp)
    kept_columns = np.empty((classes, ranked_rows), dtype=np.float32)  # column by column: ranked so
    position = 0
    for label, scores in chunks:
        labels = np.full(scores.shape[0], label, dtype=np.intp)
        if drawn:
            loss_sums.add_checked(labels, scores)
        else:
            loss_sums.add(labels, scores)  # checks the rows, for the metrics too
        metrics.add_checked(labels, scores)
        if ranked_rows:
            kept_labels[position : position + labels.size] = label
            kept_columns[:, position : position + labels.size] = scores.T
            position += labels.size
    values = {loss_key(name): value for name, value in loss_sums.values().items()}
    values |= metrics.values()
    if ranked_rows:
        values |= ranking_metrics(kept_labels[:position], kept_columns[:, :position].T)
    return values


def evaluate_multiclass_cell(
    cell: MulticlassCell,
    *,
    seed: int,
    losses: Any = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
    **loss_settings: Any,
) -> dict[str, float]:
    """Draw ``cell`` with the sweep ``seed`` and return its losses and metrics (this module's keys):
    ``losses`` names K-class losses (None: every one that applies), ``settings`` the metrics'
    (``metrics.multiclass_settings``), ``loss_settings`` the losses' (``alpha``, ``gamma``,
    ``beta``, ``tau``, ``max_margin``, ``scale``)."""
    seed = whole_number("seed", seed)
    chunk_size = whole_number("chunk_size", chunk_size, minimum=1, maximum=MAX_CHUNK_SIZE)
    ranked = cell.size if cell.threshold_free and cell.size * cell.classes <= RANKING_MAX_SCORES else 0
    return evaluate_rows(
        cell_score_chunks(cell, seed, chunk_size),
        classes=cell.classes,
        training_counts=cell.training_counts,
        losses=losses,
        ranked_rows=ranked,
        drawn=True,
        settings=settings,
        **loss_settings,
    )
