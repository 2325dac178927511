"""Bootstrap intervals for a predictions file's cell: stratified resampling at the cell's class sizes.

A replicate draws, for each class, as many rows of the file's rows of that class as the cell has
(with replacement), and evaluates every loss and every metric of the confusion counts on them (the
ranking and calibration metrics need each resample's scores, which this method never forms: they
have no intervals). Drawing ``n`` of ``m`` rows with
replacement is drawing how often each row is taken, ``Multinomial(n, 1/m each)``; a replicate's
term sums are those counts times each row's term, and its correct predictions those counts times
each row's correctness. So a replicate costs the size of the file, not of the cell: a cell of 10^9
samples costs what one of 10^3 does. The interval of a value is the ``(1 - level) / 2`` and
``(1 + level) / 2`` percentiles (numpy's default, linear) of its replicates.

Replicates come from the cell's own seed (``Cell.seed_sequence``), from a stream of their own
(spawn key ``(2,)``, next to the two the cell's draw uses), one child stream per class: same config
and seed, same intervals, whatever the order of the cells, the process or the shard.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .cell import Cell
from .losses import per_sample_term, per_sample_terms, reduce_losses, term_weight, terms_for
from .metrics import DEFAULT_BETA, confusion_metrics, on_correct_side
from .thresholds import DEFAULT_THRESHOLD, best_in_table, best_metric
from .vocabulary import loss_key

if TYPE_CHECKING:  # the model whose file's rows are resampled
    from .score_models.empirical import EmpiricalModel

BOOTSTRAP_STREAM = 2  # the cell's streams: 0 negatives, 1 positives (its draw), 2 bootstrap


def bootstrap_streams(cell: Cell, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The bootstrap's generators for the negatives and the positives of ``cell``."""
    root = cell.seed_sequence(seed)
    stream = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, BOOTSTRAP_STREAM))
    negatives, positives = stream.spawn(2)
    return np.random.default_rng(negatives), np.random.default_rng(positives)


def _class_table(
    model: EmpiricalModel, label: int, terms: Sequence[str], alpha: float, gamma: float, threshold: float
) -> np.ndarray:
    """Per row of the file's class ``label``: each term (float64), then 1.0 if predicted right at
    ``threshold``."""
    pool = model.class_pool(label)
    columns = []
    for term in terms:
        per_sample = per_sample_term(term)
        raw = per_sample_terms(label, pool, [per_sample], gamma=gamma)[per_sample]
        columns.append(term_weight(term, label, alpha) * raw.astype(np.float64))
    columns.append(on_correct_side(label, pool, threshold).astype(np.float64))
    return np.column_stack(columns)


class _DistinctScores:
    """The file's distinct scores and where each class's rows fall among them: a resample's counts
    at each distinct score, the table ``thresholds.best_in_table`` chooses a threshold from."""

    def __init__(self, model: EmpiricalModel):
        pools = [model.class_pool(label) for label in (0, 1)]
        self.values = np.unique(np.concatenate(pools))
        self.where = [np.searchsorted(self.values, pool) for pool in pools]

    def best(
        self, taken: Sequence[np.ndarray], metric: str, beta: float
    ) -> tuple[float, tuple[int, int, int, int]]:
        """The threshold of one resample (each class's row counts ``taken``) that maximises ``metric``,
        and the whole confusion counts ``(tp, fp, tn, fn)`` there."""
        weight_0, weight_1 = (
            np.bincount(where, weights=counts, minlength=self.values.size)
            for where, counts in zip(self.where, taken, strict=True)
        )
        threshold, counts = best_in_table(self.values, weight_0, weight_1, metric, beta=beta)
        tp, fp, tn, fn = (round(count) for count in counts)
        return threshold, (tp, fp, tn, fn)


def _replicate_values(
    model: EmpiricalModel,
    cell: Cell,
    seed: int,
    tables: Sequence[np.ndarray],
    replicates: int,
    best: tuple[str, float] | None,
) -> Iterator[tuple[list[np.ndarray], tuple[float, tuple[int, int, int, int]] | None]]:
    """Per replicate: each class's sums of the table's columns over its resample and, when ``best``
    is ``(metric, beta)``, the threshold chosen on the resample and the counts there. The two classes'
    streams are separate, so taking them replicate by replicate draws what class by class would."""
    sizes = (cell.num_0s, cell.num_1s)
    streams = bootstrap_streams(cell, seed)
    distinct = _DistinctScores(model) if best else None
    uniform = [np.full(table.shape[0], 1.0 / table.shape[0]) for table in tables]
    for _ in range(replicates):
        taken = [
            rng.multinomial(size, share) if size else np.zeros(share.size, dtype=np.int64)
            for rng, size, share in zip(streams, sizes, uniform, strict=True)
        ]
        sums = [counts @ table for counts, table in zip(taken, tables, strict=True)]
        yield sums, (distinct.best(taken, *best) if distinct is not None and best is not None else None)


def bootstrap_values(
    model: EmpiricalModel,
    cell: Cell,
    *,
    seed: int,
    losses: Sequence[str],
    alpha: float,
    gamma: float,
    replicates: int,
    beta: float = DEFAULT_BETA,
) -> dict[str, np.ndarray]:
    """Each value (``loss/<name>`` and each metric of the confusion counts, ``fbeta`` at ``beta``)
    over ``replicates`` stratified resamples, the metrics at the cell's threshold; a ``best:<metric>``
    threshold is chosen on each resample, and its values are ``threshold/<metric>``."""
    terms = sorted(terms_for(losses))
    sizes = (cell.num_0s, cell.num_1s)
    metric = best_metric(cell.threshold)
    threshold = DEFAULT_THRESHOLD if metric else float(cell.threshold)
    tables = [_class_table(model, label, terms, alpha, gamma, threshold) for label in (0, 1)]
    best = (metric, beta) if metric else None
    values: dict[str, list[float]] = {}
    for sums, chosen in _replicate_values(model, cell, seed, tables, replicates, best):
        class_sums = [dict(zip(terms, class_sum[:-1], strict=True)) for class_sum in sums]
        row = {loss_key(name): value for name, value in reduce_losses(losses, class_sums, sizes).items()}
        tn, tp = (round(float(class_sum[-1])) for class_sum in sums)
        fp, fn = sizes[0] - tn, sizes[1] - tp
        if chosen is not None:
            row[f"threshold/{metric}"], (tp, fp, tn, fn) = chosen
        row.update(confusion_metrics(tp=tp, fp=fp, tn=tn, fn=fn, beta=beta))
        for key, value in row.items():
            values.setdefault(key, []).append(value)
    return {key: np.asarray(column) for key, column in values.items()}


def bootstrap_intervals(
    model: EmpiricalModel,
    cell: Cell,
    *,
    seed: int,
    losses: Sequence[str],
    alpha: float,
    gamma: float,
    replicates: int,
    level: float,
    beta: float = DEFAULT_BETA,
) -> dict[str, float]:
    """``ci_low/<key>`` and ``ci_high/<key>``: the percentile interval of each value at ``level``."""
    values = bootstrap_values(
        model, cell, seed=seed, losses=losses, alpha=alpha, gamma=gamma, replicates=replicates, beta=beta
    )
    tails = [50 * (1 - level), 50 * (1 + level)]
    intervals = {}
    for key, column in values.items():
        low, high = np.percentile(column, tails)
        intervals[f"ci_low/{key}"], intervals[f"ci_high/{key}"] = float(low), float(high)
    return intervals
