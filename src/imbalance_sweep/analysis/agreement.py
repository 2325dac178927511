"""What a sweep's cells say together: replicate summaries, and whether losses rank models as metrics do.

Input is the sweep's table of cells: one dict per cell with ``num_0s``, ``num_1s``, ``acc_0s``,
``acc_1s`` and the metric keys (``loss/<name>``, lower is better; ``f1``, ``recall``, ...,
higher is better, but for those ``metrics.lower_is_better`` names, such as ``ece``), exactly the
rows ``run_sweep`` writes to ``cells.csv``. Output is plain lists of
dicts with one set of keys each, ready for a table (:func:`as_columns` turns them into the columns
``mlflow.log_table`` takes). Pure numpy, so notebooks and tests use it without MLflow.

A *model* is one ``(acc_0s, acc_1s)``, or a named one (a row with a non-empty ``model``: a
predictions file, grouped by its name, not its accuracies); a *balance* is one ``(num_0s, num_1s)``.
Rows of one model at one balance are its replicates (different ``seeds``); every such row counts as
one replicate. A row's ``threshold`` (0.5 when it has none) is part of its model: the same scores cut
elsewhere are summarised apart, and models are compared with each other at one threshold; the tables
show a ``threshold`` column when some row is not at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.checks import InvalidValue
from ..core.metrics import METRIC_NAMES, lower_is_better
from ..core.prevalence import prevalence_of
from ..core.thresholds import DEFAULT_THRESHOLD_TEXT, row_threshold
from ..core.vocabulary import is_loss_key, loss_key, loss_name, metric_names, ranked_names

DEFAULT_REFERENCES = ranked_names(lambda metric: metric.reference)
# The metrics of issue 14 a report also holds losses against, where every row has them
SCORE_REFERENCES = metric_names(lambda metric: metric.reference_if_stored)

Row = Mapping[str, Any]  # a cell's params and metrics: numbers and strings


def metric_keys(rows: Sequence[Row]) -> list[str]:
    """The metric keys every row has (``loss/<name>`` and :data:`METRIC_NAMES`), in the first row's
    order: a sweep resumed across a release that added metrics has older cells without them.

    Params such as ``seed`` or ``chunk_size`` are numbers too, but averaging them means nothing.
    """
    if not rows:
        return []
    shared = set(rows[0]).intersection(*rows[1:])
    return [key for key in rows[0] if key in shared and (is_loss_key(key) or key in METRIC_NAMES)]


def _model_key(index: int, row: Row) -> tuple[int, int, float, float, str, str]:
    try:
        return (
            int(row["num_0s"]),
            int(row["num_1s"]),
            float(row["acc_0s"]),
            float(row["acc_1s"]),
            str(row.get("model") or ""),
            row_threshold(row),
        )
    except KeyError as error:
        raise InvalidValue(f"rows[{index}] has no {error.args[0]!r}: every cell needs it") from None


def _values(rows: Sequence[Row], keys: Sequence[str]) -> np.ndarray:
    """``rows`` x ``keys`` as a float64 array; a missing key is an error that names the row."""
    values = np.empty((len(rows), len(keys)), dtype=np.float64)
    for index, row in enumerate(rows):
        for column, key in enumerate(keys):
            try:
                values[index, column] = float(row[key])
            except KeyError:
                raise InvalidValue(f"rows[{index}] has no {key!r}; other rows have it") from None
    return values


class _Summary:
    """Replicate count, mean and sample standard deviation of each metric per (balance, model)."""

    def __init__(self, rows: Sequence[Row], keys: Sequence[str]):
        group_of: dict[tuple, int] = {}
        groups = np.array(
            [group_of.setdefault(_model_key(i, row), len(group_of)) for i, row in enumerate(rows)],
            dtype=np.intp,
        )
        values = _values(rows, keys)
        # (num_0s, num_1s, acc_0s, acc_1s, model, threshold), first-seen order
        self.models = list(group_of)
        self.keys = list(keys)
        self.counts = np.bincount(groups, minlength=len(group_of))
        sums = np.zeros((len(group_of), len(keys)))
        np.add.at(sums, groups, values)
        self.means = sums / self.counts[:, None]
        # Two passes (mean, then squared deviations): no cancellation when values are large and close.
        squares = np.zeros_like(sums)
        np.add.at(squares, groups, (values - self.means[groups]) ** 2)
        replicated = self.counts > 1
        self.stds = np.zeros_like(sums)
        self.stds[replicated] = np.sqrt(squares[replicated] / (self.counts[replicated, None] - 1))


def replicate_summary(rows: Sequence[Row], *, metrics: Sequence[str] | None = None) -> list[dict]:
    """Per (num_0s, num_1s, acc_0s, acc_1s): mean and sample std (ddof=1) of each metric over replicates.

    One dict per (balance, model), in the order the rows first show them, with ``num_0s``,
    ``num_1s``, ``acc_0s``, ``acc_1s``, ``prevalence``, ``n_replicates`` and, for each metric,
    ``<metric>_mean`` and ``<metric>_std``. The std of a single replicate is 0.0 (not NaN): one seed
    shows no spread, and a table cell of NaN would hide the mean beside it. ``metrics`` defaults to
    :func:`metric_keys`. Rows of named models (predictions files) add a ``model`` column (empty for
    the models given by accuracies). No rows give an empty list.
    """
    keys = metric_keys(rows) if metrics is None else list(metrics)
    if not rows:
        return []
    summary = _Summary(rows, keys)
    named = any(model for *_, model, _ in summary.models)
    cut_elsewhere = _cut_elsewhere(summary.models)
    table = []
    for index, (num_0s, num_1s, acc_0s, acc_1s, model, threshold) in enumerate(summary.models):
        entry = {
            "num_0s": num_0s,
            "num_1s": num_1s,
            **({"model": model} if named else {}),
            "acc_0s": acc_0s,
            "acc_1s": acc_1s,
            **({"threshold": threshold} if cut_elsewhere else {}),
            "prevalence": prevalence_of(num_0s, num_1s),
            "n_replicates": int(summary.counts[index]),
        }
        for column, key in enumerate(keys):
            entry[f"{key}_mean"] = float(summary.means[index, column])
            entry[f"{key}_std"] = float(summary.stds[index, column])
        table.append(entry)
    return table


def _cut_elsewhere(models: Sequence[tuple]) -> bool:
    """Whether some model's metrics are at a threshold other than 0.5 (tables then show it)."""
    return any(threshold != DEFAULT_THRESHOLD_TEXT for *_, threshold in models)


