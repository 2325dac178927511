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

from collections.abc import Sequence

import numpy as np

from .cell import Cell
from .losses import class_weight, per_sample_terms, reduce_losses, terms_for
from .metrics import DEFAULT_BETA, confusion_metrics, on_correct_side

BOOTSTRAP_STREAM = 2  # the cell's streams: 0 negatives, 1 positives (its draw), 2 bootstrap


def bootstrap_streams(cell: Cell, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The bootstrap's generators for the negatives and the positives of ``cell``."""
    root = cell.seed_sequence(seed)
    stream = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, BOOTSTRAP_STREAM))
    negatives, positives = stream.spawn(2)
    return np.random.default_rng(negatives), np.random.default_rng(positives)


def _class_table(model, label: int, terms: Sequence[str], alpha: float, gamma: float) -> np.ndarray:
    """Per row of the file's class ``label``: each term (float64), then 1.0 if predicted right."""
    pool = model.class_pool(label)
    columns = []
    for term in terms:
        per_sample = "focal" if term == "focal_balanced" else term
        raw = per_sample_terms(label, pool, [per_sample], gamma=gamma)[per_sample]
        weight = class_weight(label, alpha) if term == "focal_balanced" else 1.0
        columns.append(weight * raw.astype(np.float64))
    columns.append(on_correct_side(label, pool).astype(np.float64))
    return np.column_stack(columns)


def bootstrap_values(
    model,
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
    over ``replicates`` stratified resamples."""
    terms = sorted(terms_for(losses))
    sizes = (cell.num_0s, cell.num_1s)
    per_class = []
    for label, rng in enumerate(bootstrap_streams(cell, seed)):
        table = _class_table(model, label, terms, alpha, gamma)
        if sizes[label] == 0:
            per_class.append(np.zeros((replicates, table.shape[1])))
            continue
        uniform = np.full(table.shape[0], 1.0 / table.shape[0])
        sums = np.empty((replicates, table.shape[1]))
        for replicate in range(replicates):
            sums[replicate] = rng.multinomial(sizes[label], uniform) @ table
        per_class.append(sums)
    values: dict[str, list[float]] = {}
    for replicate in range(replicates):
        class_sums = [dict(zip(terms, sums[replicate, :-1], strict=True)) for sums in per_class]
        row = {f"loss/{name}": value for name, value in reduce_losses(losses, class_sums, sizes).items()}
        tn, tp = (round(float(sums[replicate, -1])) for sums in per_class)
        row.update(confusion_metrics(tp=tp, fp=sizes[0] - tn, tn=tn, fn=sizes[1] - tp, beta=beta))
        for key, value in row.items():
            values.setdefault(key, []).append(value)
    return {key: np.asarray(column) for key, column in values.items()}


def bootstrap_intervals(
    model,
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
