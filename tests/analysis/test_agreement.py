"""Replicate summaries and loss-vs-metric agreement: hand-derived cases, scipy and brute-force cross-checks."""

import itertools
import math
import statistics
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import kendalltau

from imbalance_sweep import InvalidValue
from imbalance_sweep.analysis.agreement import (
    SCORE_REFERENCES,
    agreement,
    as_columns,
    metric_keys,
    replicate_summary,
)
from imbalance_sweep.analysis.report import CURVES_FIGURE, sweep_report
from imbalance_sweep.core.losses import LOSS_NAMES
from imbalance_sweep.core.metrics import LOWER_IS_BETTER, METRIC_NAMES, lower_is_better

REFERENCES = ("f1", "recall", "balanced_accuracy")


@pytest.fixture(scope="module")
def post_grid_rows(sweep_rows):
    """The post's question on a small grid: 1:1 and 1:100, four specificities x three recalls."""
    return sweep_rows(
        balances=[[2000, 2000], [20000, 200]], acc_0s=[0.9, 0.95, 0.98, 0.999], acc_1s=[0.5, 0.7, 0.9]
    )


def model_rows(losses, references, *, balance=(1000, 10), replicate=0):
    """One row per model at one balance: model i is (acc_0s=i/1000, acc_1s=0.5)."""
    return [
        {
            "num_0s": balance[0],
            "num_1s": balance[1],
            "acc_0s": index / 1000,
            "acc_1s": 0.5,
            "replicate": replicate,
            "loss/bce": float(loss),
            "f1": float(reference),
        }
        for index, (loss, reference) in enumerate(zip(losses, references, strict=True))
    ]


def brute_force_agreement(losses, references):
    """The definition, one pair at a time: reference ties left out, loss ties count half."""
    agreeing, compared = 0.0, 0
    for i, j in itertools.combinations(range(len(losses)), 2):
        if references[i] == references[j]:
            continue
        compared += 1
        if losses[i] == losses[j]:
            agreeing += 0.5
        elif (losses[i] < losses[j]) == (references[i] > references[j]):
            agreeing += 1
    return (agreeing / compared if compared else math.nan), compared


def only(table, **where):
    (match,) = [row for row in table if all(row[key] == value for key, value in where.items())]
    return match


# --- replicate_summary ---------------------------------------------------------------------------


def test_replicate_summary_hand_derived():
    rows = [
        {"num_0s": 10, "num_1s": 10, "acc_0s": 0.9, "acc_1s": 0.5, "replicate": r, "f1": f1, "loss/bce": loss}
        for r, (f1, loss) in enumerate([(1.0, 0.3), (2.0, 0.3), (4.0, 0.3)])
    ] + [
        {
            "num_0s": 30,
            "num_1s": 10,
            "acc_0s": 0.9,
            "acc_1s": 0.5,
            "replicate": 0,
            "f1": 0.25,
            "loss/bce": 0.5,
        }
    ]
    first, second = replicate_summary(rows)
    assert (first["num_0s"], first["num_1s"], first["acc_0s"], first["acc_1s"]) == (10, 10, 0.9, 0.5)
    assert first["n_replicates"] == 3 and first["prevalence"] == 0.5
    assert first["f1_mean"] == pytest.approx(7 / 3)
    assert first["f1_std"] == pytest.approx(math.sqrt(7 / 3))  # ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3
    assert first["loss/bce_std"] == pytest.approx(0.0, abs=1e-15)
    assert second == {
        "num_0s": 30,
        "num_1s": 10,
        "acc_0s": 0.9,
        "acc_1s": 0.5,
        "prevalence": 0.25,
        "n_replicates": 1,
        "f1_mean": 0.25,
        "f1_std": 0.0,  # one replicate: no spread, not NaN
        "loss/bce_mean": 0.5,
        "loss/bce_std": 0.0,
    }


