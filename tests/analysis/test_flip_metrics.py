"""Flip points of the metrics of issue 14: which way is better, F-beta's line, the skill scores
flipping with their losses, ROC AUC and precision at recall never flipping, and average precision's
and the ECE's flips against brute-force scans of the population values (and scikit-learn's AP on
two files)."""

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from sklearn.metrics import average_precision_score

from imbalance_sweep import InvalidValue, simulate
from imbalance_sweep.analysis.flip import FlipSpec, describe, flip_spec, margins, run_flip
from imbalance_sweep.analysis.preference import SHOWN, Model, preferences
from imbalance_sweep.core.metrics import DEFAULT_METRICS, MetricSettings
from imbalance_sweep.core.score_models.uniform import UNIFORM
from imbalance_sweep.sweep.config import CONFIG_DIR

POST_A, POST_B = Model(0.999, 0.5), Model(0.98, 0.9)
# Average precision flips between these: A scores half its positives above every negative, B only
# 30 % of them (its negatives reach 0.83), so A leads while positives are rare; B ranks the rest of
# its positives far better, which wins once they are common.
AP_A, AP_B = Model(0.999, 0.5), Model(0.6, 0.9)
ACCURACY = st.floats(0.02, 1.0)
# The brute-force scan: a fine linear grid and a logit grid for the ends
SCAN = np.unique(
    np.concatenate([np.linspace(0.001, 0.999, 1997), 1 / (1 + np.exp(-np.linspace(-14, 14, 281)))])
)


def preference(a, b, metric, settings=DEFAULT_METRICS):
    (found,) = preferences(a, b, losses=[], metrics=[metric], alpha=0.25, gamma=2.0, settings=settings)
    return found


def population(model, prevalences):
    """Each score metric of a uniform model at each prevalence, straight from the score model."""
    values = [
        UNIFORM.score_metrics(model.acc_0s, model.acc_1s, pi, recall=0.9, ece_bins=15) for pi in prevalences
    ]
    return {name: np.array([v[name] for v in values]) for name in values[0]}


@pytest.fixture(scope="module")
def scanned():
    """The population values of the four models on the brute-force scan."""
    return {model: population(model, SCAN) for model in {POST_A, POST_B, AP_A, AP_B}}


def brute_force_brackets(better_a):
    """The scan's intervals across which "A is better" changes sign (exact zeros skipped)."""
    signs = np.sign(better_a)
    nonzero = np.flatnonzero(signs)
    changes = np.flatnonzero(signs[nonzero][:-1] != signs[nonzero][1:])
    return [(SCAN[nonzero[i]], SCAN[nonzero[i + 1]]) for i in changes]


def test_average_precision_flips_where_a_brute_force_scan_says(scanned):
    found = preference(AP_A, AP_B, "average_precision")
    ((low, high),) = brute_force_brackets(
        scanned[AP_A]["average_precision"] - scanned[AP_B]["average_precision"]
    )
    (flip,) = found.flips
    assert low <= flip <= high and 0.3 < flip < 0.45
    assert found.prefers_a_at(flip * (1 - 1e-6)) and not found.prefers_a_at(flip * (1 + 1e-6))
    below, above = (
        population(AP_A, [flip * (1 - 1e-6), flip * (1 + 1e-6)]),
        population(AP_B, [flip * (1 - 1e-6), flip * (1 + 1e-6)]),
    )
    assert below["average_precision"][0] > above["average_precision"][0]  # A's, B's just below
    assert below["average_precision"][1] < above["average_precision"][1]
    assert describe(found) == f"average_precision      prefers A below {100 * flip:.3g} % prevalence, B above"


def test_the_ece_is_lower_is_better_and_flips_where_a_brute_force_scan_says(scanned):
    """The post's models: A's ECE is the lower below 61.4 %, so A is the better calibrated there."""
    found = preference(POST_A, POST_B, "ece")
    lower_for_a = scanned[POST_B]["ece"] - scanned[POST_A]["ece"]
    brackets = brute_force_brackets(lower_for_a)
    assert len(found.flips) == len(brackets) == 1
    ((low, high),), (flip,) = brackets, found.flips
    assert low <= flip <= high and describe(found).endswith("prefers A below 61.4 % prevalence, B above")
    at_post = (
        population(POST_A, [10_000 / 1_010_000])["ece"] < population(POST_B, [10_000 / 1_010_000])["ece"]
    )
    assert at_post[0] and found.prefers_a_at(10_000 / 1_010_000)


