"""What makes a sweep the same sweep, and a cell the same cell, across processes and re-runs.

A sweep's key hashes its name, its experiment and every setting that changes a cell's numbers.
The grid is left out on purpose: a grown grid resumes into the same sweep and runs only its new
cells. Shards are left out too: every shard of a sweep finds the same parent. A cell's key hashes
the sweep's key and the cell's own values (its threshold among them, like the grid a cell value:
another threshold continues the sweep with new cells), so it names one cell of one sweep.

A K-class grid's sweep key adds its kind and its K-class settings (never a binary sweep's key); its
cells' keys hash K, every vector, the model's name and the validation prior's text, under other
names than a binary cell's values, so no K-class cell, not even one of K = 2, has a binary cell's key.
A K-class predictions file's cell adds the file's digest (a model given by accuracies adds nothing).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from ..core.thresholds import is_default
from .config import SweepSpec
from .kgrid import KCellSpec
from .params import sweep_settings

if TYPE_CHECKING:
    from .config import SweepCell

KEY_LENGTH = 16  # hex digits: 64 bits, ample for the sweeps of one store


def _digest(values: dict) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def sweep_key(spec: SweepSpec) -> str:
    """The sweep's identity: name, experiment and the settings a cell's numbers depend on.

    A score model other than ``uniform`` adds its own identity (its name and parameters, a file's
    digest); the uniform model adds nothing, so sweeps from before score models keep their keys.
    """
    bootstrap = {}
    if spec.bootstrap_replicates:  # intervals are more values: a sweep without them keeps its key
        bootstrap = {
            "bootstrap.replicates": spec.bootstrap_replicates,
            "bootstrap.level": repr(spec.bootstrap_level),
        }
    # metric settings other than the defaults: a sweep at the defaults keeps the key it always had
    metrics = {name: _key_value(value) for name, value in spec.metrics.non_default().items()}
    k_classes = {}
    if spec.multiclass is not None:  # a K-class grid: its kind, and its settings when they apply
        k_classes = {
            "kind": "k_classes",
            **{key: _key_value(v) for key, v in spec.multiclass.params().items()},
        }
    return _digest(
        {
            **k_classes,
            **spec.score_model.identity(),
            **bootstrap,
            **metrics,
            "name": spec.name,
            "experiment": spec.experiment,
            **{name: _key_value(value) for name, value in sweep_settings(spec).items()},
        }
    )


def _key_value(value):
    """A setting as the key holds it: repr() round-trips a float exactly (0.25 and 0.2500000001 are
    different sweeps), the losses as a list."""
    if isinstance(value, float):
        return repr(value)
    return list(value) if isinstance(value, tuple) else value


def cell_key(sweep: str, cell: SweepCell) -> str:
    """One cell of one sweep: its counts, its accuracies (exactly) and its replicate; a predictions
    file's cell adds the model's name and the file's digest, a cell at a threshold other than 0.5
    adds the threshold (a cell of accuracies at 0.5 adds nothing, so its key is the one it always
    had)."""
    if isinstance(cell, KCellSpec):
        return k_cell_key(sweep, cell)
    values = {
        "sweep": sweep,
        "num_0s": cell.num_0s,
        "num_1s": cell.num_1s,
        "acc_0s": repr(cell.acc_0s),
        "acc_1s": repr(cell.acc_1s),
        "replicate": cell.replicate,
    }
    if cell.digest is not None:
        values.update(model=cell.model, digest=cell.digest)
    if not is_default(cell.threshold):
        values["threshold"] = _key_value(cell.threshold)
    return _digest(values)


def k_cell_key(sweep: str, cell: KCellSpec) -> str:
    """One K-class cell of one sweep: K, its vectors (exactly), its replicate, its model's name and
    validation prior (two models of the same values under two names are two cells)."""
    errors = cell.errors if isinstance(cell.errors, str) else [[repr(v) for v in row] for row in cell.errors]
    digest = {} if cell.digest is None else {"digest": cell.digest}
    return _digest(
        {
            **digest,
            "sweep": sweep,
            "classes": cell.classes,
            "counts": list(cell.counts),
            "accuracies": [repr(value) for value in cell.accuracies],
            "training_counts": list(cell.training_counts),
            "errors": errors,
            "replicate": cell.replicate,
            "model": cell.model,
            "prior": cell.prior,
        }
    )
