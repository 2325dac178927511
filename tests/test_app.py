"""Sweeps end to end in-process: what MLflow stores, failures, and bit-for-bit reproducibility."""

import csv
import dataclasses
import json

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import LOSS_NAMES, METRIC_NAMES, app
from imbalance_sweep.analysis.agreement import SCORE_REFERENCES
from imbalance_sweep.app import run_sweep
from imbalance_sweep.sweep import runner
from imbalance_sweep.tracking import where
from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, ROLE_TAG, SWEEP_TAG, Role

SMALL_BLOG = ("grid.balances=[[20000,200],[2000,2000]]",)


def runs_of(tracking_uri, experiment="imbalance-sweep"):
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client, client.search_runs([experiment_id], max_results=10_000)


def children_of(runs, parent_id):
    return [r for r in runs if r.data.tags.get(MLFLOW_PARENT_TAG) == parent_id]


def test_sweep_logs_a_parent_and_one_child_per_cell(make_spec, tracking_uri, tmp_path, logged_cell_metrics):
    spec = make_spec(*SMALL_BLOG, f"tracking_uri={tracking_uri}")
    parent_id = run_sweep(spec, config_text="seed: 0\n")
    client, runs = runs_of(tracking_uri)
    assert len(runs) == 5
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[SWEEP_TAG] == "seed_blog" and parent.data.tags[ROLE_TAG] == Role.SWEEP
    assert parent.data.params["n_cells"] == "4"
    assert parent.data.params["grid.balances"] == "[[20000,200],[2000,2000]]"
    assert sorted(a.path for a in client.list_artifacts(parent_id)) == [
        "answer.png",
        "cells.csv",
        "config.yaml",
        "figures",
        "summary",
    ]
    children = children_of(runs, parent_id)
    assert len(children) == 4
    table_path = client.download_artifacts(parent_id, "cells.csv", str(tmp_path))
    with open(table_path, newline="") as table_file:
        table_rows = list(csv.DictReader(table_file))
    assert {row["run_id"] for row in table_rows} == {child.info.run_id for child in children}
    for child in children:
        assert child.info.status == "FINISHED"
        params, metrics = child.data.params, child.data.metrics
        assert (
            child.info.run_name
            == f"n0={params['num_0s']} n1={params['num_1s']} a0={params['acc_0s']} a1={params['acc_1s']}"
        )
        cell = int(params["num_0s"]), float(params["acc_0s"]), int(params["num_1s"]), float(params["acc_1s"])
        assert float(params["prevalence"]) == cell[2] / (cell[0] + cell[2])
        # What MLflow stored equals, bit for bit, the public API on the same cell and seed.
        assert metrics == logged_cell_metrics(*cell, seed=0)
        row = next(row for row in table_rows if row["run_id"] == child.info.run_id)
        assert float(row["loss/bce"]) == metrics["loss/bce"]


def test_one_cell_is_one_run(make_spec, tracking_uri):
    spec = make_spec(
        "grid=single",
        "grid.balances=[[1000,10]]",
        "grid.models=[[0.9,0.6]]",
        "losses=[bce]",
        f"tracking_uri={tracking_uri}",
    )
    run_id = run_sweep(spec, config_text="seed: 0\n")
    client, runs = runs_of(tracking_uri)
    assert [a.path for a in client.list_artifacts(run_id)] == ["config.yaml"]
    assert [r.info.run_id for r in runs] == [run_id]
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "n0=1000 n1=10 a0=0.9 a1=0.6"
    assert "mlflow.parentRunId" not in run.data.tags
    assert run.data.params["losses"] == "bce"
    own = {"loss/bce", *METRIC_NAMES}
    assert set(run.data.metrics) == own | {f"expected/{k}" for k in own} | {"stderr/loss/bce"}
    assert run.data.metrics["tp"] + run.data.metrics["fn"] == 10


