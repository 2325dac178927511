"""The names of the tags this project sets or reads on MLflow runs, and the roles a run plays: the
one place they are spelled.

Sweeps, resume, compare, flip and the UI links all find runs by these; changing one would
orphan the runs of every existing store. It imports nothing of the package (nor mlflow): ``where``,
which every door prints with, reads it too."""

from enum import StrEnum

SWEEP_TAG = "imbalance_sweep.sweep"
ROLE_TAG = "imbalance_sweep.role"
SWEEP_KEY_TAG = "imbalance_sweep.sweep_key"
CELL_KEY_TAG = "imbalance_sweep.cell_key"
SHARD_COUNT_TAG = "imbalance_sweep.shard_count"
# On a run `mlflow run` created that found its work already begun: the run that holds the cells.
CONTINUES_TAG = "imbalance_sweep.continues"
CONTINUED_BY_TAG = "imbalance_sweep.continued_by"  # on that run: the latest launch that continued it
# The identity of a comparison (compare's comparison_key), and on a run that only points at an
# earlier comparison run (a repeat under `mlflow run`), that run's id.
COMPARISON_KEY_TAG = "imbalance_sweep.comparison_key"
SAME_AS_TAG = "imbalance_sweep.same_as"
MLFLOW_PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: a nested run's parent
RUN_NAME_TAG = "mlflow.runName"  # MLflow's own: the run's name
# On a sweep's parent, one per process that worked on it (host and pid): a process that finds
# another's tag reads the cells back at its end, and keeps one FINISHED run per cell.
WORKER_TAG_PREFIX = "imbalance_sweep.worker."
NOTE_TAG = "mlflow.note.content"  # MLflow's own: a run's description in the UI
# On a run `mlflow run` made for a command that refused its input: the one line it printed.
REFUSED_TAG = "imbalance_sweep.refused"

# Experiment tags. MLflow's marker of a model-training experiment, set on an experiment created here:
EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT = "mlflow.experimentKind", "custom_model_development"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."  # + a key: a prepared runs page of the UI (views.py)


class Role(StrEnum):
    """What a run stands for, as its ``ROLE_TAG`` holds it (the values are the stored strings)."""

    SWEEP = "sweep"  # a sweep's parent: a child run per cell
    CELL = "cell"  # one cell (under a sweep's parent, or alone: a one-cell sweep)
    LAUNCH = "launch"  # a launch that continued a sweep begun in another run (CONTINUES_TAG)
    FLIP = "flip"  # a flip command's result
    COMPARISON = "comparison"  # a compare command's result (or a pointer to an earlier one: SAME_AS_TAG)
