"""The uniform score model: how one class's scores are drawn, in chunks of bounded size.

A class with accuracy ``acc`` gets scores uniform on an interval of width
``0.5 / max(acc, 1 - acc)`` placed so that exactly a fraction ``acc`` of it lies on the correct
side of the 0.5 threshold (a sample is predicted positive iff its score > 0.5). For acc >= 0.5
this is the post's formula; below 0.5 the interval moves to the wrong side of the threshold.

This module only draws scores. What is computed from them lives in ``evaluation``. Other score
models (``score_models``) replace :func:`score_chunks` by their own ``class_scores``; the streams,
the chunking and the order of a cell's classes stay the ones here. ``model=None`` is the uniform
model itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .checks import whole_number
from .grid import Cell, make_cell

DEFAULT_CHUNK_SIZE = 1 << 16


def score_interval(label: int, acc: float) -> tuple[bool, float]:
    """Where a class's scores lie: ``(anchored_at_zero, width)``.

    Anchored at zero the scores are ``[0, width)``; otherwise ``(1 - width, 1]``. Negatives
    that are mostly right, and positives that are mostly wrong, sit low.
    """
    width = 0.5 / max(acc, 1.0 - acc)
    anchored_at_zero = (label == 0) == (acc >= 0.5)
    return anchored_at_zero, width


def class_generators(cell: Cell, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """One independent stream per class, so a class's scores do not depend on the other's size."""
    negatives, positives = cell.seed_sequence(seed).spawn(2)
    return np.random.default_rng(negatives), np.random.default_rng(positives)


def score_chunks(
    rng: np.random.Generator, count: int, label: int, acc: float, chunk_size: int
) -> Iterator[np.ndarray]:
    """Yield float32 score chunks of at most ``chunk_size`` that together make ``count`` scores.

    One buffer is reused: a chunk is valid until the next is drawn. Drawing in chunks gives the
    same numbers as one big draw (the generator's stream does not depend on the split).
    """
    anchored_at_zero, width = score_interval(label, acc)
    width32 = np.float32(width)
    # Rounding 1 - width*u to float32 can land on the open end 1 - width (at acc = 1 that is
    # 0.5, a wrong prediction); keep the interval open there.
    floor = np.nextafter(np.float32(1.0) - width32, np.float32(2.0))
    buffer = np.empty(min(count, chunk_size), dtype=np.float32)
    for start in range(0, count, chunk_size):
        chunk = buffer[: min(chunk_size, count - start)]
        rng.random(out=chunk, dtype=np.float32)
        np.multiply(chunk, width32, out=chunk)
        if not anchored_at_zero:
            np.subtract(np.float32(1.0), chunk, out=chunk)
            np.maximum(chunk, floor, out=chunk)
        yield chunk


def cell_score_chunks(
    cell: Cell, seed: int, chunk_size: int = DEFAULT_CHUNK_SIZE, model=None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(label, scores)`` chunks: all negatives first, then all positives.

    ``model`` is a score model (``score_models``); ``None``, the uniform model of this module.
    """
    draw = score_chunks if model is None else model.class_scores
    rng_0s, rng_1s = class_generators(cell, seed)
    for label, rng, count, acc in (
        (0, rng_0s, cell.num_0s, cell.acc_0s),
        (1, rng_1s, cell.num_1s, cell.acc_1s),
    ):
        for chunk in draw(rng, count, label, acc, chunk_size):
            yield label, chunk


def simulate(num_0s, acc_0s, num_1s, acc_1s, *, seed: int = 0, replicate: int = 0, score_model=None):
    """Draw a cell's validation set: ``(y_true, y_pred)`` float32 arrays, negatives first.

    The scores are exactly those a sweep with this ``seed`` (and ``score_model``, a value of
    ``score_models``; ``None`` is the uniform model) draws for the same cell. A model that sets
    its own accuracies (``empirical``) ignores ``acc_0s`` and ``acc_1s``.
    """
    if score_model is not None and score_model.grid_accuracies is not None:
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