def test_replicate_summary_of_a_real_sweep_matches_statistics_module(sweep_rows):
    rows = sweep_rows(balances=[[300, 100]], acc_0s=[0.9, 0.6], acc_1s=[0.7], seeds=[0, 1, 2])
    summary = replicate_summary(rows)
    assert len(summary) == 2 and {entry["n_replicates"] for entry in summary} == {3}
    assert not any(key.startswith(("seed", "replicate", "backend")) for key in summary[0])
    for entry in summary:
        replicates = [
            row for row in rows if (row["acc_0s"], row["acc_1s"]) == (entry["acc_0s"], entry["acc_1s"])
        ]
        for metric in ("loss/bce", "loss/focal_tfa", "f1", "recall", "tp", "mcc"):
            values = [row[metric] for row in replicates]
            assert entry[f"{metric}_mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
            assert entry[f"{metric}_std"] == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-12)
            assert entry[f"{metric}_std"] > 0 or len(set(values)) == 1


def test_metric_keys_are_losses_and_metrics_only(post_grid_rows):
    keys = metric_keys(post_grid_rows)
    assert keys[: len(LOSS_NAMES)] == [f"loss/{name}" for name in LOSS_NAMES]
    assert "f1" in keys and "balanced_accuracy" in keys
    assert not {"num_0s", "acc_0s", "prevalence", "seed", "replicate", "backend"} & set(keys)


def test_replicate_summary_degenerate_inputs():
    assert replicate_summary([]) == []
    rows = model_rows([1.0, 2.0], [0.1, 0.2])
    del rows[1]["f1"]  # as in a sweep resumed across a release that added metrics
    summary = replicate_summary(rows)
    assert summary and all("f1" not in key for row in summary for key in row)
    with pytest.raises(InvalidValue, match="has no 'acc_0s'"):
        replicate_summary([{"num_0s": 1, "num_1s": 1, "f1": 0.5}])


# --- agreement: hand-derived -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("losses", "references", "expected_agreement", "expected_tau", "n_pairs", "n_loss_ties"),
    [
        # pairs (0,1) and (0,2) agree, (1,2) disagrees: 2/3; tau = (2 - 1) / 3
        ([3.0, 1.0, 2.0], [0.1, 0.2, 0.3], 2 / 3, 1 / 3, 3, 0),
        # (0,1) tied in the reference: left out; the other two agree; tau-b = 2 / sqrt(2 * 2)
        ([3.0, 3.0, 2.0], [0.1, 0.1, 0.3], 1.0, 1.0, 2, 0),
        # (0,1) tied in the loss only: counts half; tau-b = 2 / sqrt((3 - 1) * 3)
        ([2.0, 2.0, 1.0], [0.1, 0.2, 0.3], 2.5 / 3, 2 / math.sqrt(6), 3, 1),
        # the loss tied everywhere: every pair is half; tau-b undefined
        ([1.0, 1.0, 1.0], [0.1, 0.2, 0.3], 0.5, math.nan, 3, 3),
    ],
)
def test_agreement_hand_derived(losses, references, expected_agreement, expected_tau, n_pairs, n_loss_ties):
    (row,) = agreement(model_rows(losses, references), losses=["bce"], references=["f1"])
    assert row["pair_agreement"] == pytest.approx(expected_agreement)
    assert row["kendall_tau"] == pytest.approx(expected_tau, nan_ok=True)
    assert (row["n_pairs"], row["n_loss_ties"], row["n_models"]) == (n_pairs, n_loss_ties, 3)
    assert (row["num_0s"], row["num_1s"], row["loss"], row["reference"]) == (1000, 10, "bce", "f1")
    assert row["prevalence"] == pytest.approx(10 / 1010)


def test_agreement_uses_replicate_means():
    # Replicate 0 alone says model 0 has the lower loss; the means (3 vs 2) say model 1 does,
    # and model 1 has the higher F1: the pair agrees.
    rows = model_rows([1.0, 2.0], [0.1, 0.2], replicate=0) + model_rows([5.0, 2.0], [0.1, 0.2], replicate=1)
    (row,) = agreement(rows, losses=["bce"], references=["f1"])
    assert (row["pair_agreement"], row["kendall_tau"], row["n_models"]) == (1.0, 1.0, 2)
    (replicate_0,) = agreement(rows[:2], losses=["bce"], references=["f1"])
    assert replicate_0["pair_agreement"] == 0.0


