"""The metrics of issue 14 that need no ranking: fbeta and the class likelihood ratios at the
threshold, the skill scores and the expected calibration error, against scikit-learn on the same
arrays, with hand-derived values; and their settings, refused in one line when out of range."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import class_likelihood_ratios, d2_brier_score, d2_log_loss_score, fbeta_score

from imbalance_sweep import InvalidValue, evaluate, simulate
from imbalance_sweep.core.calibration import CalibrationBins, null_log_loss, skill_scores
from imbalance_sweep.core.metrics import MetricSettings, confusion_metrics, metric_settings


def sklearn_ece(y_true, y_pred, bins):
    """ECE from scikit-learn's calibration curve: its bins, weighted by their sizes."""
    prob_true, prob_pred = calibration_curve(y_true, y_pred, n_bins=bins, strategy="uniform")
    ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], y_pred)
    sizes = np.bincount(ids, minlength=bins)
    sizes = sizes[sizes > 0]
    return float(np.sum(sizes * np.abs(prob_true - prob_pred)) / len(y_pred))


def test_fbeta_and_likelihood_ratios_by_hand():
    # tp=6, fp=2, tn=8, fn=4: recall 0.6, specificity 0.8, precision 0.75
    values = confusion_metrics(tp=6, fp=2, tn=8, fn=4, beta=2.0)
    # F2 = 5 tp / (5 tp + 4 fn + fp) = 30 / (30 + 16 + 2) = 0.625
    assert values["fbeta"] == pytest.approx(0.625, rel=1e-15)
    assert values["lr_plus"] == pytest.approx(0.6 / 0.2, rel=1e-15)  # recall / (1 - specificity) = 3
    assert values["lr_minus"] == pytest.approx(0.4 / 0.8, rel=1e-15)  # (1 - recall) / specificity = 0.5


def test_zero_denominators_give_zero():
    no_false_positives = confusion_metrics(tp=3, fp=0, tn=5, fn=1)
    assert no_false_positives["lr_plus"] == 0.0
    assert confusion_metrics(tp=3, fp=5, tn=0, fn=1)["lr_minus"] == 0.0
    assert confusion_metrics(tp=0, fp=0, tn=5, fn=0)["fbeta"] == 0.0


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1, width=32)), min_size=2, max_size=300),
    st.sampled_from([0.5, 1.0, 2.0, 3.5]),
)
def test_fbeta_and_likelihood_ratios_equal_scikit_learn(samples, beta):
    y_true = np.array([label for label, _ in samples], dtype=int)
    y_pred = np.array([score for _, score in samples], dtype=np.float32)
    ours = evaluate(y_true, y_pred, beta=beta)
    predicted = (y_pred > 0.5).astype(int)
    assert ours["fbeta"] == pytest.approx(
        fbeta_score(y_true, predicted, beta=beta, zero_division=0), rel=1e-12, abs=1e-15
    )
    tp, fp = ours["tp"], ours["fp"]
    if 0 < fp < ours["fp"] + ours["tn"] and tp + ours["fn"] > 0 and ours["tn"] > 0:
        lr_plus, lr_minus = class_likelihood_ratios(y_true, predicted)
        assert ours["lr_plus"] == pytest.approx(lr_plus, rel=1e-12)
        assert ours["lr_minus"] == pytest.approx(lr_minus, rel=1e-12, abs=1e-15)


def test_skill_scores_by_hand():
    # prevalence 1/4: BCE_0 = -(0.25 ln 0.25 + 0.75 ln 0.75), Brier_0 = 0.1875
    null = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert null_log_loss(0.25) == pytest.approx(null, rel=1e-15)
    values = skill_scores(bce=null / 2, brier=0.1875 * 1.5, prevalence=0.25)
    assert values == pytest.approx({"log_loss_skill": 0.5, "brier_skill": -0.5}, rel=1e-14)
    assert skill_scores(bce=0.3, brier=0.1, prevalence=0.0) == {"log_loss_skill": 0.0, "brier_skill": 0.0}


