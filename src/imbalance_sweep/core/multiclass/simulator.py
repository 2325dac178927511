"""A K-class cell's draw: rows of K float32 scores, class by class, in chunks of bounded size, each row
the same bits however the cell is chunked or its classes ordered.

A row of true class k gets one confuser c (drawn from the spread r_k; at K = 2 simply the other
class) and is then a binary problem between k and c, drawn exactly as the binary uniform model
(``score_models.uniform``) draws one sample of accuracy a_k: with p that draw for the binary label
``1 if k > c else 0``, the higher index of {k, c} gets p, the lower float32(1 - p), every other
class 0. So the argmax (lowest index among ties) is k exactly when the binary prediction (p > 0.5 is
positive) is right, and at K = 2 a row is (1 - p, p) with p the binary score bit for bit.

Streams: the cell's seed sequence (``cell``) spawned into K children. Class k's scores come from
``default_rng(children[k])``, one float32 uniform a row, as the binary model's class streams
(``core.simulator.class_generators``, which this is at K = 2); its confusers, for K >= 3, from
``default_rng(children[k].spawn(1)[0])`` (the seed sequence with spawn key (k, 0)), one float64
uniform a row, searched in the cumulative spread (``MulticlassCell.error_cumulative``). Neither stream
depends on the chunking, nor on the other classes' sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import whole_number
from ..simulator import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from ..uniform_law import score_interval
from .cell import MulticlassCell, make_multiclass_cell

# A chunk holds at most this many scores (16 MB of float32): at large K, fewer rows than chunk_size.
MAX_CHUNK_VALUES = 1 << 22

Float32s = NDArray[np.float32]


def class_streams(
    cell: MulticlassCell, seed: int
) -> list[tuple[np.random.Generator, np.random.Generator | None]]:
    """Per class, the stream of its scores and (K >= 3) that of its confusers."""
    children = cell.seed_sequence(seed).spawn(cell.classes)
    confusers = cell.classes > 2
    return [
        (np.random.default_rng(child), np.random.default_rng(child.spawn(1)[0]) if confusers else None)
        for child in children
    ]


def binary_scores(uniforms: Float32s, positive: NDArray[np.bool_], acc: float) -> Float32s:
    """The binary uniform model's score of each uniform, for label 1 where ``positive`` else 0, in
    place: ``score_models.uniform.score_chunks``'s arithmetic, one row at a time."""
    anchored_if_negative, width = score_interval(0, acc)
    width32 = np.float32(width)
    floor = np.nextafter(np.float32(1.0) - width32, np.float32(2.0))
    np.multiply(uniforms, width32, out=uniforms)
    away_from_zero = positive == anchored_if_negative  # score_interval's anchoring, negated
    flipped = np.maximum(np.float32(1.0) - uniforms, floor)
    np.copyto(uniforms, flipped, where=away_from_zero)
    return uniforms


def cell_score_chunks(
    cell: MulticlassCell,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    order: Sequence[int] | None = None,
) -> Iterator[tuple[int, Float32s]]:
    """Yield ``(label, scores)`` chunks, ``scores`` of shape (m, K): all rows of one class, then of the
    next, in class order unless ``order`` gives one; at most ``chunk_size`` rows (and
    :data:`MAX_CHUNK_VALUES` scores) a chunk.

    The buffers are reused: a chunk is valid until the next is drawn.
    """
    classes = cell.classes
    streams = class_streams(cell, seed)
    rows = max(1, min(chunk_size, MAX_CHUNK_VALUES // classes, max(cell.counts)))
    uniforms_buffer = np.empty(rows, dtype=np.float32)
    confuser_uniforms = np.empty(rows, dtype=np.float64)
    scores_buffer = np.empty((rows, classes), dtype=np.float32)
    row_index = np.arange(rows)
    for label in range(classes) if order is None else order:
        score_stream, confuser_stream = streams[label]
        others = np.array([c for c in range(classes) if c != label], dtype=np.intp)
        cumulative = cell.error_cumulative(label) if confuser_stream is not None else None
        count, acc = cell.counts[label], cell.accuracies[label]
        for start in range(0, count, rows):
            size = min(rows, count - start)
            uniforms = uniforms_buffer[:size]
            score_stream.random(out=uniforms, dtype=np.float32)
            if confuser_stream is None:
                confusers = np.full(size, others[0], dtype=np.intp)
            else:
                assert cumulative is not None
                confuser_stream.random(out=confuser_uniforms[:size])
                confusers = others[np.searchsorted(cumulative, confuser_uniforms[:size], side="right")]
            positive = confusers < label  # k the higher index: the binary label 1
            p = binary_scores(uniforms, positive, acc)
            scores = scores_buffer[:size]
            scores.fill(0.0)
            index = row_index[:size]
            higher = np.where(positive, label, confusers)
            lower = np.where(positive, confusers, label)
            scores[index, higher] = p
            scores[index, lower] = np.float32(1.0) - p
            yield label, scores


def simulate(
    counts: Any,
    accuracies: Any = None,
    *,
    spread: Any = "uniform",
    training_counts: Any = None,
    seed: Any = 0,
    replicate: Any = 0,
    chunk_size: Any = DEFAULT_CHUNK_SIZE,
) -> tuple[NDArray[np.intp], Float32s]:
    """Draw a K-class cell's validation set at once, for small cells: ``(labels, scores)``, labels
    (n,) class by class and scores (n, K) float32, the rows a sweep with this ``seed`` draws (the
    values as :func:`cell.make_multiclass_cell` takes them; ``chunk_size`` changes no row)."""
    cell = make_multiclass_cell(
        counts, accuracies, spread=spread, training_counts=training_counts, replicate=replicate
    )
    seed = whole_number("seed", seed)
    chunk_size = whole_number("chunk_size", chunk_size, minimum=1, maximum=MAX_CHUNK_SIZE)
    labels = np.repeat(np.arange(cell.classes, dtype=np.intp), cell.counts)
    scores = np.empty((cell.size, cell.classes), dtype=np.float32)
    position = 0
    for _, chunk in cell_score_chunks(cell, seed, chunk_size):
        scores[position : position + chunk.shape[0]] = chunk
        position += chunk.shape[0]
    return labels, scores
