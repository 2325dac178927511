"""The validated form of a sweep's configuration: plain values, checked before any run exists."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..core import score_models
from ..core.cell import Cell, NamedModel
from ..core.checks import InvalidValue, clipped, one_of, whole_number
from ..core.evaluation import check_loss_settings
from ..core.metrics import DEFAULT_METRICS, MetricSettings, settings_section
from ..core.multiclass.file_model import ClassFileModel
from ..core.score_models.empirical import EmpiricalModel, file_entry, is_file_entry
from ..core.score_models.uniform import UNIFORM
from ..core.thresholds import DEFAULT_THRESHOLD, check_threshold, is_default
from ..runtime.forked import can_fork
from ..runtime.lifetime import in_whole_process
from .grid import MAX_CELLS, build_cells, threshold_axis
from .plan import check_sampled_sizes

if TYPE_CHECKING:
    from .kclass_settings import KClassSettings
    from .kgrid import KCellSpec

    SweepCell: TypeAlias = Cell | KCellSpec  # a binary grid's cell, or a K-class grid's (grid.classes set)

log = logging.getLogger(__name__)

DEFAULT_TRACKING_DB = "mlflow.db"
GRID_KEYS = ("name", "balances", "models", "acc_0s", "acc_1s", "seeds", "thresholds")
MODES = ("sampled", "expected")
# A sweep's and an experiment's name: MLflow keeps a run's name in 250 characters (PostgreSQL refuses
# more, sqlite does not check), and a continued sweep's run adds " (continues 1a2b3c4d)" to it.
MAX_NAME_LENGTH = 200
# Stratified resamples per predictions file's cell: about 20 ms each for a file of 10^5 rows.
MAX_BOOTSTRAP_REPLICATES = 10_000


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep needs, validated: the core gets these values, not a DictConfig."""

    name: str
    cells: tuple[SweepCell, ...]
    losses: tuple[str, ...]
    backend: str
    mode: str
    seed: int
    chunk_size: int
    alpha: float
    gamma: float
    experiment: str
    tracking_uri: str
    report: bool  # the summary tables and figures on the sweep's parent run
    grid: Mapping[str, Any]
    resume: bool = True
    shard_index: int = 0
    shard_count: int = 1
    score_model: score_models.ScoreModel = UNIFORM  # how each class's scores are distributed
    # Stratified bootstrap intervals for predictions files' cells: replicates (0: none) and level.
    bootstrap_replicates: int = 0
    bootstrap_level: float = 0.95
    # Print the sweep's size and first cells, log nothing.
    dry_run: bool = False
    # The predictions files ``grid.models`` lists, by model name: each is its cells' score model.
    file_models: Mapping[str, EmpiricalModel] = field(default_factory=dict)
    # The settings of fbeta, precision_at_recall and ece (the config's ``metrics``).
    metrics: MetricSettings = DEFAULT_METRICS
    # The thresholds of the cells (``grid.thresholds``, else ``[threshold]``): 0.5 is the post's rule.
    thresholds: tuple[float | str, ...] = (DEFAULT_THRESHOLD,)
    # report=all: every figure; report=answer (the default): those that answer the sweep's question.
    all_figures: bool = False
    # A K-class grid's K and settings (sweep/kclass_settings.py); None for a binary grid.
    multiclass: KClassSettings | None = None
    # The K-class predictions files a K-class grid's ``models`` lists, by model name (kfile_models.py).
    class_files: Mapping[str, ClassFileModel] = field(default_factory=dict)

    def computes_ahead(self, cells: int) -> bool:
        """Whether a forked worker computes ``cells`` cells of this sweep ahead while they are logged
        (sweep/ahead.py): in a command's own process (runtime/lifetime.py), two cells or more, the
        numpy backend (TensorFlow must not run in a forked child) and a second CPU."""
        return in_whole_process() and cells >= 2 and self.backend == "numpy" and can_fork()

    def model_of(self, cell: SweepCell) -> score_models.ScoreModel:
        """The score model of ``cell``: its predictions file's, else the sweep's ``score_model``."""
        if not isinstance(cell, Cell) or cell.model is None:
            return self.score_model
        return self.file_models[cell.model]

    def dataset_of(self, cell: SweepCell) -> Mapping[str, object] | None:
        """The predictions file ``cell``'s run logs as its input dataset, if it evaluates one."""
        if isinstance(cell, Cell):
            return self.model_of(cell).dataset
        return self.class_files[cell.model].dataset if cell.digest is not None else None

    @property
    def k_classes(self) -> bool:
        """A K-class grid of K >= 3: its cells log the K-class losses and metrics (K = 2 cells run
        as binary cells)."""
        return self.multiclass is not None and not self.multiclass.binary

    @property
    def shard_cells(self) -> tuple[SweepCell, ...]:
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