def test_agreement_degenerate_cases():
    assert agreement([], losses=["bce"]) == []
    (single,) = agreement(model_rows([1.0], [0.5]), losses=["bce"], references=["f1"])
    assert math.isnan(single["pair_agreement"]) and math.isnan(single["kendall_tau"])
    assert (single["n_pairs"], single["n_models"]) == (0, 1)
    (constant,) = agreement(model_rows([1.0, 2.0, 3.0], [0.0] * 3), losses=["bce"], references=["f1"])
    assert math.isnan(constant["pair_agreement"]) and constant["n_pairs"] == 0
    with pytest.raises(InvalidValue, match="no cell has 'loss/hinge'"):
        agreement(model_rows([1.0], [0.5]), losses=["hinge"], references=["f1"])
    with pytest.raises(InvalidValue, match="no cell has 'precision'"):
        agreement(model_rows([1.0], [0.5]), losses=["bce"], references=["precision"])
    with pytest.raises(InvalidValue, match="non-empty list"):
        agreement(model_rows([1.0], [0.5]), losses="bce")
    with pytest.raises(InvalidValue, match="f1 is NaN"):
        agreement(model_rows([1.0, 2.0], [0.5, math.nan]), losses=["bce"], references=["f1"])


def test_agreement_order_and_keys(post_grid_rows):
    table = agreement(post_grid_rows, losses=["bce", "brier"])
    assert [(r["num_0s"], r["loss"], r["reference"]) for r in table[:6]] == [
        (2000, "bce", "f1"),
        (2000, "bce", "recall"),
        (2000, "bce", "balanced_accuracy"),
        (2000, "brier", "f1"),
        (2000, "brier", "recall"),
        (2000, "brier", "balanced_accuracy"),
    ]
    assert len(table) == 2 * 2 * 3
    assert list(table[0]) == [
        "num_0s",
        "num_1s",
        "prevalence",
        "loss",
        "reference",
        "pair_agreement",
        "kendall_tau",
        "n_pairs",
        "n_loss_ties",
        "n_models",
    ]
    assert agreement(post_grid_rows, losses=["loss/bce"]) == agreement(post_grid_rows, losses=["bce"])


# --- agreement: cross-checks ---------------------------------------------------------------------


def test_agreement_on_a_real_sweep_matches_brute_force_and_scipy(post_grid_rows):
    for row in agreement(post_grid_rows, losses=LOSS_NAMES, references=REFERENCES):
        cells = [r for r in post_grid_rows if (r["num_0s"], r["num_1s"]) == (row["num_0s"], row["num_1s"])]
        losses = [cell[f"loss/{row['loss']}"] for cell in cells]
        references = [cell[row["reference"]] for cell in cells]
        expected_agreement, compared = brute_force_agreement(losses, references)
        assert row["pair_agreement"] == pytest.approx(expected_agreement, abs=1e-12)
        assert row["n_pairs"] == compared and row["n_models"] == 12
        expected_tau = kendalltau(-np.array(losses), references).statistic  # tau-b is scipy's default
        assert row["kendall_tau"] == pytest.approx(expected_tau, abs=1e-12)


# Few distinct values, so ties in the loss, in the reference and in both are common.
tied_values = st.lists(st.integers(0, 4), min_size=2, max_size=14)


@given(data=st.data(), n_models=st.integers(2, 14))
def test_agreement_matches_brute_force_and_scipy(data, n_models):
    losses = data.draw(st.lists(st.integers(0, 4), min_size=n_models, max_size=n_models))
    references = data.draw(st.lists(st.integers(0, 4), min_size=n_models, max_size=n_models))
    (row,) = agreement(model_rows(losses, references), losses=["bce"], references=["f1"])
    expected_agreement, compared = brute_force_agreement(losses, references)
    assert row["n_pairs"] == compared
    assert row["pair_agreement"] == pytest.approx(expected_agreement, nan_ok=True, abs=1e-12)
    expected_tau = kendalltau(-np.array(losses, dtype=float), references).statistic
    assert row["kendall_tau"] == pytest.approx(expected_tau, nan_ok=True, abs=1e-12)