def test_the_post_models_average_precision_prefers_b_at_every_prevalence(scanned):
    found = preference(POST_A, POST_B, "average_precision")
    assert found.flips == () and not found.prefers_a_at(0.5)
    assert np.all(scanned[POST_B]["average_precision"] > scanned[POST_A]["average_precision"])


@given(a=st.tuples(ACCURACY, ACCURACY), b=st.tuples(ACCURACY, ACCURACY))
def test_roc_auc_never_flips_and_the_line_says_never(a, b):
    found = preference(Model(*a), Model(*b), "roc_auc")
    assert found.flips == ()
    assert describe(found).endswith("at every prevalence: never flips, ROC AUC does not depend on prevalence")
    values = [population(Model(*a), [pi])["roc_auc"][0] for pi in (1e-6, 0.01, 0.5, 0.99)]
    assert values == [values[0]] * 4  # the population value does not move with prevalence


@given(a=st.tuples(ACCURACY, ACCURACY), b=st.tuples(ACCURACY, ACCURACY))
def test_precision_at_recall_ranks_two_models_alike_at_every_prevalence(a, b):
    """precision = 1 / (1 + (1 - pi) / pi * FPR / TPR): the best threshold is the same at every pi."""
    found = preference(Model(*a), Model(*b), "precision_at_recall")
    assert found.flips == () and "never flips" in describe(found)
    prevalences = [1e-5, 0.003, 0.05, 0.3, 0.7, 0.99]
    difference = (
        population(Model(*a), prevalences)["precision_at_recall"]
        - population(Model(*b), prevalences)["precision_at_recall"]
    )
    relative = difference / population(Model(*a), prevalences)["precision_at_recall"].clip(1e-300)
    signs = set(np.sign(difference[np.abs(relative) > 1e-9]))
    assert len(signs) <= 1
    if signs:
        assert found.prefers_a_at(0.3) == (signs == {1.0})


@given(
    a=st.tuples(ACCURACY, ACCURACY),
    b=st.tuples(ACCURACY, ACCURACY),
    pair=st.sampled_from([("log_loss_skill", "bce"), ("brier_skill", "brier")]),
)
def test_a_skill_score_flips_where_its_loss_does(a, b, pair):
    skill, loss = pair
    (by_loss, by_skill) = preferences(
        Model(*a), Model(*b), losses=[loss], metrics=[skill], alpha=0.25, gamma=2.0
    )
    assert by_skill.flips == pytest.approx(by_loss.flips, rel=1e-9)
    for pi in (1e-4, 0.3, 0.9):
        assert (
            by_skill.prefers_a_at(pi) == by_loss.prefers_a_at(pi)
            or abs(pi - min(by_loss.flips, default=2)) < 1e-6
        )


@given(
    a0=st.floats(0.05, 1),
    a1=st.floats(0.05, 1),
    b0=st.floats(0.05, 1),
    b1=st.floats(0.05, 1),
    beta=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
)
def test_fbeta_flip_matches_the_closed_form(a0, a1, b0, b1, beta):
    """F-beta = (1 + B) pi a1 / (pi (a1 + B) + (1 - pi)(1 - a0)), B = beta^2: equal F-betas where
    pi B (a1 - b1) + (1 - pi) c = 0, c = a1 (1 - b0) - b1 (1 - a0): pi* = c / (c - B (a1 - b1))."""
    weight = beta * beta
    c = a1 * (1 - b0) - b1 * (1 - a0)
    denominator = c - weight * (a1 - b1)
    closed = c / denominator if abs(denominator) > 1e-9 else np.nan
    found = preference(Model(a0, a1), Model(b0, b1), "fbeta", MetricSettings(beta=beta)).flips
    if 1e-6 < closed < 1 - 1e-6:
        assert len(found) == 1 and found[0] == pytest.approx(closed, rel=1e-6, abs=1e-12)
    elif not (1e-8 < closed < 1 - 1e-8):
        assert found == ()


def test_fbeta_at_beta_1_is_f1():
    (f1, fbeta) = preferences(
        POST_A,
        POST_B,
        losses=[],
        metrics=["f1", "fbeta"],
        alpha=0.25,
        gamma=2.0,
        settings=MetricSettings(beta=1.0),
    )
    assert fbeta.flips == pytest.approx(f1.flips, rel=1e-12)