def checked_name(key: str, value: Any) -> str:
    """A name MLflow stores the same on every store: one line, at most MAX_NAME_LENGTH characters."""
    text = _text(key, value)
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidValue(
            f"{key}={clipped(text)} has {len(text)} characters; a name has at most {MAX_NAME_LENGTH}"
        )
    if not text.isprintable():
        raise InvalidValue(f"{key}={clipped(text)} holds a control character; a name is one printable line")
    return text


def _report(value: Any) -> tuple[bool, bool]:
    """``(report, all_figures)`` from the config's ``report``."""
    if value is True or value == "answer":
        return True, False
    if value == "all":
        return True, True
    if value is False or value == "false":
        return False, False
    raise InvalidValue(
        f"report={value!r} must be answer (the figures that answer the sweep's question; true says the "
        "same), all (every figure) or false (no tables, no figures)"
    )


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{name}={value!r} must be true or false")
    return value


def _grid_section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The config's ``grid``, refused when it is no mapping or has a key the grid does not know (a
    misspelt key would otherwise be ignored silently)."""
    grid = config.get("grid")
    if not isinstance(grid, Mapping):
        raise InvalidValue(f"grid={grid!r} must be a grid config such as grid=seed_blog")
    if "classes" in grid:  # a K-class grid: sweep/kgrid.py checks its keys
        return grid
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise InvalidValue(f"grid.{unknown[0]} is not a grid key; grid keys are: {', '.join(GRID_KEYS)}")
    return grid


def _thresholds(config: Mapping[str, Any], grid: Mapping[str, Any]) -> tuple[float | str, ...]:
    """The cells' thresholds: ``grid.thresholds`` (an axis), else the config's ``threshold``; both
    set (``threshold`` other than 0.5) is refused, as the grid's ``models`` and ``acc_0s`` are."""
    threshold = check_threshold("threshold", config.get("threshold", DEFAULT_THRESHOLD))
    axis = grid.get("thresholds")
    if axis is None:
        return (threshold,)
    if not is_default(threshold):
        raise InvalidValue(
            f"grid.thresholds and threshold={threshold!r} are both set: give one of them "
            "(grid.thresholds=[...] for several)"
        )
    return threshold_axis(axis)


def _grid_cells(
    grid: Mapping[str, Any],
    score_model: score_models.ScoreModel,
    start_dir: str | os.PathLike | None,
    thresholds: tuple[float | str, ...],
) -> tuple[tuple[Cell, ...], dict[str, EmpiricalModel]]:
    """The grid's cells and the predictions files its models list: a score model that sets the
    accuracies itself replaces the grid's models and accuracies by its own, and says so."""
    models, acc_0s, acc_1s = grid.get("models"), grid.get("acc_0s"), grid.get("acc_1s")
    models, file_models = _file_models(models, score_model, start_dir)
    if score_model.grid_accuracies is not None:
        # The model sets each class's accuracy itself (empirical: the file's): the grid's do not apply.
        log.info(
            "score_model=%s: the grid's accuracies do not apply; every cell has acc_0s=%r, acc_1s=%r",
            score_model.name,
            *score_model.grid_accuracies,
        )
        models, acc_0s, acc_1s = [list(score_model.grid_accuracies)], None, None
    cells = build_cells(
        balances=grid.get("balances"),
        models=models,
        acc_0s=acc_0s,
        acc_1s=acc_1s,
        seeds=grid.get("seeds"),
        thresholds=thresholds,
    )
    return cells, file_models


