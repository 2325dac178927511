"""Which epoch each criterion would choose, and what that epoch finds at each prevalence.

"Following the loss" is model selection: ``EarlyStopping`` and ``ModelCheckpoint`` keep the epoch
with the lowest validation loss. Given every epoch's losses and metrics on the validation set as
it is and re-weighted to deployment prevalences (``core.reweighting``), this says which epoch each
loss (lowest) and each metric (highest; ``ece`` and ``lr_minus`` lowest) picks at each of them, and
that epoch's recall and its precision at every prevalence. Ties go to the first epoch, as Keras's
callbacks keep the first best. Pure numpy: the Keras callback feeds it, and it feeds a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.metrics import lower_is_better
from ..core.vocabulary import LOSS_NAMES, loss_keys, ranked_names

# The criteria a table lists: every loss, then the metrics people select on first (``vocabulary``)
CRITERIA = (*loss_keys(LOSS_NAMES), *ranked_names(lambda metric: metric.criterion))


@dataclass(frozen=True)
class Pick:
    """The epoch ``criterion``, computed on population ``chosen_on``, picks, and that epoch's values."""

    criterion: str
    chosen_on: str  # "val" (the set as it is) or a prevalence's text
    epoch: int
    value: float
    recall: float
    precision: Mapping[str, float]  # at each population

    def row(self) -> dict[str, object]:
        """The pick as a table row: ``precision`` as one column per population."""
        row: dict[str, object] = {
            "criterion": self.criterion,
            "chosen on": self.chosen_on,
            "epoch": self.epoch,
            "value": self.value,
            "recall": self.recall,
        }
        row.update({f"precision ({where})": value for where, value in self.precision.items()})
        return row


def best_index(values: Sequence[float], *, lower: bool) -> int:
    """The first index of the best value."""
    array = np.asarray(values, dtype=float)
    return int(np.argmin(array) if lower else np.argmax(array))


def picks(
    epochs: Sequence[int],
    values: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    criteria: Sequence[str] = CRITERIA,
    extra: Mapping[str, Sequence[float]] | None = None,
) -> list[Pick]:
    """Every criterion's pick on every population of ``values`` (population -> key -> one value per
    epoch, ``"val"`` first), then each ``extra`` loss series (Keras's own ``val_loss``): its lowest,
    on ``"val"``."""
    precision = {where: series["precision"] for where, series in values.items()}
    recall = values["val"]["recall"]

    def pick(criterion: str, chosen_on: str, series: Sequence[float], lower: bool) -> Pick:
        index = best_index(series, lower=lower)
        return Pick(
            criterion=criterion,
            chosen_on=chosen_on,
            epoch=int(epochs[index]),
            value=float(series[index]),
            recall=float(recall[index]),
            precision={where: float(p[index]) for where, p in precision.items()},
        )

    found = [
        pick(criterion, where, series[criterion], lower_is_better(criterion))
        for where, series in values.items()
        for criterion in criteria
        if criterion in series
    ]
    found += [pick(name, "val", series, True) for name, series in (extra or {}).items()]
    return found
