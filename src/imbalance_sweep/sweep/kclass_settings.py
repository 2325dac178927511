"""What a K-class grid (one that sets ``grid.classes``: sweep/kgrid.py) takes from the rest of the
config, checked before any run exists: the ``multiclass`` block, and which other keys apply.

* K >= 3: the cells log the K-class losses and metrics (core/multiclass/evaluation.py). Their losses
  are ``multiclass.losses`` (null: every K-class loss; those of the training prior are left out of a
  cell with a training count of 0), their settings the block's (``beta``, ``tau``, ``max_margin``,
  ``scale``, ``top_k``, ``many_above``, ``few_below``) and the keys that mean the same for K classes:
  ``focal.alpha`` and ``focal.gamma`` (categorical focal), ``metrics.ece_bins``. The binary
  ``losses`` name no K-class loss: anything but their default is refused, as are what the K-class
  draw does not have (another backend, a threshold, another score model). ``mode`` is the binary
  one's: sampled (the draw, its exact values beside it as ``expected/<key>``) or expected
  (core/multiclass/expected.py).
* K = 2: each cell is the binary cell it equals (``as_binary_cell``) and runs through the binary
  engine with the binary keys (``losses``, ``focal``, ``metrics``, ``backend``, ``mode``), so that it
  logs the binary record bit for bit; the ``multiclass`` block does not apply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.checks import InvalidValue, names_from
from ..core.multiclass.confusion import DEFAULT_FEW_BELOW, DEFAULT_MANY_ABOVE
from ..core.multiclass.evaluation import applicable_losses
from ..core.multiclass.file_model import ClassFileModel
from ..core.multiclass.loss_settings import (
    DEFAULT_BETA,
    DEFAULT_MAX_MARGIN,
    DEFAULT_SCALE,
    DEFAULT_TAU,
    effective_number_beta,
    finite_at_least,
    of_the_training_prior,
)
from ..core.multiclass.metrics import DEFAULT_TOP_K, MulticlassSettings, multiclass_settings
from ..core.vocabulary import LOSS_NAMES, MULTICLASS_LOSS_NAMES
from .kgrid import KCellSpec, k_grid

log = logging.getLogger(__name__)

SECTION = "multiclass"
MULTICLASS_KEYS = ("losses", "beta", "tau", "max_margin", "scale", "top_k", "many_above", "few_below")


@dataclass(frozen=True)
class KClassSettings:
    """A K-class sweep's K and the settings of its K-class losses and metrics (K >= 3)."""

    classes: int
    beta: float = DEFAULT_BETA  # class_balanced: Cui et al.'s beta, in [0, 1)
    tau: float = DEFAULT_TAU  # logit_adjusted: Menon et al.'s tau
    max_margin: float = DEFAULT_MAX_MARGIN  # ldam: the largest class margin
    scale: float = DEFAULT_SCALE  # ldam: the logit scale s
    top_k: int = DEFAULT_TOP_K  # top_k_accuracy's k
    many_above: float = DEFAULT_MANY_ABOVE  # recall/many: more training samples than this
    few_below: float = DEFAULT_FEW_BELOW  # recall/few: fewer training samples than this

    @property
    def binary(self) -> bool:
        """K = 2: the cells run through the binary engine."""
        return self.classes == 2

    def metric_settings(self, ece_bins: int) -> MulticlassSettings:
        return MulticlassSettings(self.top_k, ece_bins, self.many_above, self.few_below)

    def loss_settings(self) -> dict[str, float]:
        """The K-class losses' settings besides focal's alpha and gamma."""
        return {"beta": self.beta, "tau": self.tau, "max_margin": self.max_margin, "scale": self.scale}

    def params(self) -> dict[str, object]:
        """``multiclass.<key>`` of every setting (K >= 3: they change the values; K = 2: none)."""
        if self.binary:
            return {}
        return {f"{SECTION}.{key}": value for key, value in asdict(self).items() if key != "classes"}


def _in_section(error: InvalidValue) -> InvalidValue:
    """A core check's line about ``<key>=...`` as the config names it, ``multiclass.<key>=...``."""
    return InvalidValue(f"{SECTION}.{error}")


