"""Heatmaps and the agreement chart: real PNGs, the right axes, and the numbers they draw."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from imbalance_sweep import InvalidValue
from imbalance_sweep.analysis.agreement import agreement, replicate_summary
from imbalance_sweep.analysis.figures import agreement_chart, heatmaps, percent
from imbalance_sweep.core.losses import LOSS_NAMES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BALANCES = [[2000, 2000], [20000, 200]]
ACC_0S = [0.9, 0.95, 0.98, 0.999]
ACC_1S = [0.5, 0.7, 0.9]


@pytest.fixture(scope="module")
def rows(sweep_rows):
    """Two balances x 12 models x 2 replicate seeds."""
    return sweep_rows(balances=BALANCES, acc_0s=ACC_0S, acc_1s=ACC_1S, seeds=(0, 1))


def assert_png(figure, path):
    figure.savefig(path)
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def heatmap_axes(figure):
    """The heatmap panels (colorbars are axes too)."""
    return [ax for ax in figure.axes if ax.images]


# --- heatmaps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["loss/bce", "loss/focal_tfa", "f1"])
def test_heatmaps_draw_one_panel_per_balance(rows, metric, tmp_path):
    figure = heatmaps(rows, metric=metric)
    assert isinstance(figure, Figure)
    assert_png(figure, tmp_path / "heatmap.png")
    panels = heatmap_axes(figure)
    assert len(panels) == len(BALANCES)
    assert [ax.get_title() for ax in panels] == [
        "prevalence 50 % (2,000 : 2,000)",
        "prevalence 0.99 % (20,000 : 200)",
    ]
    for ax in panels:
        assert ax.get_xlabel().startswith("acc_0s") and ax.get_ylabel().startswith("acc_1s")
        assert [label.get_text() for label in ax.get_xticklabels()] == ["0.9", "0.95", "0.98", "0.999"]
        assert [label.get_text() for label in ax.get_yticklabels()] == ["0.5", "0.7", "0.9"]
    assert "mean over 2 replicates" in figure.get_suptitle()


def test_heatmap_colours_are_replicate_means(rows):
    figure = heatmaps(rows, metric="loss/bce")
    means = {
        (entry["num_1s"], entry["acc_0s"], entry["acc_1s"]): entry["loss/bce_mean"]
        for entry in replicate_summary(rows, metrics=["loss/bce"])
    }
    for ax, (_, num_1s) in zip(heatmap_axes(figure), BALANCES, strict=True):
        image = ax.images[0].get_array()
        assert image.shape == (len(ACC_1S), len(ACC_0S))  # acc_1s up, acc_0s across
        for (row, column), value in np.ndenumerate(image):
            assert value == means[(num_1s, ACC_0S[column], ACC_1S[row])]
        replicate_values = [
            r["loss/bce"] for r in rows if (r["num_1s"], r["acc_0s"], r["acc_1s"]) == (num_1s, 0.999, 0.5)
        ]
        assert image[0, 3] == pytest.approx(np.mean(replicate_values))


def test_heatmaps_of_losses_put_the_best_on_top(rows):
    """Losses use the reversed colour map and an inverted colour bar: bright = better everywhere."""
    loss_figure, f1_figure = heatmaps(rows, metric="loss/bce"), heatmaps(rows, metric="f1")
    assert heatmap_axes(loss_figure)[0].images[0].get_cmap().name == "viridis_r"
    assert heatmap_axes(f1_figure)[0].images[0].get_cmap().name == "viridis"
    colorbar_axes = [ax for ax in loss_figure.axes if not ax.images]
    assert colorbar_axes and all(ax.yaxis_inverted() for ax in colorbar_axes)
    assert "lower is better" in colorbar_axes[0].get_ylabel()


def test_heatmaps_of_a_dense_grid_thin_their_ticks(sweep_rows, tmp_path):
    accuracies = np.round(np.arange(1, 21) * 0.05, 2).tolist()
    dense = sweep_rows(balances=[[200, 200]], acc_0s=accuracies, acc_1s=accuracies, losses=["bce"])
    figure = heatmaps(dense, metric="f1")
    (ax,) = heatmap_axes(figure)
    assert ax.images[0].get_array().shape == (20, 20)
    assert 3 <= len(ax.get_xticks()) <= 10
    assert not ax.texts  # 400 cells: no numbers written in them
    assert "value of each cell" in figure.get_suptitle()
    assert_png(figure, tmp_path / "dense.png")


def test_heatmaps_of_a_single_model_and_missing_models(sweep_rows, tmp_path):
    single = sweep_rows(balances=[[100, 10]], acc_0s=[0.9], acc_1s=[0.5], losses=["bce"])
    figure = heatmaps(single, metric="loss/bce")
    (ax,) = heatmap_axes(figure)
    assert ax.images[0].get_array().shape == (1, 1)
    assert [text.get_text() for text in ax.texts] == [f"{single[0]['loss/bce']:.3g}"]
    assert_png(figure, tmp_path / "single.png")
    # A balance that lacks one of the models leaves that cell blank (masked), not zero. The last
    # cell built is (acc_0s=0.8, acc_1s=0.7): the first column (accuracies ascend), the top row.
    partial = sweep_rows(balances=[[100, 10]], acc_0s=[0.9, 0.8], acc_1s=[0.5, 0.7], losses=["bce"])[:-1]
    image = heatmap_axes(heatmaps(partial, metric="f1"))[0].images[0].get_array()
    assert image.mask.tolist() == [[False, False], [True, False]]


def test_heatmaps_reject_what_they_cannot_draw(rows):
    with pytest.raises(InvalidValue, match="no cells"):
        heatmaps([], metric="f1")
    with pytest.raises(InvalidValue, match="metric='bce' is not a metric"):
        heatmaps(rows, metric="bce")


# --- agreement chart ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agreement_rows(rows):
    return agreement(rows, losses=LOSS_NAMES)


@pytest.mark.parametrize("reference", ["f1", "recall", "balanced_accuracy"])
def test_agreement_chart_axes_lines_and_png(agreement_rows, reference, tmp_path):
    figure = agreement_chart(agreement_rows, reference=reference)
    assert_png(figure, tmp_path / "agreement.png")
    (ax,) = figure.axes
    assert ax.get_xscale() == "log"
    assert ax.get_ylim() == (0.0, 1.0)
    assert "prevalence" in ax.get_xlabel()
    name = {"f1": "F1", "recall": "recall", "balanced_accuracy": "balanced accuracy"}[reference]
    assert ax.get_title() == f"How often does each loss rank two models the way {name} does?"
    legend_labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend_labels == [*LOSS_NAMES, "coin flip"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.99 %", "50 %"]
    for line in ax.get_lines()[: len(LOSS_NAMES)]:
        expected = sorted(
            (row["prevalence"], row["pair_agreement"])
            for row in agreement_rows
            if row["loss"] == line.get_label() and row["reference"] == reference
        )
        assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == expected


def test_agreement_chart_of_kendall_tau(agreement_rows):
    figure = agreement_chart(agreement_rows, reference="f1", statistic="kendall_tau")
    (ax,) = figure.axes
    assert ax.get_ylim() == (-1.0, 1.0) and ax.get_xscale() == "log"
    assert "Kendall" in ax.get_title() and "Kendall" in ax.get_ylabel()


def test_agreement_chart_of_a_single_balance_draws_points(sweep_rows, tmp_path):
    single_balance = agreement(
        sweep_rows(balances=[[2000, 2000]], acc_0s=ACC_0S, acc_1s=ACC_1S, losses=["bce", "brier"]),
        losses=["bce", "brier"],
    )
    figure = agreement_chart(single_balance)
    (ax,) = figure.axes
    assert [len(line.get_xdata()) for line in ax.get_lines()[:2]] == [1, 1]
    assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines()[:2])
    low, high = ax.get_xlim()
    assert low < 0.5 < high
    assert_png(figure, tmp_path / "one-balance.png")


def test_agreement_chart_is_none_when_no_pair_can_be_compared(sweep_rows):
    """A single model per balance has no pairs: every value is NaN, so there is no chart."""
    one_model_each = sweep_rows(balances=BALANCES, acc_0s=[0.9], acc_1s=[0.5], losses=["bce"])
    table = agreement(one_model_each, losses=["bce"])
    assert all(math.isnan(row["pair_agreement"]) for row in table)
    assert agreement_chart(table) is None
    assert agreement_chart([]) is None


def test_agreement_chart_leaves_out_undefined_points_and_says_so(agreement_rows):
    broken = [dict(row) for row in agreement_rows]
    for row in broken:
        if row["num_1s"] == 200:
            row["pair_agreement"] = math.nan
    (ax,) = agreement_chart(broken).axes
    assert all(len(line.get_xdata()) == 1 for line in ax.get_lines()[: len(LOSS_NAMES)])
    assert f"{len(LOSS_NAMES)} point(s) not shown" in ax.get_xlabel()


def test_agreement_chart_rejects_what_it_cannot_draw(agreement_rows):
    with pytest.raises(
        InvalidValue, match="reference='mcc' is not in the agreement rows; they have: f1, recall"
    ):
        agreement_chart(agreement_rows, reference="mcc")
    with pytest.raises(InvalidValue, match="statistic='tau'"):
        agreement_chart(agreement_rows, statistic="tau")


def test_percent():
    assert [percent(p) for p in (0.5, 0.1, 0.05, 0.01, 0.001, 200 / 20200)] == [
        "50 %",
        "10 %",
        "5 %",
        "1 %",
        "0.1 %",
        "0.99 %",
    ]