def test_skill_scores_of_a_simulated_cell_equal_scikit_learn():
    y_true, y_pred = simulate(20_000, 0.9, 500, 0.7, seed=3)
    ours = evaluate(y_true, y_pred)
    # Keras's BCE is float32 per sample: agreement to float32 precision, not beyond
    assert ours["log_loss_skill"] == pytest.approx(d2_log_loss_score(y_true, y_pred), rel=1e-6)
    assert ours["brier_skill"] == pytest.approx(d2_brier_score(y_true, y_pred), rel=1e-6)


@pytest.mark.parametrize("bins", [1, 2, 10, 15, 40])
def test_ece_equals_scikit_learns_calibration_curve(bins):
    y_true, y_pred = simulate(30_000, 0.8, 3_000, 0.6, seed=bins)
    # scores on inner edges, where the bin rule matters: 0.5 is an edge for an even count of bins
    y_pred[:200] = np.float32(0.5)
    y_pred[-200:] = np.float32(0.5)
    ours = evaluate(y_true, y_pred, ece_bins=bins, chunk_size=4096)
    assert ours["ece"] == pytest.approx(sklearn_ece(y_true, y_pred, bins), rel=1e-9)


def test_ece_by_hand():
    # two bins; [0, 0.5]: scores 0.2 (neg), 0.4 (pos): |1 - 0.6| = 0.4; (0.5, 1]: 0.9 (pos): |1 - 0.9|
    bins = CalibrationBins(2)
    bins.add(0, np.array([0.2], dtype=np.float32))
    bins.add(1, np.array([0.4, 0.9], dtype=np.float32))
    # in float64 of the float32 scores (numpy 1's promotion would keep float32 arithmetic in float32)
    first, second, third = (float(np.float32(x)) for x in (0.2, 0.4, 0.9))
    expected = (abs(1 - (first + second)) + abs(1 - third)) / 3
    assert bins.ece() == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("beta", 0, "metrics.beta=0 is not a finite number > 0"),
        ("beta", math.inf, "metrics.beta=inf is not a finite number > 0"),
        ("recall", 0.0, "metrics.recall=0.0 is not a number in (0, 1]"),
        ("recall", 1.5, "metrics.recall=1.5 is not a number in (0, 1]"),
        ("recall", "high", "metrics.recall='high' is not a number in (0, 1]"),
        ("ece_bins", 0, "metrics.ece_bins=0 is not a whole number in [1, 1000000]"),
        ("ece_bins", 2.5, "metrics.ece_bins=2.5 is not a whole number in [1, 1000000]"),
        ("ece_bins", 10**7, "metrics.ece_bins=10000000 is not a whole number in [1, 1000000]"),
    ],
)
def test_bad_metric_settings_are_one_line(keyword, value, message):
    with pytest.raises(InvalidValue) as raised:
        metric_settings(**{keyword: value})
    assert str(raised.value) == message


def test_metric_settings_accept_the_spellings_people_type():
    assert metric_settings(beta=1, recall=0.5, ece_bins=1e1) == MetricSettings(1.0, 0.5, 10)


def test_average_precision_of_a_random_scorer_has_the_finite_size_bias_the_formula_gives():
    """Replicates of a random scorer (both classes uniform on [0, 1]) with R = 10 positives among
    N = 1,010: their mean AP is the finite-size value, not the population's prevalence."""
    from imbalance_sweep.core.cell import Cell
    from imbalance_sweep.core.evaluation import evaluate_cell
    from imbalance_sweep.core.losses import make_terms

    n, r, replicates = 1010, 10, 2000
    harmonic = sum(1.0 / k for k in range(1, n + 1))
    finite = (r - 1) / (n - 1) + harmonic * (n - r) / (n * (n - 1))
    assert finite == pytest.approx(0.0163, abs=5e-5)  # the value the issue states
    terms = make_terms("numpy", ["bce"], alpha=0.25, gamma=2.0)
    values = np.array(
        [
            evaluate_cell(
                Cell(n - r, r, 0.5, 0.5, replicate), seed=0, losses=["bce"], term_sums=terms, chunk_size=4096
            )["average_precision"]
            for replicate in range(replicates)
        ]
    )
    standard_error = values.std(ddof=1) / np.sqrt(replicates)
    assert abs(values.mean() - finite) < 4 * standard_error
    assert values.mean() - r / n > 10 * standard_error  # far from the population value, the prevalence


