"""The names of the tags this project sets on MLflow runs: the one place they are spelled.

Sweeps, resume, compare, flip and the UI links all find runs by these; changing one would
orphan the runs of every existing store."""

SWEEP_TAG = "imbalance_sweep.sweep"
ROLE_TAG = "imbalance_sweep.role"
SWEEP_KEY_TAG = "imbalance_sweep.sweep_key"
CELL_KEY_TAG = "imbalance_sweep.cell_key"
SHARD_COUNT_TAG = "imbalance_sweep.shard_count"
# On a run `mlflow run` created that found its work already begun: the run that holds the cells.
CONTINUES_TAG = "imbalance_sweep.continues"
CONTINUED_BY_TAG = "imbalance_sweep.continued_by"  # on that run: the latest launch that continued it
MLFLOW_PARENT_TAG = "mlflow.parentRunId"
# On a sweep's parent, one per process that worked on it (host and pid): a process that finds
# another's tag reads the cells back at its end, and keeps one FINISHED run per cell.
WORKER_TAG_PREFIX = "imbalance_sweep.worker."
NOTE_TAG = "mlflow.note.content"  # a run's description in the MLflow UI
# On a run `mlflow run` made for a command that refused its input: the one line it printed.
REFUSED_TAG = "imbalance_sweep.refused"
LAUNCH_ROLE = "launch"