def test_the_likelihood_ratios_go_their_own_ways():
    """lr_plus (higher is better) prefers A, 0.5 / 0.001 = 500 against 0.9 / 0.02 = 45; lr_minus
    (lower is better) prefers B, 0.1 / 0.98 against 0.5 / 0.999; neither ever flips."""
    lr_plus, lr_minus = preference(POST_A, POST_B, "lr_plus"), preference(POST_A, POST_B, "lr_minus")
    assert lr_plus.flips == lr_minus.flips == ()
    assert lr_plus.prefers_a_at(0.01) and not lr_minus.prefers_a_at(0.01)
    assert describe(lr_minus).endswith(
        "prefers B at every prevalence: never flips, likelihood ratios do not depend on prevalence"
    )


@given(
    a=st.tuples(ACCURACY, ACCURACY),
    b=st.tuples(ACCURACY, ACCURACY),
    name=st.sampled_from(["average_precision", "ece", "fbeta"]),
)
def test_the_preference_changes_sides_at_each_flip(a, b, name):
    found = preference(Model(*a), Model(*b), name)
    for flip in found.flips:
        below, above = flip * (1 - 1e-6), min(flip * (1 + 1e-6), 1 - 1e-12)
        assert found.prefers_a_at(below) != found.prefers_a_at(above)


def test_two_files_average_precision_flips_where_scikit_learns_does(tmp_path):
    """Files drawn from AP_A and AP_B: their re-weighted AP flips, and scikit-learn's AP of the
    files, each class weighted to the prevalence, changes sides across the flip."""
    paths = []
    for index, model in enumerate((AP_A, AP_B)):
        labels, scores = simulate(3000, model.acc_0s, 600, model.acc_1s, seed=index)
        paths.append(tmp_path / f"model_{index}.csv")
        np.savetxt(
            paths[-1], np.column_stack([labels, scores]), delimiter=",", header="label,score", comments=""
        )
    spec = flip_spec(
        {
            "model_a": str(paths[0]),
            "model_b": str(paths[1]),
            "losses": ["bce"],
            "metrics": ["average_precision"],
        }
        | {"focal": {"alpha": 0.25, "gamma": 2.0}}
    )
    (found,) = preferences(spec.model_a, spec.model_b, losses=[], metrics=spec.metrics, alpha=0.25, gamma=2.0)
    (flip,) = found.flips
    assert 0.15 < flip < 0.45

    def sklearn_ap(path, pi):
        labels, scores = np.loadtxt(path, delimiter=",", skiprows=1).T
        scores = scores.astype(np.float32)
        weights = np.where(labels == 1, pi / labels.sum(), (1 - pi) / (labels == 0).sum())
        return average_precision_score(labels, scores, sample_weight=weights)

    for pi, a_wins in ((flip * 0.999, True), (flip * 1.001, False)):
        assert (sklearn_ap(paths[0], pi) > sklearn_ap(paths[1], pi)) == a_wins
        assert found.prefers_a_at(pi) == a_wins


def default_flip_config(tracking_uri, **changes):
    config = OmegaConf.to_container(OmegaConf.load(f"{CONFIG_DIR}/flip.yaml"))
    return {**config, "tracking_uri": tracking_uri, "experiment": "flip", **changes}


def test_the_default_flip_covers_the_new_measures(tracking_uri, capsys):
    """`python -m imbalance_sweep.flip`'s config: the lines of before, bit for bit, then the new ones."""
    run_id = run_flip(flip_spec(default_flip_config(tracking_uri)))
    printed = capsys.readouterr().out.splitlines()
    assert printed[1:21] == [
        "loss/bce               prefers A below 1.15 % prevalence, B above",
        "loss/focal_tfa         prefers A below 1.42 % prevalence, B above",
        "loss/focal_balanced    prefers A below 1.42 % prevalence, B above",
        "loss/focal             prefers A below 0.477 % prevalence, B above",
        "loss/balanced_bce      prefers B at every prevalence",
        "loss/brier             prefers A below 1.4 % prevalence, B above",
        "f1                     prefers A below 2.22 % prevalence, B above",
        "recall                 prefers B at every prevalence",
        "balanced_accuracy      prefers B at every prevalence",
        "precision              prefers A at every prevalence",
        "mcc                    prefers A below 2.34 % prevalence, B above",
        "fbeta                  prefers A below 0.566 % prevalence, B above",
        "lr_plus                prefers A at every prevalence: never flips, likelihood ratios do not depend on prevalence",
        "lr_minus               prefers B at every prevalence: never flips, likelihood ratios do not depend on prevalence",
        "roc_auc                prefers B at every prevalence: never flips, ROC AUC does not depend on prevalence",
        "average_precision      prefers B at every prevalence",
        "precision_at_recall    prefers B at every prevalence: never flips, the best threshold at a recall is the same at every prevalence",
        "log_loss_skill         prefers A below 1.15 % prevalence, B above",
        "brier_skill            prefers A below 1.4 % prevalence, B above",
        "ece                    prefers A below 61.4 % prevalence, B above",
    ]
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert {"flip/fbeta", "flip/log_loss_skill", "flip/brier_skill", "flip/ece"} <= set(run.data.metrics)
    assert not {"flip/roc_auc", "flip/average_precision", "flip/precision_at_recall"} & set(run.data.metrics)
    assert run.data.metrics["flip/log_loss_skill"] == pytest.approx(
        run.data.metrics["flip/loss/bce"], rel=1e-9
    )
    assert "metrics.beta" not in run.data.params  # the default settings are not params


