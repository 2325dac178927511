"""A K-class sweep's report (a grid that sets ``grid.classes``): a summary table per validation prior
x model, the mean over its replicates of each loss, macro F1, balanced accuracy and recall by
frequency band, as long-tail papers report them. The binary report's figures and answer (two
models by balances and accuracies, flips in prevalence) do not apply; where each loss and metric
prefer which model over the priors comes later (issue 26, point 6).

Plain data in (the sweep's rows, as cells.csv holds them), plain columns out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.vocabulary import band_key, loss_keys

SUMMARY_TABLE = "summary/k_classes.json"
# The metrics of the summary, where the cells have them: macro F1 (a K = 2 cell, a binary record, has
# the positive class's F1), balanced accuracy, the mean recall of each training-frequency band.
SUMMARY_METRICS = (
    "f1_macro",
    "f1",
    "balanced_accuracy",
    band_key("many"),
    band_key("medium"),
    band_key("few"),
)
ANSWER_LATER = (
    "The answer (where each loss and metric prefer which model over the priors) comes later for a "
    "K-class sweep (issue 26, point 6); its summary is summary/k_classes.json, every cell in cells.csv."
)

Row = Mapping[str, Any]


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None and not math.isnan(value)]
    return sum(present) / len(present) if present else None


def summary_columns(rows: Sequence[Row], losses: Sequence[str]) -> dict[str, list[Any]]:
    """Per validation prior x model, in the grid's order: the replicates, then the mean of each loss
    and each of :data:`SUMMARY_METRICS` the cells have (a band without a class in some cell averages
    the cells that have it; none: empty)."""
    values = [key for key in loss_keys(losses) if any(key in row for row in rows)]
    values += [key for key in SUMMARY_METRICS if any(key in row for row in rows)]
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((str(row["prior"]), str(row["model"])), []).append(row)
    columns: dict[str, list[Any]] = {"prior": [], "model": [], "replicates": []}
    columns.update({key: [] for key in values})
    for (prior, model), members in groups.items():
        columns["prior"].append(prior)
        columns["model"].append(model)
        columns["replicates"].append(len(members))
        for key in values:
            columns[key].append(_mean([_number(row.get(key)) for row in members]))
    return columns


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)
