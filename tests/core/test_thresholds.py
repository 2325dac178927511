"""Thresholds (issue 14, point 2): the confusion metrics at any threshold against scikit-learn on
``y_pred > t``; ``best:<metric>`` against a brute force over every candidate threshold; expected
mode at a threshold against hand-derived values, large sampled cells and a dense grid search; the
config's one-line errors; 0.5 leaving every key and name as it was; a sweep over grid.thresholds."""

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import assert_likelihood_ratios_within_their_rates
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

from imbalance_sweep import InvalidValue, evaluate, expected, simulate
from imbalance_sweep.app import execute_sweep, run_sweep
from imbalance_sweep.core.bootstrap import bootstrap_values
from imbalance_sweep.core.cell import Cell, cell_name
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.expectations import beside_sampled
from imbalance_sweep.core.losses import make_terms
from imbalance_sweep.core.metrics import CONFUSION_METRIC_NAMES
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.beta import BetaModel
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.core.thresholds import BEST_METRICS, TIE_RTOL, check_threshold, row_tops
from imbalance_sweep.sweep.identity import cell_key, sweep_key

BETA = 2.0


def sklearn_metric(metric, y_true, predicted, *, weights=None):
    """One of BEST_METRICS by scikit-learn, 0.0 where it divides by zero (as the project does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class only: scikit-learn warns, and averages what is there
        if metric == "f1":
            return f1_score(y_true, predicted, zero_division=0, sample_weight=weights)
        if metric == "fbeta":
            return fbeta_score(y_true, predicted, beta=BETA, zero_division=0, sample_weight=weights)
        if metric == "balanced_accuracy":
            return balanced_accuracy_score(y_true, predicted, sample_weight=weights)
        return matthews_corrcoef(y_true, predicted, sample_weight=weights)


def brute_force(metric, y_true, y_pred, *, weights=None):
    """Every threshold that can give other predictions, 0.0 and each distinct score, by scikit-learn
    on ``y_pred > t``; the best value and the smallest threshold that reaches it (ties as the rule)."""
    candidates = np.unique(np.concatenate(([0.0], y_pred.astype(np.float64))))
    values = np.array([sklearn_metric(metric, y_true, y_pred > t, weights=weights) for t in candidates])
    best = values.max()
    return best, float(candidates[np.flatnonzero(values >= best - TIE_RTOL * abs(best))[0]])


# scores on a few values tie; the others are any float32 in [0, 1]
scores = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0, 1, width=32))
samples = st.lists(st.tuples(st.booleans(), scores), min_size=1, max_size=120)


def arrays(drawn):
    y_true = np.array([label for label, _ in drawn], dtype=int)
    y_pred = np.array([score for _, score in drawn], dtype=np.float32)
    return y_true, y_pred


# --- sampled: a fixed threshold and best:<metric> against scikit-learn ------------------------------------


@settings(deadline=None, max_examples=60)
@given(samples, st.one_of(st.sampled_from([0.0, 0.25, 0.3, 0.75, 1.0]), st.floats(0, 1)))
def test_metrics_at_a_threshold_equal_scikit_learns_on_y_pred_above_it(drawn, threshold):
    y_true, y_pred = arrays(drawn)
    ours = evaluate(y_true, y_pred, threshold=threshold, chunk_size=7)
    predicted = y_pred > threshold  # numpy compares a float32 array with a Python float in float32
    assert (ours["tp"], ours["fn"]) == (np.sum(predicted & (y_true == 1)), np.sum(~predicted & (y_true == 1)))
    assert (ours["fp"], ours["tn"]) == (np.sum(predicted & (y_true == 0)), np.sum(~predicted & (y_true == 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = {
            "precision": precision_score(y_true, predicted, zero_division=0),
            "recall": recall_score(y_true, predicted, zero_division=0),
            "accuracy": accuracy_score(y_true, predicted),
        }
    for metric in BEST_METRICS:
        theirs[metric] = sklearn_metric(metric, y_true, predicted)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


@settings(deadline=None, max_examples=60)
@given(samples, st.sampled_from(BEST_METRICS))
def test_best_threshold_equals_a_brute_force_over_every_candidate(drawn, metric):
    y_true, y_pred = arrays(drawn)
    ours = evaluate(y_true, y_pred, threshold=f"best:{metric}", chunk_size=5)
    best, smallest = brute_force(metric, y_true, y_pred)
    assert ours[f"threshold/{metric}"] == smallest
    assert ours[metric] == pytest.approx(best, rel=1e-12, abs=1e-15)
    # the metrics logged are those at the threshold chosen, and no threshold between does better
    at_it = evaluate(y_true, y_pred, threshold=smallest)
    assert {key: ours[key] for key in CONFUSION_METRIC_NAMES} == {
        key: at_it[key] for key in CONFUSION_METRIC_NAMES
    }
    for t in np.random.default_rng(len(drawn)).random(12):  # 60 examples x 12: scikit-learn calls add up
        assert sklearn_metric(metric, y_true, y_pred > t) <= best + 1e-12


def test_tie_rule_the_smallest_threshold_reaching_the_best():
    # perfect separation: every threshold in [0.2, 0.7) gives F1 = 1; the smallest is 0.2, the
    # highest negative score (scores above it are predicted positive)
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0.1, 0.2, 0.7, 0.9], dtype=np.float32)
    ours = evaluate(y_true, y_pred, threshold="best:f1")
    assert ours["threshold/f1"] == float(np.float32(0.2)) and ours["f1"] == 1.0
    # every score above 0: the threshold 0.0 predicts them all positive, best for F1 here
    everything = evaluate(
        np.array([1, 1, 0]), np.array([0.3, 0.6, 0.9], dtype=np.float32), threshold="best:f1"
    )
    assert everything["threshold/f1"] == 0.0 and everything["tp"] == 2 and everything["fp"] == 1


def test_a_coarsened_table_chooses_among_its_bins_and_its_counts_are_exact():
    """More distinct scores than the table keeps (16 chunks' worth): the candidates are the bins'
    tops, and the counts at the threshold reported are those of the draw."""
    y_true, y_pred = simulate(3000, 0.8, 600, 0.7, seed=2)
    ours = evaluate(y_true, y_pred, threshold="best:mcc", chunk_size=8)  # 128 rows at most
    threshold = ours["threshold/mcc"]
    predicted = y_pred > threshold
    assert ours["tp"] == np.sum(predicted & (y_true == 1)) and ours["fp"] == np.sum(predicted & (y_true == 0))
    exact = evaluate(y_true, y_pred, threshold="best:mcc")
    assert ours["mcc"] <= exact["mcc"] and ours["mcc"] == pytest.approx(exact["mcc"], abs=0.02)


def test_row_tops_are_the_last_float32_of_each_bin():
    values = np.array([0.0, 0.25, 0.5, 1.0], dtype=np.float32).astype(np.float64)
    assert np.array_equal(row_tops(values), values)
    tops = row_tops(values, 4).astype(np.float32)
    below_next = (values.astype(np.float32).view(np.uint32) >> 4 << 4) + 15
    assert np.array_equal(tops[:-1].view(np.uint32), below_next[:-1]) and tops[-1] == 1.0


# --- expected mode --------------------------------------------------------------------------------------------


def test_expected_at_a_threshold_by_hand_under_the_uniform_model():
    # negatives (acc 0.8): U(0, 0.625); positives (acc 0.75): U(1/3, 1). At t = 0.375 (exact in float32):
    # tn = 1000 * 0.375 / 0.625 = 600, tp = 100 * (1 - 0.375) * 1.5 = 93.75
    exact = expected(1000, 0.8, 100, 0.75, threshold=0.375)
    assert exact["tn"] == pytest.approx(600, rel=1e-15) and exact["tp"] == pytest.approx(93.75, rel=1e-15)
    assert exact["f1"] == pytest.approx(187.5 / 593.75, rel=1e-14)  # 2 tp / (2 tp + fp + fn) = 6/19
    assert exact["specificity"] == pytest.approx(0.6, rel=1e-15)
    assert exact["stderr/recall"] == pytest.approx(np.sqrt(0.9375 * 0.0625 / 100), rel=1e-6)
    # best:f1 is at the positives' lowest score: everything above it is positive, F1 = 2 / (2 + 7/15)
    best = expected(1000, 0.8, 1000, 0.75, threshold="best:f1")
    assert best["threshold/f1"] == pytest.approx(1 / 3, rel=1e-15)
    assert best["f1"] == pytest.approx(30 / 37, rel=1e-14)
    assert "stderr/threshold/f1" not in best and best["stderr/f1"] > 0


def test_at_0_5_the_accuracies_are_the_models_own():
    for model in (None, BetaModel(0.7)):
        exact = expected(5000, 0.93, 500, 0.41, score_model=model, threshold=0.5)
        assert exact["specificity"] == 0.93 and exact["recall"] == 0.41
        assert exact == expected(5000, 0.93, 500, 0.41, score_model=model)


cutting = st.floats(0.02, 0.98)


@settings(deadline=None, max_examples=25)
@example(n0=5000, n1=5000, acc_0s=0.021484375, acc_1s=0.0, threshold=0.125, model=BetaModel(2.0), seed=0)
@given(
    n0=st.integers(5_000, 40_000),
    n1=st.integers(5_000, 40_000),
    acc_0s=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.02, 0.98)),
    acc_1s=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.02, 0.98)),
    threshold=cutting,
    model=st.sampled_from([None, BetaModel(), BetaModel(0.6)]),
    seed=st.integers(0, 1000),
)
def test_sampled_cells_at_a_threshold_fall_within_five_standard_errors(
    n0, n1, acc_0s, acc_1s, threshold, model, seed
):
    drawn = evaluate(*simulate(n0, acc_0s, n1, acc_1s, seed=seed, score_model=model), threshold=threshold)
    exact = expected(n0, acc_0s, n1, acc_1s, score_model=model, threshold=threshold)
    for key in CONFUSION_METRIC_NAMES:
        if key not in ("lr_plus", "lr_minus"):
            assert abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-9 * abs(exact[key]), key
    assert_likelihood_ratios_within_their_rates(drawn, exact)


def population_curve(model, acc_0s, acc_1s, n0, n1, grid):
    """Each metric at the population counts on a grid of thresholds, written out from the laws."""
    tn = n0 * model.score_distribution(0, acc_0s).cdf(grid)
    tp = n1 * (1.0 - model.score_distribution(1, acc_1s).cdf(grid))
    fp, fn = n0 - tn, n1 - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = {
            "f1": 2 * tp / (2 * tp + fp + fn),
            "fbeta": 5 * tp / (5 * tp + 4 * fn + fp),
            "balanced_accuracy": (tp / n1 + tn / n0) / 2,
            "mcc": (tp * tn - fp * fn) / np.sqrt((tp + fp) * n1 * n0 * (tn + fn)),
        }
    return {name: np.nan_to_num(curve) for name, curve in curves.items()}


@pytest.mark.parametrize("model", [BetaModel(), BetaModel(0.5), BetaModel(8.0), None])
@pytest.mark.parametrize(
    ("n0", "acc_0s", "n1", "acc_1s"), [(99_000, 0.97, 1_000, 0.6), (5_000, 0.7, 5_000, 0.85)]
)
def test_expected_best_beats_a_dense_grid_search(model, n0, acc_0s, n1, acc_1s):
    from imbalance_sweep.core.score_models.uniform import UNIFORM

    laws = model or UNIFORM
    grid = np.linspace(0.0, 1.0, 200_001)
    curves = population_curve(laws, acc_0s, acc_1s, n0, n1, grid)
    for metric in BEST_METRICS:
        exact = expected(n0, acc_0s, n1, acc_1s, score_model=model, threshold=f"best:{metric}")
        searched = curves[metric]
        assert exact[metric] >= searched.max() - 1e-12, metric
        assert exact[metric] == pytest.approx(searched.max(), abs=1e-4), metric  # a kink between grid points
        assert exact[f"threshold/{metric}"] == pytest.approx(grid[np.argmax(searched)], abs=2e-3), metric


def write_predictions(path, labels, scores):
    pq.write_table(pa.table({"label": labels, "score": scores}), path)
    return EmpiricalModel(load_predictions(path))


@pytest.fixture(scope="module")
def file_model(tmp_path_factory):
    rng = np.random.default_rng(11)
    labels = (rng.random(400) < 0.25).astype(np.int64)
    scores = np.where(labels == 1, rng.beta(2.5, 1.5, labels.size), rng.beta(1.2, 3, labels.size))
    scores = np.round(scores, 2)  # ties
    return write_predictions(tmp_path_factory.mktemp("thresholds") / "model.parquet", labels, scores)


@pytest.mark.parametrize("metric", BEST_METRICS)
@pytest.mark.parametrize(("n0", "n1"), [(9_000, 1_000), (100, 3_000)])
def test_a_files_expected_best_is_a_brute_force_over_its_reweighted_rows(file_model, metric, n0, n1):
    labels, scores = file_model.predictions.labels, file_model.predictions.scores
    weights = np.where(labels, n1 / labels.sum(), n0 / (~labels).sum())
    best, smallest = brute_force(metric, labels.astype(int), scores, weights=weights)
    exact = expected(n0, 0, n1, 0, score_model=file_model, threshold=f"best:{metric}")
    assert exact[f"threshold/{metric}"] == smallest
    assert exact[metric] == pytest.approx(best, rel=1e-12, abs=1e-15)


def test_a_files_expected_counts_at_a_threshold_are_its_reweighted_rows(file_model):
    labels, scores = file_model.predictions.labels, file_model.predictions.scores
    exact = expected(900, 0, 100, 0, score_model=file_model, threshold=0.3)
    assert exact["tn"] == pytest.approx(900 * np.mean(scores[~labels] <= 0.3), rel=1e-15)
    assert exact["tp"] == pytest.approx(100 * np.mean(scores[labels] > 0.3), rel=1e-15)


@pytest.mark.parametrize("threshold", [0.3, "best:f1"])
def test_bootstrap_replicates_at_a_threshold_are_the_resamples_evaluated_there(file_model, threshold):
    cell = Cell(800, 200, *file_model.grid_accuracies, 0, "model", file_model.predictions.digest, threshold)
    values = bootstrap_values(file_model, cell, seed=3, losses=["bce"], alpha=0.25, gamma=2.0, replicates=20)
    root = cell.seed_sequence(3)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(root.entropy, spawn_key=(2,)).spawn(2)]
    labels, scores = file_model.predictions.labels, file_model.predictions.scores
    pools = scores[~labels], scores[labels]
    for replicate in range(20):
        drawn = [
            np.repeat(pool, rng.multinomial(size, np.full(pool.size, 1 / pool.size)))
            for pool, rng, size in zip(pools, rngs, (800, 200), strict=True)
        ]
        y_true = np.r_[np.zeros(800), np.ones(200)]
        direct = evaluate(y_true, np.concatenate(drawn), threshold=threshold, losses=["bce"])
        for key in [*CONFUSION_METRIC_NAMES, *(["threshold/f1"] if threshold == "best:f1" else [])]:
            assert values[key][replicate] == direct[key], key


# --- the config, the API, keys and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["threshold=best:auc"],
            "threshold='best:auc' is not one of: best:f1, best:fbeta, best:balanced_accuracy, best:mcc "
            "or a number in [0, 1]",
        ),
        (["threshold=1.5"], "threshold=1.5 is outside [0, 1]"),
        (
            ["threshold=true"],
            "threshold=True is not one of: best:f1, best:fbeta, best:balanced_accuracy, "
            "best:mcc or a number in [0, 1]",
        ),
        (["grid.thresholds=[0.3,-0.1]"], "grid.thresholds[1]=-0.1 is outside [0, 1]"),
        (["grid.thresholds=[]"], "grid.thresholds=[] must be a non-empty list"),
        (
            ["grid.thresholds=[0.3,0.5]", "threshold=0.2"],
            "grid.thresholds and threshold=0.2 are both set: give one of them (grid.thresholds=[...] for several)",
        ),
    ],
)
def test_bad_thresholds_are_one_line(make_spec, overrides, message):
    with pytest.raises(InvalidValue) as raised:
        make_spec(*overrides)
    assert str(raised.value) == message


def test_the_api_refuses_a_bad_threshold_in_one_line():
    y_true, y_pred = np.array([0, 1]), np.array([0.2, 0.8], dtype=np.float32)
    with pytest.raises(InvalidValue, match=r"^threshold='best:recall' is not one of: best:f1, "):
        evaluate(y_true, y_pred, threshold="best:recall")
    with pytest.raises(InvalidValue, match=r"^threshold=-0.5 is outside \[0, 1\]$"):
        expected(100, 0.9, 10, 0.5, threshold=-0.5)
    assert check_threshold("threshold", 1) == 1.0 and check_threshold("threshold", -0.0) == 0.0


def test_the_default_leaves_names_keys_and_seeds_and_another_threshold_only_adds_to_them(make_spec):
    plain, default = Cell(1000, 10, 0.9, 0.6), Cell(1000, 10, 0.9, 0.6, threshold=0.5)
    cut, best = Cell(1000, 10, 0.9, 0.6, threshold=0.3), Cell(1000, 10, 0.9, 0.6, 2, threshold="best:mcc")
    assert plain == default and cell_key("k", plain) == cell_key("k", default)
    assert len({cell_key("k", cell) for cell in (plain, cut, best)}) == 3
    assert cut.name == "n0=1000 n1=10 a0=0.9 a1=0.6 t=0.3" and plain.name == cell_name(1000, 10, 0.9, 0.6)
    assert best.name == "n0=1000 n1=10 a0=0.9 a1=0.6 t=best:mcc rep=2"
    # the same draw, cut elsewhere: a threshold never enters a cell's seed
    assert cut.seed_sequence(4).entropy == plain.seed_sequence(4).entropy
    # thresholds are cells, not settings: the sweep keeps its key
    assert sweep_key(make_spec("threshold=0.3")) == sweep_key(make_spec())
    assert [cell.threshold for cell in make_spec().cells] == [0.5] * 4


def test_a_threshold_cuts_the_same_draw():
    terms = make_terms("numpy", ["bce"], alpha=0.25, gamma=2.0)
    at_half, at_cut = (
        evaluate_cell(
            Cell(2000, 300, 0.9, 0.7, threshold=t), seed=1, losses=["bce"], term_sums=terms, chunk_size=512
        )
        for t in (0.5, 0.2)
    )
    assert {k: v for k, v in at_half.items() if k not in CONFUSION_METRIC_NAMES} == {
        k: v for k, v in at_cut.items() if k not in CONFUSION_METRIC_NAMES
    }
    assert at_cut == evaluate(*simulate(2000, 0.9, 300, 0.7, seed=1), losses=["bce"], threshold=0.2)


def test_grid_thresholds_are_an_axis_of_the_cells(make_spec):
    spec = make_spec("grid.thresholds=[0.3,best:f1,0.5,0.30]")
    assert spec.thresholds == (0.3, "best:f1", 0.5)
    assert len(spec.cells) == 4 * 3
    assert [cell.threshold for cell in spec.cells[:3]] == [0.3, "best:f1", 0.5]


# --- a sweep through MLflow --------------------------------------------------------------------------------------


def cell_runs(tracking_uri, parent_id):
    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_id)
    runs = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'")
    return client, parent, {run.data.params["threshold"]: run for run in runs}


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_a_sweep_over_thresholds_logs_each_cell_and_reads_back(make_spec, tracking_uri, tmp_path):
    cell = ("grid=single", "grid.balances=[[3000,300]]", "grid.models=[[0.9,0.6],[0.8,0.7]]")
    spec = make_spec(*cell, "grid.thresholds=[0.3,0.5,best:f1]", "report=all", f"tracking_uri={tracking_uri}")
    client, parent, _ = cell_runs(tracking_uri, run_sweep(spec))
    assert parent.data.params["grid.thresholds"] == "[0.3,0.5,best:f1]"
    assert (
        len(
            client.search_runs(
                [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
            )
        )
        == 6
    )
    by_name = {run.info.run_name: run for run in client.search_runs([parent.info.experiment_id])}
    for threshold, suffix in ((0.3, " t=0.3"), (0.5, ""), ("best:f1", " t=best:f1")):
        run = by_name[f"n0=3000 n1=300 a0=0.9 a1=0.6{suffix}"]
        assert run.data.params["threshold"] == str(threshold)
        drawn = evaluate(*simulate(3000, 0.9, 300, 0.6, seed=0), threshold=threshold)
        exact = expected(3000, 0.9, 300, 0.6, threshold=threshold)
        assert run.data.metrics == {**drawn, **beside_sampled(exact)}
    best_run = by_name["n0=3000 n1=300 a0=0.9 a1=0.6 t=best:f1"]
    assert {"threshold/f1", "expected/threshold/f1"} <= set(best_run.data.metrics)
    # the report: tables with a threshold column, F1 and the agreement charts per threshold
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "figures")}
    assert {"figures/threshold_0.3", "figures/threshold_best_f1", "figures/heatmap_loss_bce.png"} <= artifacts
    f1_at = {item.path for item in client.list_artifacts(parent.info.run_id, "figures/threshold_0.3")}
    assert "figures/threshold_0.3/heatmap_f1.png" in f1_at
    # the 0.5 cells keep their keys: the same sweep without the axis has nothing left to compute
    again = execute_sweep(make_spec(*cell, f"tracking_uri={tracking_uri}"))
    assert (again.n_computed, again.n_already) == (0, 2)


def test_an_expected_sweep_at_best_mcc_logs_the_threshold(make_spec, tracking_uri):
    spec = make_spec(
        "grid=single",
        "grid.balances=[[99000,1000]]",
        "grid.models=[[0.97,0.6]]",
        "threshold=best:mcc",
        "mode=expected",
        "score_model=beta",
        f"tracking_uri={tracking_uri}",
    )
    run = MlflowClient(tracking_uri).get_run(run_sweep(spec))
    assert run.info.run_name == "n0=99000 n1=1000 a0=0.97 a1=0.6 t=best:mcc"
    assert run.data.params["threshold"] == "best:mcc"
    exact = expected(99000, 0.97, 1000, 0.6, threshold="best:mcc", score_model=BetaModel())
    assert run.data.metrics["threshold/mcc"] == exact["threshold/mcc"]
    assert (
        run.data.metrics["mcc"]
        == exact["mcc"]
        > expected(99000, 0.97, 1000, 0.6, score_model=BetaModel())["mcc"]
    )


# --- reading cells at several thresholds: compare and the report ----------------------------------------------


def stored(n0, threshold, f1, *, seed=0):
    params = {"num_0s": str(n0), "num_1s": "10", "acc_0s": "0.9", "acc_1s": "0.6", "seed": str(seed)}
    if threshold is not None:  # a run from before thresholds has no such param
        params["threshold"] = str(threshold)
    return {"params": params, "metrics": {"f1": f1}}


def test_compare_aligns_cells_on_their_threshold_too():
    from imbalance_sweep.analysis.compare.alignment import compare_cells
    from imbalance_sweep.analysis.compare.cell_keys import CellKey, CutCellKey

    old = [stored(100, None, 0.25), stored(100, 0.3, 0.125)]
    new = [
        stored(100, 0.5, 0.5, seed=1),
        stored(100, "0.30", 0.375, seed=1),
        stored(100, "best:f1", 1.0, seed=1),
    ]
    comparison = compare_cells([old, new])
    assert comparison.cells == (CellKey(100, 10, 0.9, 0.6, 0), CutCellKey(100, 10, 0.9, 0.6, 0, "", "0.3"))
    assert [(row["threshold"], row["B - A"]) for row in comparison.rows()] == [("0.5", 0.25), ("0.3", 0.25)]
    assert str(comparison.cells[1]) == "n0=100 n1=10 a0=0.9 a1=0.6 t=0.3"
    # sweeps all at 0.5 keep the columns they had
    assert "threshold" not in compare_cells([old[:1], new[:1]]).cell_fields


def test_the_report_compares_models_at_one_threshold():
    from imbalance_sweep.analysis.agreement import agreement, replicate_summary

    def row(acc_0s, threshold, bce, f1):
        return {
            "num_0s": 100,
            "num_1s": 10,
            "acc_0s": acc_0s,
            "acc_1s": 0.6,
            "threshold": threshold,
            "loss/bce": bce,
            "f1": f1,
        }

    # two models at two thresholds: bce agrees with f1 at 0.5, disagrees at 0.3
    rows = [
        row(0.9, 0.5, 0.2, 0.8),
        row(0.8, 0.5, 0.4, 0.6),
        row(0.9, 0.3, 0.2, 0.5),
        row(0.8, 0.3, 0.4, 0.7),
    ]
    table = agreement(rows, losses=["bce"], references=["f1"])
    assert [(entry["threshold"], entry["pair_agreement"], entry["n_models"]) for entry in table] == [
        ("0.5", 1.0, 2),
        ("0.3", 0.0, 2),
    ]
    summary = replicate_summary(rows, metrics=["f1"])
    assert [(entry["threshold"], entry["n_replicates"]) for entry in summary] == [("0.5", 1)] * 2 + [
        ("0.3", 1)
    ] * 2
    assert "threshold" not in agreement(rows[:2], losses=["bce"], references=["f1"])[0]