def test_an_existing_run_becomes_the_sweeps_parent(make_spec, tracking_uri):
    """As under `mlflow run`: the launched run is the parent, and its own params stay as they were."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("launched")
    launched = client.create_run(experiment_id).info.run_id
    client.log_param(launched, "grid", "seed_blog")
    client.log_param(launched, "seed", "0")
    spec = make_spec(*SMALL_BLOG, "losses=[brier]", f"tracking_uri={tracking_uri}")
    assert run_sweep(spec, existing_run_id=launched) == launched
    _, runs = runs_of(tracking_uri, "launched")
    assert len(children_of(runs, launched)) == 4
    parent = client.get_run(launched)
    assert parent.info.status == "FINISHED" and parent.data.params["n_cells"] == "4"


@pytest.mark.parametrize("error, status", [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_a_failing_cell_leaves_nothing_marked_finished_that_did_not_finish(
    make_spec, tracking_uri, monkeypatch, error, status
):
    real = runner.evaluate_cell
    calls = []

    def fail_on_second_cell(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_cell", fail_on_second_cell)
    spec = make_spec(*SMALL_BLOG, f"tracking_uri={tracking_uri}")
    with pytest.raises(type(error)):
        run_sweep(spec)
    _, runs = runs_of(tracking_uri)
    statuses = sorted(r.info.status for r in runs)
    assert statuses == sorted(["FINISHED", status, status])  # first cell, second cell, parent
    parent = next(r for r in runs if r.data.tags[ROLE_TAG] == Role.SWEEP)
    assert parent.info.status == status and "cells.csv" not in [
        a.path for a in MlflowClient(tracking_uri).list_artifacts(parent.info.run_id)
    ]


def test_cells_give_the_same_numbers_however_ordered_or_split(make_spec, tracking_uri):
    """A cell's numbers depend on the sweep seed and its own values only, not on its neighbours."""
    # report=false: the numbers are the point here, not the figures of three sweeps
    grid = (
        "grid.balances=[[3000,30],[500,500]]",
        "grid.models=[[0.9,0.6],[0.7,0.95],[1.0,0.0]]",
        "report=false",
    )
    run_sweep(make_spec(*grid, "seed=4", "sweep_name=whole", f"tracking_uri={tracking_uri}"))
    run_sweep(
        make_spec(
            *grid[::2],
            "grid.models=[[1.0,0.0],[0.7,0.95]]",
            "seed=4",
            "sweep_name=part",
            f"tracking_uri={tracking_uri}",
        )
    )
    run_sweep(
        make_spec(
            "grid.balances=[[500,500],[3000,30]]",
            "grid.models=[[0.9,0.6]]",
            "report=false",
            "seed=4",
            "sweep_name=reordered",
            f"tracking_uri={tracking_uri}",
        )
    )
    _, runs = runs_of(tracking_uri)
    by_sweep = {}
    for run in runs:
        if run.data.tags[ROLE_TAG] == Role.CELL:
            by_sweep.setdefault(run.data.tags[SWEEP_TAG], {})[run.info.run_name] = run.data.metrics
    whole = by_sweep.pop("whole")
    assert len(whole) == 6
    for sweep in by_sweep.values():
        for name, metrics in sweep.items():
            assert metrics == whole[name], name
    assert [len(by_sweep["part"]), len(by_sweep["reordered"])] == [4, 2]


def test_a_multirun_job_under_mlflow_run_nests_its_sweep(make_spec, tracking_uri):
    """Each job of a Hydra multirun launched by `mlflow run` nests its sweep under the launched run,
    which stays open for `mlflow run` to close."""
    client = MlflowClient(tracking_uri)
    launched = client.create_run(client.create_experiment("launched")).info.run_id
    spec = make_spec(*SMALL_BLOG, "losses=[bce]", f"tracking_uri={tracking_uri}")
    sweep_id = run_sweep(spec, parent_run_id=launched)
    _, runs = runs_of(tracking_uri, "launched")
    assert [r.info.run_id for r in children_of(runs, launched)] == [sweep_id]
    assert len(children_of(runs, sweep_id)) == 4
    assert client.get_run(launched).info.status == "RUNNING"
    assert client.get_run(sweep_id).info.status == "FINISHED"