def k_class_settings(block: Any, classes: int) -> tuple[KClassSettings, Any]:
    """The ``multiclass`` block checked (a misspelt key is refused, not ignored): the settings and
    the block's ``losses`` as given (checked by :func:`k_class_losses`)."""
    block = {} if block is None else block
    if not isinstance(block, Mapping):
        raise InvalidValue(f"{SECTION}={block!r} must be a mapping of: {', '.join(MULTICLASS_KEYS)}")
    unknown = sorted(set(block) - set(MULTICLASS_KEYS))
    if unknown:
        raise InvalidValue(
            f"{SECTION}.{unknown[0]} is not a key of {SECTION}; its keys are: {', '.join(MULTICLASS_KEYS)}"
        )
    defaults = KClassSettings(classes)
    given = {key: block[key] for key in MULTICLASS_KEYS if key != "losses" and block.get(key) is not None}
    values = {**asdict(defaults), **given}
    try:
        checked = multiclass_settings(values["top_k"], 1, values["many_above"], values["few_below"])
        settings = KClassSettings(
            classes=classes,
            beta=effective_number_beta(values["beta"]),
            tau=finite_at_least("tau", values["tau"], 0.0),
            max_margin=finite_at_least("max_margin", values["max_margin"], 0.0),
            scale=finite_at_least("scale", values["scale"], 0.0, strict=True),
            top_k=checked.top_k,
            many_above=checked.many_above,
            few_below=checked.few_below,
        )
    except InvalidValue as error:
        raise _in_section(error) from None
    return settings, block.get("losses")


def k_class_losses(given: Any, binary_losses: tuple[str, ...], classes: int) -> tuple[str, ...]:
    """A K >= 3 sweep's losses: ``multiclass.losses`` (null: every K-class loss); the binary
    ``losses`` must stay at their default, which names no K-class loss."""
    if tuple(binary_losses) != LOSS_NAMES:
        raise InvalidValue(
            f"losses={','.join(binary_losses)} names binary losses, which a K-class grid of "
            f"grid.classes={classes} does not take; give its losses as multiclass.losses=[...] "
            f"(from: {', '.join(MULTICLASS_LOSS_NAMES)})"
        )
    if given is None:
        return MULTICLASS_LOSS_NAMES
    names = [part.strip() for part in given.split(",") if part.strip()] if isinstance(given, str) else given
    if isinstance(names, (list, tuple)):
        for index, name in enumerate(names):
            if name in LOSS_NAMES:
                raise InvalidValue(
                    f"{SECTION}.losses[{index}]={name!r} is a binary loss; a K-class grid of "
                    f"grid.classes={classes} takes: {', '.join(MULTICLASS_LOSS_NAMES)}"
                )
    return names_from(f"{SECTION}.losses", names, MULTICLASS_LOSS_NAMES)


def k_class_cells(
    grid: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    losses: tuple[str, ...],
    backend: str,
    score_model_name: str,
    thresholds_default: bool,
    start_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[KCellSpec, ...], KClassSettings, tuple[str, ...], Mapping[str, ClassFileModel]]:
    """A K-class grid's cells (each one's K-class cell built once, so a value out of its range stops
    the sweep now, not at that cell), its settings, the losses its cells log and the predictions
    files its models name (read now, relative paths from ``start_dir``)."""
    found = k_grid(grid, start_dir=start_dir)
    cells = found.cells
    classes = cells[0].classes
    settings, given_losses = k_class_settings(config.get(SECTION), classes)
    if score_model_name != "uniform":
        raise InvalidValue(
            f"score_model={score_model_name}: a K-class grid draws the uniform model's scores "
            "(docs/background/k-class-cell.md); leave score_model=uniform"
        )
    if not thresholds_default:
        raise InvalidValue(
            "threshold: a K-class grid predicts each row's highest score (the argmax); leave threshold "
            "at 0.5 and grid.thresholds unset"
        )
    for cell in cells:
        if cell.digest is not None:  # a predictions file's cell: checked as the file was read
            continue
        try:
            cell.multiclass_cell()
        except InvalidValue as error:
            raise InvalidValue(f"grid: the cell {cell.name!r}: {error}") from None
    if settings.binary:
        if given_losses is not None:
            log.info("grid.classes=2: the cells run as binary cells, with losses=%s", ",".join(losses))
        return cells, settings, losses, found.files
    if backend != "numpy":
        raise InvalidValue(
            f"backend={backend}: the K-class losses of grid.classes={classes} are numpy's; leave backend=numpy"
        )
    names = k_class_losses(given_losses, losses, classes)
    asked = of_the_training_prior(names)
    if given_losses is not None and asked:
        for cell in cells:
            if not set(asked) <= set(applicable_losses(cell.training_counts)):
                raise InvalidValue(
                    f"{SECTION}.losses names {', '.join(asked)}, which take the training prior, and the "
                    f"cell {cell.name!r} has a training count of 0; leave them out (null: every loss "
                    "that applies)"
                )
    return cells, settings, names, found.files
