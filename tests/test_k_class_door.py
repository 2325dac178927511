"""A K-class grid through the doors a person uses: ``python -m imbalance_sweep grid=long_tail`` (a
sweep, its re-run that computes nothing, a bad override's one line) and ``mlflow run . -e sweep -P
grid=long_tail``, read back from the store."""

import pytest
from helpers import finished_run_per_cell, mlflow_run, params, runs_by_role
from mlflow.tracking import MlflowClient

from imbalance_sweep.tracking.tags import Role

SMALL = (
    "grid.validation.0.per_class=20",
    "grid.validation.1.largest=200",
    "grid.validation.2.largest=200",
)


@pytest.mark.slow
def test_grid_long_tail_through_python_m_and_mlflow_run(start_module, tmp_path, tracking_uri):
    def run(*overrides):
        process = start_module(tmp_path, tracking_uri, "grid=long_tail", *SMALL, *overrides)
        out, err = process.communicate(timeout=300)
        return process.returncode, out, err

    code, out, err = run()
    assert code == 0, err
    assert "long_tail: 6 cells; 6 computed now, 0 already FINISHED" in out
    assert "balanced_accuracy" in out and "f1_macro" in out  # the K-class headline table
    runs = runs_by_role(tracking_uri)
    (parent,) = runs[Role.SWEEP]
    assert parent.info.status == "FINISHED" and len(finished_run_per_cell(runs[Role.CELL])) == 6
    assert "config.yaml" in [a.path for a in MlflowClient(tracking_uri).list_artifacts(parent.info.run_id)]

    code, out, err = run()  # again: every cell FINISHED already
    assert code == 0, err
    assert "long_tail: 6 cells; 0 computed now, 6 already FINISHED" in out

    code, out, err = run("multiclass.losses=[bce]")
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        "imbalance-sweep: error: multiclass.losses[0]='bce' is a binary loss; a K-class grid of "
        "grid.classes=10 takes: cce, categorical_focal, class_balanced, logit_adjusted, balanced_softmax, "
        "ldam, multiclass_brier"
    ]
    assert len(runs_by_role(tracking_uri)[Role.CELL]) == 6  # nothing logged

    done = mlflow_run(
        tracking_uri,
        "-e",
        "sweep",
        "--env-manager",
        "local",
        *params("grid=long_tail", f"overrides={' '.join(SMALL)} grid.classes=3 report=false"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    launched = [
        run
        for run in client.search_runs(experiments, max_results=1000)
        if run.data.tags.get("mlflow.project.entryPoint") == "sweep"
    ]
    assert len(launched) == 1 and launched[0].info.status == "FINISHED"
    parent = launched[0].info.run_id
    cells = client.search_runs([launched[0].info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(cells) == 6 and {run.data.params["classes"] for run in cells} == {"3"}
    assert {run.info.status for run in cells} == {"FINISHED"}
