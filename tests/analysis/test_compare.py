"""Comparing sweeps: the pure alignment and table by hand, then end to end through a sqlite store."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import compare as compare_command
from imbalance_sweep.analysis.compare.alignment import compare_cells, ordered_metrics
from imbalance_sweep.analysis.compare.cell_keys import CellKey
from imbalance_sweep.analysis.compare.figure import comparison_figure
from imbalance_sweep.analysis.compare.printed import format_table
from imbalance_sweep.analysis.compare.record import comparison_key
from imbalance_sweep.analysis.compare.stored_sweeps import SelectedSweep, pick_by_name
from imbalance_sweep.app import run_sweep
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.tracking import where
from imbalance_sweep.tracking.runs import StoredRun
from imbalance_sweep.tracking.tags import COMPARISON_KEY_TAG, NOTE_TAG, ROLE_TAG, SAME_AS_TAG, SWEEP_TAG, Role

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Raised inside MlflowClient.log_table under pandas 3 for any table with a text column; not ours to fix.


def cell(n0, n1, a0, a1, metrics, *, replicate=0, seed=0, gamma=2.0):
    """A cell as its run holds it: params as strings, as MLflow returns them."""
    params = {
        "num_0s": str(n0),
        "num_1s": str(n1),
        "acc_0s": str(a0),
        "acc_1s": str(a1),
        "replicate": str(replicate),
        "seed": str(seed),
        "focal.gamma": str(gamma),
    }
    return {"params": params, "metrics": metrics}


# Sweep A ran cells k1, k2, k3; sweep B (another seed) ran k2, k3, k4. They coincide on k2 and k3.
# Values are binary fractions, so the differences below are exact.
SWEEP_A = [
    cell(100, 10, 0.9, 0.6, {"loss/bce": 0.5, "tp": 6, "tn": 90, "f1": 0.25}),  # k1
    cell(100, 10, 0.8, 0.7, {"loss/bce": 0.75, "tp": 7, "tn": 80, "f1": 0.5}),  # k2
    cell(50, 50, 0.9, 0.6, {"loss/bce": 0.25, "tp": 45, "tn": 5, "f1": 0.375}),  # k3
]
SWEEP_B = [
    cell(100, 10, 0.8, 0.7, {"loss/bce": 0.5, "tp": 7, "tn": 80, "f1": 0.5}, seed=1),  # k2
    cell(50, 50, 0.9, 0.6, {"loss/bce": 1.0, "tp": 40, "tn": 5, "f1": 0.125}, seed=1),  # k3
    cell(10, 1, 0.9, 0.6, {"loss/bce": 2.0, "tp": 1, "tn": 9, "f1": 1.0}, seed=1),  # k4
]
K2, K3 = CellKey(100, 10, 0.8, 0.7, 0), CellKey(50, 50, 0.9, 0.6, 0)


def test_sweeps_align_on_coinciding_cells_and_differ_by_b_minus_a():
    comparison = compare_cells([SWEEP_A, SWEEP_B])
    assert comparison.cells == (K3, K2)  # sorted: 50 negatives before 100
    assert comparison.n_cells == (3, 3)
    assert comparison.compared == ("loss/bce", "tp", "tn", "f1")
    assert comparison.differing == comparison.shown == ("loss/bce", "tp", "f1")
    assert comparison.settings == {"seed": ("0", "1")}
    # By hand: k3 then k2.  bce: 1.0-0.25, 0.5-0.75;  tp: 40-45, 7-7;  f1: 0.125-0.375, 0.5-0.5
    np.testing.assert_array_equal(comparison.differences("loss/bce"), [[0.75, -0.25]])
    assert comparison.summary() == {
        "n_cells_compared": 2,
        "n_metrics_compared": 4,
        "n_metrics_differing": 3,
        "max_abs_diff/loss/bce": 0.75,
        "mean_diff/loss/bce": 0.25,
        "max_abs_diff/tp": 5.0,
        "mean_diff/tp": -2.5,
        "max_abs_diff/tn": 0.0,
        "mean_diff/tn": 0.0,
        "max_abs_diff/f1": 0.25,
        "mean_diff/f1": -0.125,
    }
    rows = comparison.rows()
    assert [(row["metric"], row["num_0s"]) for row in rows] == [
        ("loss/bce", 50),
        ("loss/bce", 100),
        ("tp", 50),
        ("tp", 100),
        ("f1", 50),
        ("f1", 100),
    ]
    assert rows[0] == {
        "num_0s": 50,
        "num_1s": 50,
        "acc_0s": 0.9,
        "acc_1s": 0.6,
        "replicate": 0,
        "metric": "loss/bce",
        "A": 0.25,
        "B": 1.0,
        "B - A": 0.75,
    }
    assert rows[3] == {**K2._asdict(), "metric": "tp", "A": 7.0, "B": 7.0, "B - A": 0.0}


def test_the_printed_table_is_aligned():
    comparison = compare_cells([SWEEP_A, SWEEP_B], metrics=["tp", "f1"])
    assert format_table(comparison.columns, comparison.rows()) == "\n".join(
        [
            "num_0s  num_1s  acc_0s  acc_1s  replicate  metric      A      B  B - A",
            "------  ------  ------  ------  ---------  ------  -----  -----  -----",
            "    50      50     0.9     0.6          0  tp         45     40     -5",
            "   100      10     0.8     0.7          0  tp          7      7      0",
            "    50      50     0.9     0.6          0  f1      0.375  0.125  -0.25",
            "   100      10     0.8     0.7          0  f1        0.5    0.5      0",
        ]
    )


def test_large_counts_print_whole_and_small_differences_keep_their_digits():
    rows = [
        {"metric": "tn", "A": 1_000_000.0, "B": 999_990.0, "B - A": -10.0},
        {"metric": "loss/bce", "A": 0.3142364, "B": 0.3142364000012, "B - A": 1.2e-12},
    ]
    assert format_table(["metric", "A", "B", "B - A"], rows).splitlines() == [
        "metric           A         B    B - A",
        "--------  --------  --------  -------",
        "tn         1000000    999990      -10",
        "loss/bce  0.314236  0.314236  1.2e-12",
    ]


def test_asked_for_metrics_are_shown_even_when_equal_and_must_exist():
    comparison = compare_cells([SWEEP_A, SWEEP_B], metrics=["tn", "f1", "tn"])
    assert comparison.compared == comparison.shown == ("tn", "f1")
    assert comparison.differing == ("f1",)
    assert [row["metric"] for row in comparison.rows()] == ["tn", "tn", "f1", "f1"]
    with pytest.raises(
        InvalidValue,
        match=r"metrics: 'mcc' is not a metric of every coinciding cell; they hold: loss/bce, tp, tn, f1$",
    ):
        compare_cells([SWEEP_A, SWEEP_B], metrics=["f1", "mcc"])


def test_metrics_not_in_every_sweep_are_left_out_and_named():
    with_brier = [cell(100, 10, 0.8, 0.7, {**SWEEP_B[0]["metrics"], "loss/brier": 0.125}, seed=1)]
    comparison = compare_cells([SWEEP_A, with_brier])
    assert comparison.not_shared == ("loss/brier",)
    assert "loss/brier" not in comparison.compared
    assert comparison.differing == ("loss/bce",)


def test_three_sweeps_are_each_compared_with_the_first():
    sweep_c = [cell(50, 50, 0.9, 0.6, {"loss/bce": 0.25, "tp": 45, "tn": 6, "f1": 0.375}, gamma=1.0)]
    comparison = compare_cells([SWEEP_A, SWEEP_B, sweep_c])
    assert comparison.cells == (K3,)
    assert comparison.columns[-5:] == ["A", "B", "C", "B - A", "C - A"]
    assert comparison.settings == {"seed": ("0", "1", "0"), "focal.gamma": ("2.0", "2.0", "1.0")}
    assert comparison.differing == ("loss/bce", "tp", "tn", "f1")
    np.testing.assert_array_equal(comparison.differences("tn"), [[0.0], [1.0]])
    assert comparison.summary()["max_abs_diff/tp"] == 5.0
    assert comparison.summary()["mean_diff/tp"] == -2.5  # (40-45 + 45-45) / 2


def test_identical_sweeps_differ_in_nothing():
    comparison = compare_cells([SWEEP_A, SWEEP_A[1:]])
    assert comparison.differing == comparison.shown == () and comparison.rows() == []
    assert comparison.settings == {}
    assert all(value == 0 for key, value in comparison.summary().items() if "diff/" in key)


def test_cells_coincide_whatever_form_their_params_take():
    """MLflow returns params as strings; numbers written by hand align with them."""
    numeric = [
        {"params": {"num_0s": 100, "num_1s": 10, "acc_0s": 0.8, "acc_1s": 0.7}, "metrics": {"f1": 0.5}}
    ]
    assert compare_cells([numeric, SWEEP_A]).cells == (K2,)


@pytest.mark.parametrize(
    "sweeps, message",
    [
        ([SWEEP_A], "give at least 2 sweeps to compare, got 1"),
        (
            [SWEEP_A[:1], SWEEP_B[2:]],
            "the sweeps have no cell in common (A has 1, B has 1); cells coincide when their "
            "num_0s, num_1s, acc_0s, acc_1s, replicate are equal",
        ),
        (
            [SWEEP_A, [{"params": {"num_0s": "1"}, "metrics": {}}]],
            "sweep B has a cell run without the param 'num_1s'",
        ),
        (
            [SWEEP_A, SWEEP_A + SWEEP_A[:1]],
            "sweep B holds the cell n0=100 n1=10 a0=0.9 a1=0.6 twice; give a run id of one sweep",
        ),
    ],
)
def test_comparisons_that_cannot_be_made_say_why(sweeps, message):
    with pytest.raises(InvalidValue) as raised:
        compare_cells(sweeps)
    assert str(raised.value) == message


def test_the_figure_has_one_panel_per_shown_metric_and_renders_to_png():
    comparison = compare_cells([SWEEP_A, SWEEP_B])
    figure = comparison_figure(comparison, title="A vs B")
    assert [ax.get_title() for ax in figure.axes if ax.get_visible()] == ["loss/bce", "tp", "f1"]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(PNG_SIGNATURE)


def test_metrics_are_ordered_losses_first_then_prefixed_families():
    names = [
        "f1",
        "stderr/loss/bce",
        "expected/f1",
        "loss/brier",
        "tp",
        "custom",
        "loss/bce",
        "expected/loss/bce",
    ]
    assert ordered_metrics(names) == [
        "loss/bce",
        "loss/brier",
        "tp",
        "f1",
        "expected/loss/bce",
        "expected/f1",
        "stderr/loss/bce",
        "custom",
    ]


def top(run_id, name, status, start_time):
    return StoredRun(run_id, status, start_time, name, tags={SWEEP_TAG: name})


TOPS = [
    top("a1", "base", "FINISHED", 1_000),
    top("a2", "base", "FINISHED", 2_000),
    top("a3", "base", "FAILED", 3_000),
    top("b1", "other", "KILLED", 1_500),
]


def test_a_name_selects_its_most_recent_finished_run_and_says_so():
    run, how = pick_by_name("base", TOPS, where="in the store")
    assert run.run_id == "a2"
    assert how == "the most recent FINISHED of 3 sweeps named 'base', started 1970-01-01 00:00:02 UTC"


@pytest.mark.parametrize(
    "name, message",
    [
        ("nope", "no sweep named 'nope' and no run with that id; sweeps in the store: base (3 runs), other"),
        ("other", "sweep 'other' has no FINISHED run (its runs are KILLED); give a run id to compare one"),
    ],
)
def test_a_name_without_a_finished_run_is_an_error(name, message):
    with pytest.raises(InvalidValue) as raised:
        pick_by_name(name, TOPS, where="in the store")
    assert str(raised.value) == message


# --- End to end: sweeps logged by run_sweep, compared by main(), read back from MLflow --------

# `++report=false`: the sweep's own summary figures are not what is tested here, and cost a second
# per sweep; `++` sets the key whether or not the config has it.
GRID = ("grid.balances=[[3000,30],[500,500]]", "losses=[bce,focal_tfa,brier]", "++report=false")


@pytest.fixture
def store(tracking_uri, tmp_path, monkeypatch):
    """A fresh sqlite store whose artifacts land in tmp_path (MLflow puts them under the cwd)."""
    monkeypatch.chdir(tmp_path)
    return tracking_uri


@pytest.fixture
def sweep(make_spec, store):
    """Log a small sweep (4 cells of seed_blog's models) into the store; return its run id."""

    def log(*overrides):
        return run_sweep(make_spec(*GRID, *overrides, f"tracking_uri={store}"))

    return log


def comparison_runs(tracking_uri):
    client = MlflowClient(tracking_uri)
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    return client.search_runs(experiment_ids, f"tags.\"{ROLE_TAG}\" = '{Role.COMPARISON}'")


def stored_cells(tracking_uri, run_id):
    """A sweep's cells as MLflow holds them: (num_0s, num_1s, acc_0s, acc_1s, replicate) -> metrics."""
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    if run.data.tags[ROLE_TAG] == Role.CELL:
        children = [run]
    else:
        children = client.search_runs([run.info.experiment_id], f"tags.\"mlflow.parentRunId\" = '{run_id}'")
    return {
        tuple(
            kind(child.data.params[key])
            for key, kind in [
                ("num_0s", int),
                ("num_1s", int),
                ("acc_0s", float),
                ("acc_1s", float),
                ("replicate", int),
            ]
        ): child.data.metrics
        for child in children
    }


def expected_differences(tracking_uri, run_a, run_b):
    """max |B - A| per metric over the coinciding cells, computed from the stored runs."""
    cells_a, cells_b = stored_cells(tracking_uri, run_a), stored_cells(tracking_uri, run_b)
    common = set(cells_a) & set(cells_b)
    metrics = set.intersection(*(set(cells[key]) for cells in (cells_a, cells_b) for key in common))
    return common, {
        metric: max(abs(cells_b[key][metric] - cells_a[key][metric]) for key in common) for metric in metrics
    }


def read_artifacts(tracking_uri, run_id, destination):
    client = MlflowClient(tracking_uri)
    paths = {artifact.path for artifact in client.list_artifacts(run_id)}
    with open(client.download_artifacts(run_id, "comparison.csv", str(destination)), newline="") as table:
        rows = list(csv.DictReader(table))
    with open(client.download_artifacts(run_id, "comparison.png", str(destination)), "rb") as image:
        png = image.read()
    return paths, rows, png


def test_two_seeds_compare_cell_by_cell_and_the_run_holds_the_differences(sweep, store, capsys, tmp_path):
    base, reseeded = sweep("seed=0", "sweep_name=base"), sweep("seed=1", "sweep_name=reseeded")
    assert compare_command.main(["base", "reseeded", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    assert f"A = base: sweep 'base', run {base} (the only sweep named 'base', started " in out
    assert "differs: seed: A=0 B=1" in out and "cells in common: 4" in out

    [run] = comparison_runs(store)
    assert run.info.status == "FINISHED" and run.info.run_name == "compare base vs reseeded"
    assert f"logged the comparison as run {run.info.run_id}" in out
    params, metrics = run.data.params, run.data.metrics
    assert params["sweep.A.run_id"] == base and params["sweep.B.run_id"] == reseeded
    assert params["sweep.A"] == "base" and params["n_cells_compared"] == "4"
    assert params["differs.seed"] == "A=0 B=1"

    common, max_abs = expected_differences(store, base, reseeded)
    assert len(common) == 4 and metrics["n_cells_compared"] == 4
    for metric, difference in max_abs.items():
        assert metrics[f"max_abs_diff/{metric}"] == difference, metric
    differing = {metric for metric, difference in max_abs.items() if difference != 0}
    assert {"loss/bce", "loss/focal_tfa", "loss/brier"} <= differing
    assert metrics["n_metrics_differing"] == len(differing)

    paths, rows, png = read_artifacts(store, run.info.run_id, tmp_path / "download")
    assert paths == {"comparison.csv", "comparison.json", "comparison.png"}
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    assert {row["metric"] for row in rows} == differing and len(rows) == 4 * len(differing)
    cells_a, cells_b = stored_cells(store, base), stored_cells(store, reseeded)
    for row in rows:
        key = (int(row["num_0s"]), int(row["num_1s"]), float(row["acc_0s"]), float(row["acc_1s"]), 0)
        a, b = cells_a[key][row["metric"]], cells_b[key][row["metric"]]
        assert (float(row["A"]), float(row["B"]), float(row["B - A"])) == (a, b, b - a)
    assert "num_0s  num_1s  acc_0s  acc_1s  replicate  metric" in out  # the printed table's header
    json_path = MlflowClient(store).download_artifacts(
        run.info.run_id, "comparison.json", str(tmp_path / "json")
    )
    with open(json_path) as table:
        logged_table = json.load(table)
    assert logged_table["columns"] == list(rows[0]) and len(logged_table["data"]) == len(rows)


def test_a_loss_setting_changes_only_the_losses_it_enters(sweep, store, capsys):
    base, gamma = sweep("sweep_name=base"), sweep("focal.gamma=1.0", "sweep_name=gamma1")
    assert compare_command.main(["base", "gamma1", "--tracking-uri", store]) == 0
    [run] = comparison_runs(store)
    assert run.data.params["differs.focal.gamma"] == "A=2.0 B=1.0"
    _, max_abs = expected_differences(store, base, gamma)
    differing = {metric for metric, difference in max_abs.items() if difference != 0}
    assert "loss/focal_tfa" in differing
    assert not differing & {"loss/bce", "loss/brier", "tp", "f1", "mcc"}  # same draw, same seed
    assert run.data.metrics["n_metrics_differing"] == len(differing)
    assert run.data.metrics["max_abs_diff/loss/bce"] == 0
    assert run.data.metrics["max_abs_diff/loss/focal_tfa"] == max_abs["loss/focal_tfa"] > 0


def test_partly_overlapping_grids_compare_where_cells_coincide(sweep, store, capsys, tmp_path):
    sweep("sweep_name=base")
    wider = sweep("grid.balances=[[500,500],[800,8]]", "seed=1", "sweep_name=wider")
    assert compare_command.main(["base", wider, "--tracking-uri", store, "--metrics", "f1,loss/bce"]) == 0
    [run] = comparison_runs(store)
    assert run.info.run_name == f"compare base vs wider@{wider[:8]}"
    assert run.data.params["n_cells_compared"] == "2" and run.data.params["sweep.B.n_cells"] == "4"
    assert run.data.params["metrics_compared"] == "f1,loss/bce"
    _, rows, _ = read_artifacts(store, run.info.run_id, tmp_path / "download")
    assert {(row["num_0s"], row["num_1s"]) for row in rows} == {("500", "500")}
    assert [row["metric"] for row in rows] == ["f1", "f1", "loss/bce", "loss/bce"]


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_a_name_is_its_most_recent_finished_run_and_an_id_exactly_that_run(sweep, store, capsys):
    # resume=false: three sweeps of one name (a plain re-run would resume, and change nothing)
    first = sweep("sweep_name=base")
    second, failed = sweep("sweep_name=base", "resume=false"), sweep("sweep_name=base", "resume=false")
    MlflowClient(store).set_terminated(failed, "FAILED")
    assert compare_command.main(["base", first, "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    assert f"A = base: sweep 'base', run {second} (the most recent FINISHED of 3 sweeps named 'base'" in out
    assert f"B = {first}: sweep 'base', run {first} (given by run id, FINISHED)" in out
    assert "no metric differs on the cells in common" in out  # same config and seed: bit for bit
    [run] = comparison_runs(store)
    assert run.info.run_name == f"compare base vs base@{first[:8]}"
    assert run.data.params["sweep.A.run_id"] == second
    assert run.data.metrics["n_metrics_differing"] == 0


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_a_one_cell_run_is_a_sweep_of_one_cell(sweep, store):
    sweep("sweep_name=base")
    sweep("grid=single", "grid.balances=[[500,500]]", "grid.models=[[0.98,0.9]]", "seed=2", "sweep_name=lone")
    assert compare_command.main(["lone", "base", "--tracking-uri", store]) == 0
    [run] = comparison_runs(store)
    assert run.data.params["n_cells_compared"] == "1" and run.data.params["sweep.A.n_cells"] == "1"


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_under_mlflow_run_the_comparison_logs_into_the_launched_run(sweep, store, monkeypatch):
    sweep("seed=0", "sweep_name=base")
    sweep("seed=1", "sweep_name=reseeded")
    client = MlflowClient(store)
    launched = client.create_run(client.create_experiment("launched")).info.run_id
    client.log_param(launched, "sweeps", "base reseeded")  # as `mlflow run -e compare` logs it
    monkeypatch.setenv("MLFLOW_RUN_ID", launched)
    assert compare_command.main(["--sweeps", "base reseeded", "--tracking-uri", store]) == 0
    [run] = comparison_runs(store)
    assert run.info.run_id == launched and run.info.status == "FINISHED"
    assert run.data.params["sweeps"] == "base reseeded" and run.data.params["n_cells_compared"] == "4"
    assert {artifact.path for artifact in client.list_artifacts(launched)} == {
        "comparison.csv",
        "comparison.json",
        "comparison.png",
    }


# --- A comparison made again re-uses its run ------------------------------------------------


def selected_sweep(run_id, cells):
    """A SelectedSweep as select_sweeps makes it, each cell given a run id of its own."""
    cells = tuple(
        StoredRun(f"{run_id}-{index}", "FINISHED", params=cell["params"], metrics=cell["metrics"])
        for index, cell in enumerate(cells)
    )
    run = StoredRun(run_id, "FINISHED", name=run_id)
    return SelectedSweep(run_id, run, "given by run id, FINISHED", False, cells, 0)


def test_the_key_names_the_sweeps_in_order_the_cells_compared_and_the_metrics_asked_for():
    a, b = selected_sweep("a", SWEEP_A), selected_sweep("b", SWEEP_B)

    def key(first, second, metrics=None):
        return comparison_key(
            [first, second], compare_cells([first.cell_values, second.cell_values]), metrics=metrics
        )

    assert key(a, b) == key(a, b) and len(key(a, b)) == 16 and int(key(a, b), 16) >= 0
    assert key(b, a) != key(a, b)  # the baseline is part of it
    assert key(a, b, ["f1"]) != key(a, b) != key(a, b, ["f1", "tp"]) != key(a, b, ["tp", "f1"])
    assert key(a, b, ["f1", "f1"]) == key(a, b, ["f1"])
    # a cell only one sweep ran is not compared, so not part of it; a cell both ran is
    extra = cell(7, 7, 0.5, 0.5, {"loss/bce": 1.0, "tp": 1, "tn": 1, "f1": 1.0})
    assert key(selected_sweep("a", [*SWEEP_A, extra]), b) == key(a, b)
    shared = cell(100, 10, 0.9, 0.6, {"loss/bce": 1.0, "tp": 1, "tn": 1, "f1": 1.0}, seed=1)  # k1
    assert key(a, selected_sweep("b", [*SWEEP_B, shared])) != key(a, b)


def summary_of(out):
    """The lines where.summary_lines printed at the end: from ``store:`` on."""
    lines = out.splitlines()
    return lines[next(index for index, line in enumerate(lines) if line.startswith("store:")) :]


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_comparing_the_same_sweeps_again_logs_nothing_new_and_names_the_earlier_run(sweep, store, capsys):
    sweep("seed=0", "sweep_name=base")
    sweep("seed=1", "sweep_name=reseeded")
    capsys.readouterr()
    assert compare_command.main(["base", "reseeded", "--tracking-uri", store]) == 0
    first_out = capsys.readouterr().out
    [run] = comparison_runs(store)
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    key = run.data.tags[COMPARISON_KEY_TAG]
    assert f"logged the comparison as run {run_id} ('compare base vs reseeded')" in first_out

    assert compare_command.main(["base", "reseeded", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    [again] = comparison_runs(store)
    assert again.info.run_id == run_id and again.data.tags[COMPARISON_KEY_TAG] == key
    assert "B = reseeded" in out and "cells in common: 4" in out  # the report is printed all the same
    [line] = [line for line in out.splitlines() if "already in run" in line]
    assert line.startswith(
        f"this comparison is already in run {run_id} ('compare base vs reseeded', started "
    )
    assert line.endswith("); nothing new logged")
    assert "logged the comparison as run" not in out
    database = store.removeprefix("sqlite:///")
    for printed in (first_out, out):
        summary = summary_of(printed)
        assert summary[:3] == [
            f"store:      {database}",
            f"experiment: imbalance-sweep (id {experiment_id})",
            f"run:        {run_id} (comparison of 2 sweeps)",
        ]
        assert summary[-1].strip() == where.run_url(store, experiment_id, run_id)
    # given by run id, or with other metrics: the same run ids keep the key; other metrics do not
    base_id = run.data.params["sweep.A.run_id"]
    assert compare_command.main([base_id, "reseeded", "--tracking-uri", store]) == 0
    assert len(comparison_runs(store)) == 1
    assert compare_command.main(["base", "reseeded", "--tracking-uri", store, "--metrics", "f1"]) == 0
    assert len(comparison_runs(store)) == 2


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_a_sweep_that_gained_cells_is_compared_anew(sweep, store, capsys):
    sweep("seed=0", "sweep_name=base")
    grown = sweep("seed=1", "sweep_name=grown", "grid.balances=[[500,500]]")
    assert compare_command.main(["base", "grown", "--tracking-uri", store]) == 0
    [first] = comparison_runs(store)
    assert first.data.params["n_cells_compared"] == "2"
    # the full grid resumes into the same sweep run: two more cells, both coinciding with base's
    assert sweep("seed=1", "sweep_name=grown") == grown
    capsys.readouterr()
    assert compare_command.main(["base", "grown", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    runs = {run.info.run_id: run for run in comparison_runs(store)}
    [second] = set(runs) - {first.info.run_id}
    assert runs[second].data.params["n_cells_compared"] == "4"
    assert runs[second].data.params["sweep.B.run_id"] == grown
    assert runs[second].data.tags[COMPARISON_KEY_TAG] != first.data.tags[COMPARISON_KEY_TAG]
    assert f"logged the comparison as run {second}" in out and "already in run" not in out
    assert f"run:        {second} (comparison of 2 sweeps)" in out


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_under_mlflow_run_a_repeat_points_the_launched_run_to_the_earlier_one(
    sweep, store, monkeypatch, capsys
):
    sweep("seed=0", "sweep_name=base")
    sweep("seed=1", "sweep_name=reseeded")
    assert compare_command.main(["base", "reseeded", "--tracking-uri", store]) == 0
    [earlier] = comparison_runs(store)
    client = MlflowClient(store)
    launched = client.create_run(earlier.info.experiment_id).info.run_id  # as `mlflow run -e compare` does
    client.log_param(launched, "sweeps", "base reseeded")
    monkeypatch.setenv("MLFLOW_RUN_ID", launched)
    capsys.readouterr()
    assert compare_command.main(["--sweeps", "base reseeded", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out

    run = client.get_run(launched)
    tags = run.data.tags
    assert run.info.status == "FINISHED" and run.info.run_name == "compare base vs reseeded"
    assert tags[ROLE_TAG] == Role.COMPARISON and tags[SAME_AS_TAG] == earlier.info.run_id
    assert tags[NOTE_TAG].startswith(
        f"This comparison is already in run {earlier.info.run_id} ('compare base vs reseeded', started "
    )
    assert COMPARISON_KEY_TAG not in tags  # never taken for the comparison itself
    assert client.list_artifacts(launched) == [] and run.data.metrics == {}
    assert run.data.params == {"sweeps": "base reseeded"}
    assert {r.info.run_id for r in comparison_runs(store)} == {earlier.info.run_id, launched}
    assert f"already in run {earlier.info.run_id} " in out
    assert out.splitlines()[-1].strip() == where.run_url(
        store, earlier.info.experiment_id, earlier.info.run_id
    )
    assert launched in out

    # a later repeat still names the run that holds the comparison, not the one pointing at it
    monkeypatch.delenv("MLFLOW_RUN_ID")
    assert compare_command.main(["base", "reseeded", "--tracking-uri", store]) == 0
    assert f"this comparison is already in run {earlier.info.run_id} " in capsys.readouterr().out
    assert len(comparison_runs(store)) == 2


USER_ERRORS = [
    (
        ["base", "nope"],
        "no sweep named 'nope' and no run with that id; sweeps in the store: base, far, reseeded",
    ),
    (["base"], "give at least 2 sweeps to compare, got 1: ['base']"),
    (
        ["base", "far"],
        "the sweeps have no cell in common (A has 4, B has 2); cells coincide when their "
        "num_0s, num_1s, acc_0s, acc_1s, replicate are equal",
    ),
    (
        ["base", "reseeded", "--metrics", "nope"],
        "metrics: 'nope' is not a metric of every coinciding cell; they hold: loss/bce, ",
    ),
    (
        ["base", "reseeded", "--experiment", "nope"],
        "--experiment='nope' is not an experiment; experiments: Default, imbalance-sweep",
    ),
    (["base", "reseeded", "--bogus"], "unrecognized arguments: --bogus"),
]


def test_user_errors_are_one_line_exit_2_and_no_comparison_run(sweep, store, capsys):
    """One store for all the cases: building sweeps is what takes the time."""
    sweep("seed=0", "sweep_name=base")
    sweep("seed=1", "sweep_name=reseeded")
    sweep("grid.balances=[[7,7]]", "sweep_name=far")
    capsys.readouterr()  # MLflow's own log lines while the store was created
    for arguments, line in USER_ERRORS:
        assert compare_command.main([*arguments, "--tracking-uri", store]) == 2, arguments
        captured = capsys.readouterr()
        [error] = captured.err.splitlines()
        assert error.startswith(f"imbalance-sweep: error: {line}"), (arguments, error)
        assert captured.out == ""
    assert comparison_runs(store) == []


def test_the_same_sweep_twice_is_an_error(sweep, store, capsys):
    base = sweep("sweep_name=base")
    capsys.readouterr()
    assert compare_command.main(["base", base, "--tracking-uri", store]) == 2
    assert capsys.readouterr().err == (
        f"imbalance-sweep: error: 'base' and '{base}' select the same run {base}; compare at least 2 different sweeps\n"
    )


@pytest.mark.slow
def test_the_module_runs_as_a_command(sweep, store, tmp_path):
    sweep("seed=0", "sweep_name=base")
    sweep("seed=1", "sweep_name=reseeded")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    done = subprocess.run(
        [sys.executable, "-m", "imbalance_sweep.compare", "base", "reseeded", "--tracking-uri", store],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "B = reseeded" in done.stdout
    [run] = comparison_runs(store)
    assert run.info.status == "FINISHED"


def test_an_unclosed_quote_in_sweeps_is_one_line(capsys):
    assert compare_command.main(["--sweeps", "seed_blog 'other"]) == 2
    assert capsys.readouterr().err.strip() == (
        'imbalance-sweep: error: --sweeps="seed_blog \'other" cannot be split into names: No closing quotation'
    )
