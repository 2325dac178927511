"""ROC and precision-recall curves: a hand-derived uniform case, areas against the population ROC
AUC, a file's points against scikit-learn's, the figure's lines, and the sweep's parent run holding it."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.metrics import precision_recall_curve, roc_curve

from imbalance_sweep import InvalidValue, simulate
from imbalance_sweep.analysis.figures import MAX_CURVE_BALANCES, MAX_CURVE_MODELS, roc_pr_chart
from imbalance_sweep.analysis.report import CURVES_FIGURE, SweepModel, sweep_models, sweep_report
from imbalance_sweep.app import run_sweep
from imbalance_sweep.core.curves import precision_recall_points, roc_points
from imbalance_sweep.core.score_models.beta import BetaModel
from imbalance_sweep.core.score_models.empirical import file_entry
from imbalance_sweep.core.score_models.uniform import UNIFORM

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def area(fpr, tpr):
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def test_a_uniform_pair_by_hand():
    """acc (1, 0.5): negatives U(0, 0.5), positives U(0, 1). A threshold t in [0, 0.5] has
    FPR = 1 - 2t and TPR = 1 - t, so TPR = (1 + FPR) / 2; above 0.5, FPR = 0 and TPR = 1 - t <= 0.5.
    The area is 3/4. At t = 0.25 (FPR 0.5, TPR 0.75) precision at pi = 0.2 is 0.15 / 0.55."""
    fpr, tpr = roc_points(UNIFORM, 1.0, 0.5)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    positive_fpr = fpr > 0
    assert tpr[positive_fpr] == pytest.approx((1 + fpr[positive_fpr]) / 2, abs=1e-12)
    assert np.all(tpr[~positive_fpr] <= 0.5) and 0.5 in tpr[~positive_fpr]  # the corner (0, 0.5)
    assert area(fpr, tpr) == pytest.approx(0.75, abs=1e-12)
    recall, precision = precision_recall_points(fpr, tpr, 0.2)
    kept = fpr + tpr > 0  # (0, 0), above every score, predicts nothing positive
    assert recall.size == np.count_nonzero(kept) == fpr.size - 2  # above every score; at t = 1
    # the negatives' median, a threshold (through logits: to within rounding)
    (at_quarter,) = np.flatnonzero((abs(fpr[kept] - 0.5) < 1e-15) & (abs(tpr[kept] - 0.75) < 1e-15))
    assert (recall[at_quarter], precision[at_quarter]) == pytest.approx((0.75, 0.15 / 0.55), abs=1e-15)
    assert precision[recall <= 0.5] == pytest.approx(1.0)  # above every negative


@given(acc_0s=st.floats(0.0, 1.0), acc_1s=st.floats(0.0, 1.0))
def test_a_uniform_curve_is_exact_its_area_the_population_roc_auc(acc_0s, acc_1s):
    fpr, tpr = roc_points(UNIFORM, acc_0s, acc_1s)
    population = UNIFORM.score_metrics(acc_0s, acc_1s, 0.3, recall=0.9, ece_bins=15)["roc_auc"]
    assert area(fpr, tpr) == pytest.approx(population, abs=1e-12)


@pytest.mark.parametrize("concentration", [0.2, 2.0, 20.0])
@pytest.mark.parametrize(
    "accuracies", [(0.999, 0.5), (0.98, 0.9), (0.6, 0.9), (0.3, 0.2), (1.0, 0.5), (0.0, 1.0)]
)
def test_a_beta_curve_is_close_its_area_near_the_population_roc_auc(concentration, accuracies):
    model = BetaModel(concentration)
    fpr, tpr = roc_points(model, *accuracies)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    population = model.score_metrics(*accuracies, 0.3, recall=0.9, ece_bins=15)["roc_auc"]
    assert area(fpr, tpr) == pytest.approx(population, abs=2e-5)


def test_a_files_curves_are_scikit_learns(tmp_path):
    labels, scores = simulate(700, 0.9, 300, 0.7, seed=4)
    scores = np.round(scores, 2)  # ties
    path = tmp_path / "preds.csv"
    np.savetxt(path, np.column_stack([labels, scores]), delimiter=",", header="label,score", comments="")
    _, model = file_entry("model", str(path))
    fpr, tpr = roc_points(model, *model.grid_accuracies)
    file_labels, file_scores = model.predictions.labels, model.predictions.scores
    expected_fpr, expected_tpr, _ = roc_curve(file_labels, file_scores, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, expected_fpr)
    np.testing.assert_array_equal(tpr, expected_tpr)
    recall, precision = precision_recall_points(fpr, tpr, file_labels.mean())  # the file's own prevalence
    expected_precision, expected_recall, _ = precision_recall_curve(file_labels, file_scores)
    np.testing.assert_allclose(recall, expected_recall[:-1][::-1], rtol=0, atol=0)
    np.testing.assert_allclose(precision, expected_precision[:-1][::-1], rtol=1e-13)


def two_models(balances=((1000, 10), (100, 100))):
    return [
        SweepModel("high precision", UNIFORM, 0.999, 0.5, balances),
        SweepModel("high recall", UNIFORM, 0.98, 0.9, balances),
    ]


def test_the_figure_draws_each_models_points():
    figure = roc_pr_chart(two_models())
    roc_ax, *pr_axes = figure.axes
    assert len(pr_axes) == 2 and "0.99 %" in pr_axes[0].get_title() and "50 %" in pr_axes[1].get_title()
    for index, model in enumerate(two_models()):
        fpr, tpr = roc_points(UNIFORM, model.acc_0s, model.acc_1s)
        line = roc_ax.lines[index]
        assert line.get_label() == model.name
        np.testing.assert_array_equal(line.get_xdata(), fpr)
        np.testing.assert_array_equal(line.get_ydata(), tpr)
        for ax, prevalence in zip(pr_axes, (10 / 1010, 0.5), strict=True):
            recall, precision = precision_recall_points(fpr, tpr, prevalence)
            np.testing.assert_array_equal(ax.lines[index].get_xdata(), recall)
            np.testing.assert_array_equal(ax.lines[index].get_ydata(), precision)
            assert ax.lines[index].get_color() == line.get_color()


def test_the_figure_draws_a_few_of_many_models_and_balances_and_says_so(tmp_path):
    balances = tuple((1000, n1) for n1 in (1, 3, 10, 30, 100, 300, 1000))
    models = [SweepModel(f"m{i}", UNIFORM, 0.5 + i / 50, 0.9, balances) for i in range(20)]
    figure = roc_pr_chart(models)
    roc_ax, *pr_axes = figure.axes
    assert len(pr_axes) == MAX_CURVE_BALANCES
    drawn = [line.get_label() for line in roc_ax.lines[:-1]]  # the last: a random ranking's diagonal
    assert len(drawn) == MAX_CURVE_MODELS and drawn[0] == "m0" and drawn[-1] == "m19"
    assert "8 of 20 models, 5 of 7 balances drawn, evenly spaced" in figure.get_suptitle()
    figure.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(InvalidValue, match="no models"):
        roc_pr_chart([])


def test_the_report_draws_the_models_with_curves_and_no_others(sweep_rows):
    rows = sweep_rows(balances=[[1000, 10]], acc_0s=[0.9, 0.99], acc_1s=[0.6])
    without_laws = type("NoLaws", (), {"name": "nolaws"})()  # a score model without score laws
    models = [*two_models(), SweepModel("no laws", without_laws, 0.9, 0.6, ((1000, 10),))]
    _, figures = sweep_report(rows, losses=["bce"], models=models)
    (roc_ax, *_) = figures[CURVES_FIGURE].axes
    assert [line.get_label() for line in roc_ax.lines[:-1]] == ["high precision", "high recall"]
    _, figures = sweep_report(rows, losses=["bce"], models=models[2:])
    assert CURVES_FIGURE not in figures


def test_a_sweeps_models_are_its_distinct_models_with_their_balances(make_spec, tmp_path):
    labels, scores = simulate(90, 0.9, 10, 0.8, seed=1)
    path = tmp_path / "forest.csv"
    np.savetxt(path, np.column_stack([labels, scores]), delimiter=",", header="label,score", comments="")
    spec = make_spec(
        "grid=single",
        "grid.balances=[[1000,10],[50,50]]",
        f"grid.models=[[0.9,0.6],{path}]",
        "grid.seeds=[0,1]",
    )
    models = sweep_models(spec.cells, spec.model_of)
    assert [(m.name, m.balances) for m in models] == [
        ("a0=0.9 a1=0.6", ((1000, 10), (50, 50))),
        ("forest", ((1000, 10), (50, 50))),
    ]
    assert models[0].score_model is UNIFORM and models[1].score_model is spec.file_models["forest"]


def test_the_sweeps_parent_run_holds_the_curves(make_spec, tracking_uri, tmp_path):
    spec = make_spec(
        "grid=seed_blog", "mode=expected", "losses=[bce]", "report=all", f"tracking_uri={tracking_uri}"
    )
    parent_id = run_sweep(spec)
    client = MlflowClient(tracking_uri)
    figures = [artifact.path for artifact in client.list_artifacts(parent_id, "figures")]
    assert CURVES_FIGURE in figures
    assert {f"figures/agreement_{name}.png" for name in ("roc_auc", "average_precision", "ece")} <= set(
        figures
    )
    with open(client.download_artifacts(parent_id, CURVES_FIGURE, str(tmp_path)), "rb") as png:
        assert png.read(8) == PNG_SIGNATURE