@given(references=tied_values)
def test_a_decreasing_function_of_the_reference_agrees_fully(references):
    rows = model_rows([-2.0 * r + 3.0 for r in references], references)
    (row,) = agreement(rows, losses=["bce"], references=["f1"])
    if len(set(references)) == 1:
        assert math.isnan(row["pair_agreement"]) and math.isnan(row["kendall_tau"])
    else:
        assert (row["pair_agreement"], row["kendall_tau"], row["n_loss_ties"]) == (1.0, 1.0, 0)
    reversed_rows = model_rows([2.0 * r for r in references], references)
    (reversed_row,) = agreement(reversed_rows, losses=["bce"], references=["f1"])
    if len(set(references)) > 1:
        assert (reversed_row["pair_agreement"], reversed_row["kendall_tau"]) == (0.0, -1.0)


@given(losses=tied_values, data=st.data())
def test_negating_the_loss_complements_agreement_and_flips_tau(losses, data):
    references = data.draw(st.lists(st.integers(0, 4), min_size=len(losses), max_size=len(losses)))
    (row,) = agreement(model_rows(losses, references), losses=["bce"], references=["f1"])
    (negated,) = agreement(model_rows([-x for x in losses], references), losses=["bce"], references=["f1"])
    if row["n_pairs"]:
        assert row["pair_agreement"] + negated["pair_agreement"] == pytest.approx(1.0)
    assert negated["kendall_tau"] == pytest.approx(-row["kendall_tau"], nan_ok=True)


@given(losses=tied_values, data=st.data())
def test_agreement_does_not_depend_on_row_order(losses, data):
    references = data.draw(st.lists(st.integers(0, 4), min_size=len(losses), max_size=len(losses)))
    rows = model_rows(losses, references)
    shuffled = data.draw(st.permutations(rows))
    (row,) = agreement(rows, losses=["bce"], references=["f1"])
    (row_shuffled,) = agreement(shuffled, losses=["bce"], references=["f1"])
    assert row_shuffled == pytest.approx(row, nan_ok=True)


# --- the post's finding --------------------------------------------------------------------------


def test_bce_stops_ranking_models_by_recall_when_positives_are_rare(post_grid_rows):
    """The post: on 1:1 BCE prefers the high-recall model, on 1:100 it does not.

    Across the grid's 66 pairs, BCE orders models as recall and balanced accuracy do on almost all
    pairs at prevalence 0.5, and on little more than a coin flip's share at prevalence ~0.01.
    Against F1 the drop does not show on this grid: at 1:100 F1 itself rewards specificity (the
    post's own pair has F1 0.63 vs 0.46, the low-recall model ahead), so BCE and F1 agree at both.
    """
    table = agreement(post_grid_rows, losses=["bce", "balanced_bce"])

    def bce(reference, num_1s):
        return only(table, loss="bce", reference=reference, num_1s=num_1s)["pair_agreement"]

    assert bce("recall", 2000) > 0.9 and bce("recall", 200) < 0.6
    assert bce("balanced_accuracy", 2000) > 0.9 and bce("balanced_accuracy", 200) < 0.7
    assert bce("f1", 2000) > 0.9 and bce("f1", 200) > 0.9
    assert abs(bce("f1", 2000) - bce("f1", 200)) < 0.1
    # balanced_bce, the post's fix by class weights, keeps ranking by recall on 1:100
    rare = only(table, loss="balanced_bce", reference="recall", num_1s=200)
    assert rare["pair_agreement"] > 0.9


# --- speed and table shape -----------------------------------------------------------------------


