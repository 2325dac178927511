"""The validated form of a sweep's configuration: plain values, checked before any run exists."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import InvalidValue, one_of, whole_number
from .evaluation import check_loss_settings
from .grid import Cell, build_cells

DEFAULT_TRACKING_DB = "mlflow.db"
GRID_KEYS = ("name", "balances", "models", "acc_0s", "acc_1s", "seeds")
MODES = ("sampled", "expected")


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep needs, validated: the core gets these values, not a DictConfig."""

    name: str
    cells: tuple[Cell, ...]
    losses: tuple[str, ...]
    backend: str
    mode: str
    seed: int
    chunk_size: int
    alpha: float
    gamma: float
    experiment: str
    tracking_uri: str
    report: bool
    grid: Mapping[str, Any]
    resume: bool = True
    shard_index: int = 0
    shard_count: int = 1

    @property
    def shard_cells(self) -> tuple[Cell, ...]:
        """This shard's cells: cell i of the grid (in its order) goes to shard i % shard_count."""
        return self.cells[self.shard_index :: self.shard_count]


def resolve_tracking_uri(configured: str | None, start_dir: str | os.PathLike | None = None) -> str:
    """The configured URI, else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in ``start_dir``."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path(start_dir or os.getcwd()).resolve() / DEFAULT_TRACKING_DB}"


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{name}={value!r} must be a non-empty string")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{name}={value!r} must be true or false")
    return value


def sweep_spec(config: Mapping[str, Any], *, start_dir: str | os.PathLike | None = None) -> SweepSpec:
    """Validate a composed config (as plain containers) into a :class:`SweepSpec`."""
    grid = config.get("grid")
    if not isinstance(grid, Mapping):
        raise InvalidValue(f"grid={grid!r} must be a grid config such as grid=seed_blog")
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise InvalidValue(f"grid.{unknown[0]} is not a grid key; grid keys are: {', '.join(GRID_KEYS)}")
    focal = config.get("focal") or {}
    losses, backend, alpha, gamma, chunk_size = check_loss_settings(
        config.get("losses"),
        config.get("backend"),
        focal.get("alpha"),
        focal.get("gamma"),
        config.get("chunk_size"),
    )
    cells = build_cells(
        balances=grid.get("balances"),
        models=grid.get("models"),
        acc_0s=grid.get("acc_0s"),
        acc_1s=grid.get("acc_1s"),
        seeds=grid.get("seeds"),
    )
    grid_name = _text("grid.name", grid.get("name", "grid"))
    shard = config.get("shard") or {}
    shard_count = whole_number("shard.count", shard.get("count", 1), minimum=1)
    shard_index = whole_number("shard.index", shard.get("index", 0))
    if shard_index >= shard_count:
        raise InvalidValue(f"shard.index={shard_index} is outside [0, {shard_count - 1}]")
    resume = _flag("resume", config.get("resume", True))
    if not resume and shard_count > 1:
        raise InvalidValue(
            f"resume=false with shard.count={shard_count}: shards find their common parent by resuming;"
            " give a new sweep_name for a fresh sharded sweep"
        )
    return SweepSpec(
        name=_text("sweep_name", config.get("sweep_name") or grid_name),
        cells=cells,
        losses=losses,
        backend=backend,
        mode=one_of("mode", config.get("mode", "sampled"), MODES),
        seed=whole_number("seed", config.get("seed")),
        chunk_size=chunk_size,
        alpha=alpha,
        gamma=gamma,
        experiment=_text("experiment", config.get("experiment")),
        tracking_uri=resolve_tracking_uri(config.get("tracking_uri"), start_dir),
        report=_flag("report", config.get("report", True)),
        grid=dict(grid),
        resume=resume,
        shard_index=shard_index,
        shard_count=shard_count,
    )