def _shard(config: Mapping[str, Any]) -> tuple[int, int]:
    """(shard.index, shard.count): the count first, so that the index is checked against it."""
    shard = config.get("shard") or {}
    shard_count = whole_number("shard.count", shard.get("count", 1), minimum=1, maximum=MAX_CELLS)
    shard_index = whole_number("shard.index", shard.get("index", 0))
    if shard_index >= shard_count:
        raise InvalidValue(f"shard.index={shard_index} is outside [0, {shard_count - 1}]")
    return shard_index, shard_count


def _bootstrap(
    config: Mapping[str, Any],
    file_models: Mapping[str, EmpiricalModel],
    score_model: score_models.ScoreModel,
) -> tuple[int, float]:
    """(bootstrap.replicates, bootstrap.level) checked; replicates asked for a sweep without a
    predictions file (none in ``file_models``, no ``score_model.dataset``) are no error, but the log
    says they give no intervals."""
    bootstrap = config.get("bootstrap") or {}
    replicates = whole_number(
        "bootstrap.replicates", bootstrap.get("replicates", 0), maximum=MAX_BOOTSTRAP_REPLICATES
    )
    level = bootstrap.get("level", 0.95)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidValue(f"bootstrap.level={level!r} is not a number strictly between 0 and 1")
    if replicates and not file_models and score_model.dataset is None:
        log.info("bootstrap.replicates=%d: no predictions file in this sweep, so no intervals", replicates)
    return replicates, level


def _metrics(config: Mapping[str, Any]) -> MetricSettings:
    """The config's ``metrics`` section, checked (a misspelt key is refused, not ignored)."""
    return settings_section(config.get("metrics") or {}, section="metrics")


def _resume(config: Mapping[str, Any], shard_count: int) -> bool:
    """``resume``, which a sharded sweep needs: its shards find their common parent by resuming."""
    resume = _flag("resume", config.get("resume", True))
    if not resume and shard_count > 1:
        raise InvalidValue(
            f"resume=false with shard.count={shard_count}: shards find their common parent by resuming;"
            " give a new sweep_name for a fresh sharded sweep"
        )
    return resume


