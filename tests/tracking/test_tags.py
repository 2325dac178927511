"""The tag names and role values are what every existing store holds: a change would orphan its runs."""

from mlflow.utils import mlflow_tags

from imbalance_sweep.tracking import tags
from imbalance_sweep.tracking.tags import Role


def test_roles_are_the_stored_strings():
    assert {role.name: str(role) for role in Role} == {
        "SWEEP": "sweep",
        "CELL": "cell",
        "LAUNCH": "launch",
        "FLIP": "flip",
        "COMPARISON": "comparison",
    }
    assert f"{Role.CELL}" == "cell" and Role("sweep") is Role.SWEEP


def test_the_project_tags_keep_their_names():
    names = {name: value for name, value in vars(tags).items() if name.endswith(("_TAG", "_PREFIX"))}
    assert names == {
        "SWEEP_TAG": "imbalance_sweep.sweep",
        "ROLE_TAG": "imbalance_sweep.role",
        "SWEEP_KEY_TAG": "imbalance_sweep.sweep_key",
        "CELL_KEY_TAG": "imbalance_sweep.cell_key",
        "SHARD_COUNT_TAG": "imbalance_sweep.shard_count",
        "CONTINUES_TAG": "imbalance_sweep.continues",
        "CONTINUED_BY_TAG": "imbalance_sweep.continued_by",
        "COMPARISON_KEY_TAG": "imbalance_sweep.comparison_key",
        "SAME_AS_TAG": "imbalance_sweep.same_as",
        "MLFLOW_PARENT_TAG": "mlflow.parentRunId",
        "RUN_NAME_TAG": "mlflow.runName",
        "WORKER_TAG_PREFIX": "imbalance_sweep.worker.",
        "NOTE_TAG": "mlflow.note.content",
        "REFUSED_TAG": "imbalance_sweep.refused",
        "EXPERIMENT_KIND_TAG": "mlflow.experimentKind",
        "VIEW_TAG_PREFIX": "mlflow.sharedViewState.",
    }


def test_mlflows_own_tags_are_spelled_as_mlflow_spells_them():
    assert tags.MLFLOW_PARENT_TAG == mlflow_tags.MLFLOW_PARENT_RUN_ID
    assert tags.RUN_NAME_TAG == mlflow_tags.MLFLOW_RUN_NAME
    assert tags.NOTE_TAG == mlflow_tags.MLFLOW_RUN_NOTE
