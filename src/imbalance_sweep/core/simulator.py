"""A cell's draw: one stream per class, negatives then positives, in chunks of bounded size.

How a class's scores are distributed is its score model's (``score_models``; the default, the
post's uniform model, is :data:`score_models.uniform.UNIFORM`); the streams, the chunking and the
order of a cell's classes are this module's, whatever the model. What is computed from the scores
lives in ``evaluation``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .cell import Cell, make_cell
from .checks import whole_number
from .score_models import ScoreModel
from .score_models.uniform import UNIFORM, or_default

DEFAULT_CHUNK_SIZE = 1 << 16
# A chunk's arrays, and the ranking table of 16 chunks, grow with it: 2^20 samples keep a cell
# within a few hundred MB.
MAX_CHUNK_SIZE = 1 << 20


def class_generators(cell: Cell, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """One independent stream per class, so a class's scores do not depend on the other's size."""
    negatives, positives = cell.seed_sequence(seed).spawn(2)
    return np.random.default_rng(negatives), np.random.default_rng(positives)


def cell_score_chunks(
    cell: Cell,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    model: ScoreModel = UNIFORM,
    labels: tuple[int, int] = (0, 1),
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(label, scores)`` chunks: all of one class, then all of the other, drawn by ``model``;
    negatives first unless ``labels`` says otherwise (each class has its own stream, so the order
    changes no score).

    One buffer per class is reused: a chunk is valid until the next is drawn.
    """
    generators = class_generators(cell, seed)
    counts, accs = (cell.num_0s, cell.num_1s), (cell.acc_0s, cell.acc_1s)
    for label in labels:
        for chunk in model.class_scores(generators[label], counts[label], label, accs[label], chunk_size):
            yield label, chunk


def simulate(
    num_0s: Any,
    acc_0s: Any,
    num_1s: Any,
    acc_1s: Any,
    *,
    seed: int = 0,
    replicate: int = 0,
    score_model: ScoreModel | None = UNIFORM,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a cell's validation set: ``(y_true, y_pred)`` float32 arrays, negatives first.

    The scores are exactly those a sweep with this ``seed`` and ``score_model`` (a value of
    ``score_models``, see :func:`score_models.uniform.or_default`) draws for the same cell. A model
    that sets its own accuracies (``empirical``) ignores ``acc_0s`` and ``acc_1s``.
    """
    score_model = or_default(score_model)
    if score_model.grid_accuracies is not None:
        acc_0s, acc_1s = score_model.grid_accuracies
    cell = make_cell(num_0s, num_1s, acc_0s, acc_1s, replicate)
    seed = whole_number("seed", seed)
    y_true = np.zeros(cell.size, dtype=np.float32)
    y_true[cell.num_0s :] = 1.0
    y_pred = np.empty(cell.size, dtype=np.float32)
    position = 0
    for _, chunk in cell_score_chunks(cell, seed, model=score_model):
        y_pred[position : position + chunk.size] = chunk
        position += chunk.size
    return y_true, y_pred