def sweep_spec(
    config: Mapping[str, Any], *, start_dir: str | os.PathLike | None = None, job_overrides: str = ""
) -> SweepSpec:
    """Validate a composed config (as plain containers) into a :class:`SweepSpec`.

    ``job_overrides`` (a multirun job's own overrides, as Hydra's ``override_dirname``) follow the
    grid's name in the default ``sweep_name``, so that each job of ``-m seed=0,1`` is its own sweep.

    The values are checked in a fixed order (the grid's keys, the losses, the score model, the
    cells, then the scalar settings), so that the first error reported stays the same."""
    grid = _grid_section(config)
    focal = config.get("focal") or {}
    losses, backend, alpha, gamma, chunk_size = check_loss_settings(
        config.get("losses"),
        config.get("backend"),
        focal.get("alpha"),
        focal.get("gamma"),
        config.get("chunk_size"),
    )
    score_model = score_models.from_config(config.get("score_model"), start_dir=start_dir)
    multiclass = None
    class_files: Mapping[str, ClassFileModel] = {}
    cells: tuple[SweepCell, ...]
    if "classes" in grid:  # a K-class grid
        from .kclass_settings import k_class_cells

        threshold = check_threshold("threshold", config.get("threshold", DEFAULT_THRESHOLD))
        thresholds: tuple[float | str, ...] = (threshold,)
        cells, multiclass, losses, class_files = k_class_cells(
            grid,
            config,
            losses=losses,
            backend=backend,
            score_model_name=score_model.name,
            thresholds_default=is_default(threshold),
            start_dir=start_dir,
        )
        file_models: dict[str, EmpiricalModel] = {}
    else:
        thresholds = _thresholds(config, grid)
        cells, file_models = _grid_cells(grid, score_model, start_dir, thresholds)
    grid_name = _text("grid.name", grid.get("name", "grid"))
    shard_index, shard_count = _shard(config)
    replicates, level = _bootstrap(config, file_models, score_model)
    resume = _resume(config, shard_count)
    mode = one_of("mode", config.get("mode", "sampled"), MODES)
    metrics = _metrics(config)
    report, all_figures = _report(config.get("report", "answer"))
    check_sampled_sizes(cells, mode)
    return SweepSpec(
        name=checked_name("sweep_name", config["sweep_name"])
        if config.get("sweep_name")
        else default_sweep_name(grid_name, job_overrides),
        cells=cells,
        losses=losses,
        backend=backend,
        mode=mode,
        seed=whole_number("seed", config.get("seed")),
        chunk_size=chunk_size,
        alpha=alpha,
        gamma=gamma,
        experiment=checked_name("experiment", config.get("experiment")),
        tracking_uri=resolve_tracking_uri(config.get("tracking_uri"), start_dir),
        report=report,
        grid=dict(grid),
        resume=resume,
        shard_index=shard_index,
        shard_count=shard_count,
        score_model=score_model,
        file_models=file_models,
        bootstrap_replicates=replicates,
        bootstrap_level=float(level),
        dry_run=_flag("dry_run", config.get("dry_run", False)),
        metrics=metrics,
        thresholds=thresholds,
        all_figures=all_figures,
        multiclass=multiclass,
        class_files=class_files,
    )


def default_sweep_name(grid_name: str, job_overrides: str) -> str:
    """The grid's name, then a multirun job's own overrides (too long a name asks for a sweep_name)."""
    if not job_overrides:
        return checked_name("grid.name", grid_name)
    try:
        return checked_name("sweep_name", f"{grid_name} {job_overrides}")
    except InvalidValue as error:  # the name this multirun job would take by default
        raise InvalidValue(f"{error} (this multirun job's default: give sweep_name)") from None


def _file_models(models, score_model, start_dir) -> tuple[Any, dict[str, EmpiricalModel]]:
    """Load the predictions files ``grid.models`` lists: the entries become :class:`NamedModel`
    values for ``build_cells``, and the files' models are returned by name."""
    if not isinstance(models, list) or not any(is_file_entry(entry) for entry in models):
        return models, {}
    if score_model.grid_accuracies is not None:
        raise InvalidValue(
            f"grid.models lists predictions files and score_model={score_model.name}: a file is its own "
            "score model; use score_model=uniform (or beta) with files in grid.models"
        )
    entries, loaded = [], {}
    where_of: dict[str, str] = {}
    for index, entry in enumerate(models):
        if not is_file_entry(entry):
            entries.append(entry)
            continue
        where = f"grid.models[{index}]"
        name, model = file_entry(where, entry, start_dir=start_dir)
        if name in loaded:
            raise InvalidValue(
                f"{where}: the model name {name!r} is already {where_of[name]}'s; give each file its own "
                f"name, e.g. {{path: {model.predictions.path}, name: other}}"
            )
        loaded[name], where_of[name] = model, where
        entries.append(NamedModel(name, model.predictions.digest, *model.grid_accuracies))
    return entries, loaded


# Hydra's config files (the package's conf/ folder)
# An absolute path: found the same way under `python -m`, an editable install or a wheel.
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")