def _pair_signs(values: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """sign(values[first] - values[second]) as int8, by comparison: exact, and inf-safe."""
    a, b = values[first], values[second]
    return (a > b).astype(np.int8) - (a < b).astype(np.int8)


def _pair_statistics(loss_signs: np.ndarray, reference_signs: np.ndarray) -> dict[str, float | int]:
    """Pair agreement and Kendall's tau-b of -loss against the reference, from per-pair signs."""
    n_all = loss_signs.size
    product = loss_signs * reference_signs
    concordant = int(np.count_nonzero(product == -1))  # loss lower exactly where the reference is higher
    discordant = int(np.count_nonzero(product == 1))
    loss_tied = loss_signs == 0
    reference_tied = reference_signs == 0
    n_pairs = n_all - int(np.count_nonzero(reference_tied))
    n_loss_ties = int(np.count_nonzero(loss_tied & ~reference_tied))
    # Ties: a pair the reference cannot order says nothing about the loss, so it is left out; a
    # pair the loss cannot order (but the reference can) is a coin flip, so it counts half.
    pair_agreement = (concordant + 0.5 * n_loss_ties) / n_pairs if n_pairs else math.nan
    tau_denominator = math.sqrt((n_all - int(np.count_nonzero(loss_tied))) * n_pairs)
    kendall_tau = (concordant - discordant) / tau_denominator if tau_denominator else math.nan
    return {
        "pair_agreement": pair_agreement,
        "kendall_tau": kendall_tau,
        "n_pairs": n_pairs,
        "n_loss_ties": n_loss_ties,
    }


def _names(name: str, values) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise InvalidValue(f"{name}={values!r} must be a non-empty list of names")
    return list(values)


def agreement(
    rows: Sequence[Row], *, losses: Sequence[str], references: Sequence[str] = DEFAULT_REFERENCES
) -> list[dict]:
    """Per balance and per (loss, reference): how often the loss orders two models as the reference does.

    ``losses`` are loss names (``bce``; ``loss/bce`` is accepted too); ``references`` are metric
    keys, higher is better unless ``metrics.lower_is_better`` says lower (``ece``, ``lr_minus``).
    At each balance the models are the distinct ``(acc_0s, acc_1s)``, each valued by its
    replicate mean, and every unordered pair of them is compared. A pair *agrees* when the model
    with the lower loss has the better reference value. Ties are exact float equality:

    - pairs tied in the reference are left out (``n_pairs`` counts the rest);
    - of those, a pair tied in the loss counts half (``n_loss_ties`` counts them);
    - ``pair_agreement`` = (agreeing pairs + half the loss ties) / ``n_pairs``, NaN if ``n_pairs``
      is 0 (one model at the balance, or the reference equal for all);
    - ``kendall_tau`` is Kendall's tau-b between -loss and the reference (as
      ``scipy.stats.kendalltau``; -reference for a reference of which lower is better), NaN when
      either is constant.

    One dict per (balance, loss, reference), balances in the order the rows first show them, with
    ``num_0s``, ``num_1s``, ``prevalence``, ``loss``, ``reference``, ``pair_agreement``,
    ``kendall_tau``, ``n_pairs``, ``n_loss_ties`` and ``n_models``. No rows give an empty list.
    Pairs are vectorised: n models cost n(n-1)/2 int8s per metric.
    """
    losses = _names("losses", losses)
    references = _names("references", references)
    loss_keys = [name if is_loss_key(name) else loss_key(name) for name in losses]
    if not rows:
        return []
    present = {key for row in rows for key in row}
    for name, keys in (("losses", loss_keys), ("references", references)):
        for key in keys:
            if key not in present:
                known = ", ".join(metric_keys(rows))
                raise InvalidValue(f"{name}: no cell has {key!r}; the cells have: {known}")
    summary = _Summary(rows, loss_keys + references)
    nan_columns = np.flatnonzero(np.isnan(summary.means).any(axis=0))
    if nan_columns.size:
        raise InvalidValue(f"{summary.keys[nan_columns[0]]} is NaN in some cell: NaN cannot be ranked")

    # models are compared at one balance and one threshold: the same model at two thresholds is no pair
    balances: dict[tuple[int, int, str], list[int]] = {}
    for index, (num_0s, num_1s, *_, threshold) in enumerate(summary.models):
        balances.setdefault((num_0s, num_1s, threshold), []).append(index)
    cut_elsewhere = _cut_elsewhere(summary.models)

    table = []
    for (num_0s, num_1s, threshold), model_indices in balances.items():
        means = summary.means[model_indices]
        first, second = np.triu_indices(len(model_indices), k=1)
        signs = [_pair_signs(means[:, column], first, second) for column in range(len(summary.keys))]
        for loss_column, loss in enumerate(losses):
            for reference_offset, reference in enumerate(references):
                reference_signs = signs[len(losses) + reference_offset]
                if lower_is_better(reference):  # the pair's better model by it, as for the others
                    reference_signs = -reference_signs
                statistics = _pair_statistics(signs[loss_column], reference_signs)
                table.append(
                    {
                        "num_0s": num_0s,
                        "num_1s": num_1s,
                        "prevalence": prevalence_of(num_0s, num_1s),
                        **({"threshold": threshold} if cut_elsewhere else {}),
                        "loss": loss_name(loss),
                        "reference": reference,
                        **statistics,
                        "n_models": len(model_indices),
                    }
                )
    return table


def as_columns(table: Sequence[Row]) -> dict[str, list]:
    """A list of same-keyed dicts as ``{key: column}``, the shape ``mlflow.log_table`` takes."""
    if not table:
        return {}
    keys = list(table[0])
    for index, row in enumerate(table):
        if list(row) != keys:
            raise InvalidValue(f"table[{index}] has keys {list(row)}, table[0] has {keys}")
    return {key: [row[key] for row in table] for key in keys}