def test_a_sweep_draws_the_figures_that_answer_its_question_by_default(make_spec, tracking_uri):
    """report=answer (the default): how often each loss ranks models as F1 does, and F1's heatmap;
    the tables whole; report=false: neither."""
    parent_id = run_sweep(make_spec(*SMALL_BLOG, "losses=[bce,brier]", f"tracking_uri={tracking_uri}"))
    client = MlflowClient(tracking_uri)
    assert {a.path for a in client.list_artifacts(parent_id, "figures")} == {
        "figures/agreement_f1.png",
        "figures/heatmap_f1.png",
    }
    assert {a.path for a in client.list_artifacts(parent_id, "summary")} == {
        "summary/agreement.json",
        "summary/headline.json",  # the parent page's table (analysis/answer.py)
        "summary/replicates.json",
    }
    quiet = run_sweep(make_spec(*SMALL_BLOG, "report=false", "seed=1", f"tracking_uri={tracking_uri}"))
    assert [a.path for a in client.list_artifacts(quiet)] == ["cells.csv"]  # no figures, no summary


def test_the_sweeps_report_is_logged_to_its_parent(make_spec, tracking_uri, tmp_path):
    """Heatmaps, agreement charts and the models' curves as PNGs, replicate and agreement summaries
    as MLflow tables."""
    spec = make_spec(*SMALL_BLOG, "grid.seeds=[0,1]", "report=all", f"tracking_uri={tracking_uri}")
    parent_id = run_sweep(spec)
    client = MlflowClient(tracking_uri)
    figures = {a.path: a.file_size for a in client.list_artifacts(parent_id, "figures")}
    references = ("f1", "recall", "balanced_accuracy", *SCORE_REFERENCES)
    assert set(figures) == {f"figures/heatmap_loss_{name}.png" for name in LOSS_NAMES} | {
        "figures/heatmap_f1.png",
        *(f"figures/agreement_{reference}.png" for reference in references),
        "figures/roc_pr_curves.png",
    }
    for path in figures:
        with open(client.download_artifacts(parent_id, path, str(tmp_path)), "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"

    def table(path):  # MLflow's table JSON: {"columns": [...], "data": [[...], ...]}
        with open(client.download_artifacts(parent_id, path, str(tmp_path))) as stored:
            content = json.load(stored)
        return [dict(zip(content["columns"], row, strict=True)) for row in content["data"]]

    agreement = table("summary/agreement.json")
    assert len(agreement) == 2 * len(LOSS_NAMES) * len(references)  # balances x losses x references
    # the three references of before first, then the new ones
    assert {row["reference"] for row in agreement[: 2 * len(LOSS_NAMES) * 3]} == set(references[:3])
    assert {row["n_models"] for row in agreement} == {2} and {row["n_pairs"] for row in agreement} <= {0, 1}
    replicates = table("summary/replicates.json")
    assert len(replicates) == 4 and {row["n_replicates"] for row in replicates} == {2}
    by_cell = {(r["num_0s"], r["acc_0s"], r["acc_1s"]): r for r in replicates}
    with open(client.download_artifacts(parent_id, "cells.csv", str(tmp_path)), newline="") as cells:
        table_rows = list(csv.DictReader(cells))
    for key, summary in by_cell.items():
        values = [
            float(r["loss/bce"])
            for r in table_rows
            if (int(r["num_0s"]), float(r["acc_0s"]), float(r["acc_1s"])) == key
        ]
        assert summary["loss/bce_mean"] == pytest.approx(np.mean(values), abs=1e-10)  # JSON keeps 10 decimals
        assert summary["loss/bce_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-10)


def test_a_sweep_ends_by_saying_where_it_is_with_each_cells_headline_values(make_spec, tracking_uri):
    spec = make_spec(*SMALL_BLOG, "losses=[brier,bce]", f"tracking_uri={tracking_uri}")
    outcome = app.execute_sweep(spec)
    lines = app.closing_lines(spec, outcome)
    _, runs = runs_of(tracking_uri)
    experiment_id = runs[0].info.experiment_id
    assert lines[:4] == [
        "seed_blog: 4 cells; 4 computed now, 0 already FINISHED",
        f"store:      {tracking_uri.removeprefix('sqlite:///')}",
        f"experiment: imbalance-sweep (id {experiment_id})",
        f"run:        {outcome.run_id} (sweep 'seed_blog', 4 cells)",
    ]
    assert f"cells:      {where.cells_url(tracking_uri, experiment_id, outcome.run_id)}" in lines
    assert f"sweeps:     {where.sweeps_url(tracking_uri, experiment_id)}" in lines
    assert lines[-2] == ""
    header, *rows = lines[-1].splitlines()
    assert header.split() == [
        "num_0s",
        "num_1s",
        "acc_0s",
        "acc_1s",
        "loss/brier",
        "loss/bce",
        "recall",
        "f1",
    ]
    printed = {tuple(row.split()[:4]): row.split()[4:] for row in rows}
    for child in children_of(runs, outcome.run_id):
        p, m = child.data.params, child.data.metrics
        values = [f"{m[key]:.4g}" for key in ("loss/brier", "loss/bce", "recall", "f1")]
        assert printed[(p["num_0s"], p["num_1s"], p["acc_0s"], p["acc_1s"])] == values
    again = app.execute_sweep(spec)  # complete: nothing computed, no table to print again
    assert again.run_id == outcome.run_id and (again.n_computed, again.n_already) == (0, 4)
    assert app.closing_lines(spec, again)[0] == "seed_blog: 4 cells; 0 computed now, 4 already FINISHED"


ODD_NAMES = [
    "it's",
    'say "cheese"',
    "back\\slash",
    "100% _done_",
    "both ' and \" and \\",
    "prévalence ≤ 1 % — Ω",
    "x" * 300,
]


@pytest.mark.slow  # a sweep, its resume and a compare for each of seven names: ~25 s in all
@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_any_sweep_name_runs_resumes_and_compares(make_spec, tracking_uri, capsys, name):
    """A name is a tag's value, never part of a search: quotes, backslashes, %, unicode, 300 characters."""
    from imbalance_sweep import compare

    spec = make_spec(
        *SMALL_BLOG, "losses=[bce]", "mode=expected", "report=false", f"tracking_uri={tracking_uri}"
    )
    named = dataclasses.replace(spec, name=name)  # as sweep_name=... gives it, past Hydra's quoting
    first = app.execute_sweep(named)
    again = app.execute_sweep(named)
    assert again.run_id == first.run_id and (again.n_computed, again.n_already) == (0, 4)
    client, _ = runs_of(tracking_uri)
    assert client.get_run(first.run_id).data.tags[SWEEP_TAG] == name
    other = app.execute_sweep(spec)
    capsys.readouterr()
    assert compare.main([name, "seed_blog", "--tracking-uri", tracking_uri]) == 0
    out = capsys.readouterr().out
    assert f"run {first.run_id}" in out and "no metric differs on the cells in common" in out
    assert other.run_id in out


def test_a_search_the_store_refuses_is_not_reported_as_an_unusable_store(tracking_uri):
    from imbalance_sweep.tracking.errors import TrackingError
    from imbalance_sweep.tracking.reader import RunReader

    reader = RunReader(tracking_uri)
    with pytest.raises(TrackingError) as refused:
        reader.search(["0"], "tags.x = ")
    assert str(refused.value).startswith(f"tracking_uri={tracking_uri!r} refused a request: ")
    assert reader.get("not a run id: it's a name") is None


def test_a_servers_refusals_say_what_to_do(monkeypatch):
    """401 and 403 as MLflow's client raises them: the credentials, or the permission."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED, UNAUTHENTICATED

    from imbalance_sweep.tracking.errors import TrackingError
    from imbalance_sweep.tracking.store_errors import store_errors

    uri = "http://127.0.0.1:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    refusals = {
        UNAUTHENTICATED: f"tracking_uri={uri!r} cannot be used: the server refused the credentials (HTTP 401)",
        PERMISSION_DENIED: f"tracking_uri={uri!r} refused a request: user 'reader' lacks the permission (HTTP 403)",
    }
    for code, start in refusals.items():
        with pytest.raises(TrackingError) as refused, store_errors(uri):
            raise MlflowException(
                "API request to endpoint /x failed with error code 4xx != 200", error_code=code
            )
        assert str(refused.value).startswith(start)