def test_metric_settings_in_the_config_enter_params_and_key_only_when_changed(make_spec):
    from imbalance_sweep.sweep.identity import sweep_key
    from imbalance_sweep.sweep.params import cell_params

    default = make_spec("grid=seed_blog")
    assert default.metrics == MetricSettings()
    same = make_spec("grid=seed_blog", "metrics.beta=2", "metrics.ece_bins=15.0")
    other = make_spec("grid=seed_blog", "metrics.recall=.5")
    assert sweep_key(same) == sweep_key(default) != sweep_key(other)
    params = cell_params(other.cells[0], other)
    assert (params["metrics.beta"], params["metrics.recall"], params["metrics.ece_bins"]) == (2.0, 0.5, 15)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("metrics.recall=1.5", "metrics.recall=1.5 is not a number in (0, 1]"),
        ("+metrics.bins=3", "metrics.bins is not a metrics key; its keys are: beta, recall, ece_bins"),
        ("metrics.ece_bins=ten", "metrics.ece_bins='ten' is not a whole number in [1, 1000000]"),
    ],
)
def test_bad_metric_settings_in_the_config_are_one_line(make_spec, override, message):
    with pytest.raises(InvalidValue) as raised:
        make_spec("grid=seed_blog", override)
    assert str(raised.value) == message


def test_a_files_expected_ranking_at_its_own_prevalence_is_scikit_learns_on_the_file(tmp_path):
    """Exact re-weighting at the file's own class sizes is the file itself."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    from imbalance_sweep import expected
    from imbalance_sweep.core.predictions import load_predictions
    from imbalance_sweep.core.score_models.empirical import EmpiricalModel

    rng = np.random.default_rng(5)
    labels = (rng.random(3000) < 0.05).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.3 * labels, 0.15), 0, 1).round(3).astype(np.float32)  # ties
    path = tmp_path / "p.csv"
    path.write_text("label,score\n" + "".join(f"{y},{s}\n" for y, s in zip(labels, scores, strict=True)))
    model = EmpiricalModel(load_predictions(str(path)))
    n1 = int(labels.sum())
    values = expected(3000 - n1, None, n1, None, score_model=model, losses=["bce"])
    file_scores = model.predictions.scores
    assert values["roc_auc"] == pytest.approx(roc_auc_score(labels, file_scores), rel=1e-12)
    assert values["average_precision"] == pytest.approx(
        average_precision_score(labels, file_scores), rel=1e-12
    )
    precision, recall, _ = precision_recall_curve(labels, file_scores)
    assert values["precision_at_recall"] == pytest.approx(precision[recall >= 0.9].max(), rel=1e-12)
    assert values["ece"] == pytest.approx(sklearn_ece(labels, file_scores, 15), rel=1e-9)
    # ROC AUC does not move with prevalence; average precision does
    rarer = expected(100 * (3000 - n1), None, n1, None, score_model=model, losses=["bce"])
    assert rarer["roc_auc"] == pytest.approx(values["roc_auc"], rel=1e-12)
    assert rarer["average_precision"] < values["average_precision"]


@settings(deadline=None, max_examples=60)
@given(
    st.integers(1, 200),
    st.lists(st.floats(0, 1, width=32), min_size=1, max_size=200),
    st.lists(st.integers(0, 199), max_size=20),
)
def test_the_bin_of_a_score_is_scikit_learns_searchsorted_over_the_edges(bins, scores, on_edges):
    """Including scores on an edge (as float32 can be) and next to one, on either side."""
    edges = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    scores = np.array(scores, dtype=np.float32)
    if bins > 1:
        near = np.float32(edges[[k % (bins - 1) for k in on_edges]])
        scores = np.concatenate(
            [scores, near, np.nextafter(near, np.float32(2)), np.nextafter(near, np.float32(-1))]
        )
        scores = np.clip(scores, 0, 1)
    # in float64, as numpy 2 compares them (numpy 1 would cast the edges to float32)
    assert (CalibrationBins(bins).bin_of(scores) == np.searchsorted(edges, scores.astype(np.float64))).all()
