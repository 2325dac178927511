"""What makes two runs the same cell of two sweeps: a cell's key, read from its run's params."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ...core.cell import cell_name
from ...core.thresholds import DEFAULT_THRESHOLD_TEXT, from_text, row_threshold


class CellKey(NamedTuple):
    """What makes two runs the same cell; the seed and the loss settings are left out on purpose."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int

    @classmethod
    def of(cls, params: Mapping[str, str | float]) -> AnyCellKey:
        """The key of a cell from its run params (strings in MLflow; numbers work too); a
        predictions file's cell (a ``model`` param) gets a :class:`NamedCellKey`, a cell at a
        threshold other than 0.5 a :class:`CutCellKey`."""
        values = (
            int(params["num_0s"]),
            int(params["num_1s"]),
            float(params["acc_0s"]),
            float(params["acc_1s"]),
            int(params.get("replicate", 0)),
        )
        model = str(params.get("model") or "")
        threshold = row_threshold(params)
        if threshold != DEFAULT_THRESHOLD_TEXT:
            return CutCellKey(*values, model, threshold)
        return NamedCellKey(*values, model) if model else cls(*values)

    def __str__(self) -> str:
        return cell_name(self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, self.replicate)


class NamedCellKey(NamedTuple):
    """A predictions file's cell: as :class:`CellKey`, and the model's name."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int
    model: str

    def __str__(self) -> str:
        return cell_name(self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, self.replicate, self.model)


class CutCellKey(NamedTuple):
    """A cell at a threshold other than 0.5: as :class:`NamedCellKey` (``model`` empty for a model
    given by its accuracies), and the threshold as text (``threshold_text``)."""

    num_0s: int
    num_1s: int
    acc_0s: float
    acc_1s: float
    replicate: int
    model: str
    threshold: str

    def __str__(self) -> str:
        model = self.model or None
        name = cell_name(
            self.num_0s, self.num_1s, self.acc_0s, self.acc_1s, 0, model, from_text(self.threshold)
        )
        return name if self.replicate == 0 else f"{name} rep={self.replicate}"


AnyCellKey = CellKey | NamedCellKey | CutCellKey


def key_fields(keys) -> list[str]:
    """The fields naming cells of these keys: ``model`` only when one is a predictions file's,
    ``threshold`` only when one is cut elsewhere than 0.5."""
    named = any(getattr(key, "model", "") for key in keys)
    fields = list(NamedCellKey._fields if named else CellKey._fields)
    return [*fields, "threshold"] if any(isinstance(key, CutCellKey) for key in keys) else fields


def key_field(key: AnyCellKey, field: str) -> str | float | int:
    """A key's value of a field :func:`key_fields` names (another key type may lack it)."""
    return getattr(key, field, DEFAULT_THRESHOLD_TEXT if field == "threshold" else "")