def test_metric_settings_move_fbeta_and_precision_at_recall(tracking_uri, capsys):
    spec = flip_spec(default_flip_config(tracking_uri, metrics=["f1", "fbeta"], metric_settings={"beta": 1}))
    run_id = run_flip(spec)
    printed = capsys.readouterr().out.splitlines()
    assert printed[-8:-6] == [
        "f1                     prefers A below 2.22 % prevalence, B above",
        "fbeta                  prefers A below 2.22 % prevalence, B above",
    ]
    assert MlflowClient(tracking_uri).get_run(run_id).data.params["metrics.beta"] == "1.0"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"beta": -1}, "metric_settings.beta=-1 is not a finite number > 0"),
        ({"recall": 0}, "metric_settings.recall=0 is not a number in (0, 1]"),
        ({"bins": 3}, "metric_settings.bins is not a setting; they are: beta, recall, ece_bins"),
        ([2.0], "metric_settings=[2.0] must be a mapping of beta, recall, ece_bins"),
    ],
)
def test_bad_metric_settings_are_one_line(settings, message):
    with pytest.raises(InvalidValue) as error:
        flip_spec(default_flip_config("sqlite:///unused.db", metric_settings=settings))
    assert str(error.value) == message


def stated_regions(line):
    """(low, high, model) for each region the line of ``describe`` states, read back from its text."""
    regions = []
    for part in line.split(" prefers ", 1)[1].split(", "):
        model, where = part.split(" ")[:2]
        numbers = [float(text) / 100 for text in re.findall(r"(\d[\d.]*(?:e[+-]?\d+)?) %", part)]
        low = regions[-1][1] if regions else 0.0
        bounds = {"below": (0.0, *numbers), "between": tuple(numbers), "above": (low, 1.0), "at": (0.0, 1.0)}[
            where
        ]
        regions.append((*bounds, model))
    return regions


@example(a=(0.758, 0.602), b=(0.907, 0.742), name="ece")  # B, A between 22.9 % and 71.2 %, B again
@example(a=(1.0, 0.4375), b=(0.4375, 1.0), name="ece")  # mirrored: an exact tie at 1/2 is the flip
@settings(max_examples=40, deadline=None)
@given(
    a=st.tuples(st.floats(0.3, 1.0), st.floats(0.3, 1.0)),
    b=st.tuples(st.floats(0.3, 1.0), st.floats(0.3, 1.0)),
    name=st.sampled_from(["ece", "average_precision", "fbeta", "f1", "mcc", "loss/bce"]),
)
def test_each_region_the_line_states_holds_the_model_the_margins_prefer(a, b, name):
    """The line names every region; inside each (1 % away from its ends, which the line rounds to 3
    digits) the margin of A over B has the sign of the model the line names."""
    loss = name.removeprefix("loss/") if name.startswith("loss/") else None
    spec = FlipSpec(
        Model(*a), Model(*b), (loss,) if loss else (), () if loss else (name,), 0.25, 2.0, "unused", "unused"
    )
    (found,) = preferences(
        spec.model_a, spec.model_b, losses=spec.losses, metrics=spec.metrics, alpha=0.25, gamma=2.0
    )
    regions = stated_regions(describe(found))
    assert len(regions) == len(found.flips) + 1
    margin = margins(spec)[name]
    for low, high, model in regions:
        inside = (low * 1.01 < SHOWN) & (high * 0.99 > SHOWN) & (np.abs(margin) > 1e-9)
        assert set(np.where(margin[inside] > 0, "A", "B")) <= {model}, (low, high, model)