def test_agreement_of_a_dense_sweep_takes_well_under_a_second():
    rng = np.random.default_rng(0)
    accuracies = np.round(np.arange(1, 21) * 0.05, 2).tolist()
    rows = [
        {
            "num_0s": n0,
            "num_1s": n1,
            "acc_0s": a0,
            "acc_1s": a1,
            "replicate": 0,
            **{f"loss/{name}": rng.random() for name in LOSS_NAMES},
            **{name: rng.random() for name in REFERENCES},
        }
        for n0, n1 in [(10000, 10000), (90000, 10000), (190000, 10000), (990000, 10000), (999000, 1000)]
        for a0 in accuracies
        for a1 in accuracies
    ]
    start = time.perf_counter()
    table = agreement(rows, losses=LOSS_NAMES)
    elapsed = time.perf_counter() - start
    assert len(table) == 5 * len(LOSS_NAMES) * len(REFERENCES)
    assert {row["n_pairs"] for row in table} == {400 * 399 // 2}
    assert elapsed < 1.0


def test_as_columns():
    table = [{"loss": "bce", "pair_agreement": 0.5}, {"loss": "brier", "pair_agreement": 1.0}]
    assert as_columns(table) == {"loss": ["bce", "brier"], "pair_agreement": [0.5, 1.0]}
    assert as_columns([]) == {}
    with pytest.raises(InvalidValue, match=r"table\[1\] has keys"):
        as_columns([{"a": 1}, {"b": 2}])


# --- which way is better -------------------------------------------------------------------------


def test_which_way_is_better_is_said_once():
    assert all(lower_is_better(key) for key in ("loss/bce", "loss/focal_tfa", "ece", "lr_minus", "fp", "fn"))
    higher = (
        "f1",
        "recall",
        "roc_auc",
        "average_precision",
        "precision_at_recall",
        "lr_plus",
        "brier_skill",
        "tp",
    )
    assert not any(lower_is_better(key) for key in higher)
    assert set(METRIC_NAMES) >= LOWER_IS_BETTER


def reference_rows(losses, references, key):
    return [{**row, key: row.pop("f1")} for row in model_rows(losses, references)]


@given(
    losses=st.lists(st.integers(0, 3), min_size=2, max_size=8),
    data=st.data(),
)
def test_a_lower_is_better_reference_counts_its_lower_value_as_better(losses, data):
    """Agreement with the ECE is agreement with -ECE as a higher-is-better metric."""
    references = data.draw(st.lists(st.integers(0, 3), min_size=len(losses), max_size=len(losses)))
    (by_ece,) = agreement(reference_rows(losses, references, "ece"), losses=["bce"], references=["ece"])
    negated = [-value for value in references]
    (by_f1,) = agreement(reference_rows(losses, negated, "f1"), losses=["bce"], references=["f1"])
    for key in ("pair_agreement", "kendall_tau", "n_pairs", "n_loss_ties"):
        assert by_ece[key] == pytest.approx(by_f1[key], nan_ok=True)
    expected_agreement, _ = brute_force_agreement(losses, negated)
    assert by_ece["pair_agreement"] == pytest.approx(expected_agreement, nan_ok=True)


def test_a_loss_that_grows_with_the_ece_agrees_with_it_fully():
    (row,) = agreement(reference_rows([1, 2, 3], [0.1, 0.2, 0.3], "ece"), losses=["bce"], references=["ece"])
    assert (row["pair_agreement"], row["kendall_tau"]) == (1.0, 1.0)


def test_the_report_adds_the_new_references_after_the_others(post_grid_rows):
    tables, figures = sweep_report(post_grid_rows, losses=["bce", "brier"])
    before = as_columns(agreement(post_grid_rows, losses=["bce", "brier"]))
    table = tables["summary/agreement.json"]
    n_before = len(before["loss"])
    assert {key: column[:n_before] for key, column in table.items()} == before  # the rows of before, first
    assert list(dict.fromkeys(table["reference"][n_before:])) == list(SCORE_REFERENCES)
    assert len(table["loss"]) == n_before * (len(REFERENCES) + len(SCORE_REFERENCES)) // len(REFERENCES)
    charts = {path for path in figures if path.startswith("figures/agreement_")}
    assert charts == {f"figures/agreement_{name}.png" for name in (*REFERENCES, *SCORE_REFERENCES)}
    assert CURVES_FIGURE not in figures  # no models given


def test_a_report_over_older_cells_uses_the_references_every_cell_has(post_grid_rows):
    rows = [dict(row) for row in post_grid_rows]
    for name in ("roc_auc", "ece"):
        del rows[0][name]  # a cell of an older release
    tables, figures = sweep_report(rows, losses=["bce"])
    references = list(dict.fromkeys(tables["summary/agreement.json"]["reference"]))
    assert references == [*REFERENCES, "fbeta", "average_precision", "precision_at_recall"]
    assert "figures/agreement_ece.png" not in figures
