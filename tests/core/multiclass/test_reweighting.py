"""A K-class validation set re-weighted exactly to a class prior (core.multiclass.reweighting): equal
to the unweighted values at the set's own shares, to scikit-learn with sample weights, and to the
set with each class's rows repeated (integer weights); classes permuted; bad priors one line each."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.losses import multiclass_losses
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics, multiclass_settings
from imbalance_sweep.core.multiclass.reweighting import (
    class_validation_values,
    reweighted_losses,
    reweighted_metrics,
    reweighted_values,
)
from imbalance_sweep.core.vocabulary import band_key, class_key

TRAINING = [400, 60, 12, 5]  # one class in each band and a second few-shot one
CONFUSION_NAMES = [
    "accuracy",
    "balanced_accuracy",
    *(f"{name}_{average}" for name in ("precision", "recall", "f1") for average in ("macro", "weighted")),
    "mcc",
    "cohen_kappa",
]


def validation_set(rows=(50, 30, 15, 5), seed=0, dtype=np.float64):
    """Labels of ``rows`` per class, shuffled, and softmax-like scores that favour the true class."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(rows)), rows))
    scores = rng.dirichlet(np.ones(len(rows)), labels.size)
    scores[np.arange(labels.size), labels] += rng.uniform(0, 0.8, labels.size)
    return labels, (scores / scores.sum(axis=1, keepdims=True)).astype(dtype)


def row_weights(labels, prior):
    counts = np.bincount(labels, minlength=len(prior))
    return (np.asarray(prior) * labels.size / counts)[labels]


def test_at_the_sets_own_shares_the_values_are_the_unweighted_ones():
    labels, scores = validation_set(dtype=np.float32)
    own = np.bincount(labels) / labels.size
    losses = reweighted_losses(labels, scores, own, training_counts=TRAINING)
    assert losses == multiclass_losses(labels, scores, training_counts=TRAINING)  # exact sums: bit for bit
    at_own = reweighted_metrics(labels, scores, own)
    plain = multiclass_metrics(labels, scores)
    assert at_own.keys() == plain.keys()
    # the counts-based metrics exactly (weights 1); the log loss is a sum, rounded once here and twice
    # there (its total, then / N): equal to rounding, as the ECEs and AUCs (the loop below)
    counted = [key for key in plain if not key.startswith(("ece", "roc_auc", "log_loss"))]
    assert {key: at_own[key] for key in counted} == {key: plain[key] for key in counted}
    for key in plain:
        assert at_own[key] == pytest.approx(plain[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("prior", [[0.7, 0.2, 0.07, 0.03], [0.25] * 4, [0.0, 0.5, 0.5, 0.0]])
def test_equal_to_scikit_learn_with_sample_weights(prior):
    labels, scores = validation_set()
    weights = row_weights(labels, prior)
    values = reweighted_metrics(labels, scores, prior)
    predicted = scores.argmax(axis=1)
    everything = {"labels": range(4), "sample_weight": weights, "zero_division": 0}
    for average in ("macro", "weighted"):
        expected = {
            "precision": skm.precision_score(labels, predicted, average=average, **everything),
            "recall": skm.recall_score(labels, predicted, average=average, **everything),
            "f1": skm.f1_score(labels, predicted, average=average, **everything),
        }
        for name, value in expected.items():
            assert values[f"{name}_{average}"] == pytest.approx(value, abs=1e-12), (name, average)
    per_class = skm.f1_score(labels, predicted, average=None, **everything)
    for label, value in enumerate(per_class):
        assert values[class_key("f1", label, 4)] == pytest.approx(value, abs=1e-12)
    kept = weights > 0  # scikit-learn counts a class of weight 0 as present in balanced accuracy
    assert values["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels[kept], predicted[kept], sample_weight=weights[kept]), abs=1e-12
    )
    assert values["mcc"] == pytest.approx(
        skm.matthews_corrcoef(labels, predicted, sample_weight=weights), abs=1e-12
    )
    assert values["cohen_kappa"] == pytest.approx(
        skm.cohen_kappa_score(labels, predicted, sample_weight=weights), abs=1e-12
    )
    assert values["log_loss"] == pytest.approx(
        skm.log_loss(labels, scores, sample_weight=weights, labels=range(4)), rel=1e-12
    )
    if min(prior) > 0:  # scikit-learn refuses a class without weight
        for name, average in (("roc_auc_ovr", "macro"), ("roc_auc_ovr_weighted", "weighted")):
            oracle = skm.roc_auc_score(
                labels, scores, multi_class="ovr", average=average, sample_weight=weights
            )
            assert values[name] == pytest.approx(oracle, abs=1e-12), name
        # one-vs-one AUC compares two classes at a time: no prior moves it (scikit-learn takes no weights)
        assert values["roc_auc_ovo"] == pytest.approx(
            skm.roc_auc_score(labels, scores, multi_class="ovo"), abs=1e-12
        )


def test_top_k_against_scikit_learn_with_sample_weights():
    labels, scores = validation_set()  # continuous scores: no ties, where the two order them apart
    prior = [0.1, 0.2, 0.3, 0.4]
    for k in (1, 2, 3):
        values = reweighted_metrics(labels, scores, prior, settings=multiclass_settings(top_k=k))
        oracle = skm.top_k_accuracy_score(labels, scores, k=k, sample_weight=row_weights(labels, prior))
        assert values["top_k_accuracy"] == pytest.approx(oracle, abs=1e-12)


@given(
    rows=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    times=st.lists(st.integers(1, 4), min_size=5, max_size=5),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_integer_weights_equal_the_set_with_each_classs_rows_repeated(rows, times, seed):
    """Class k's rows repeated t_k times is the set at prior t_k n_k / sum(t n): the same metrics
    (counts are scaled back to this set's size) and losses."""
    labels, scores = validation_set(tuple(rows), seed=seed, dtype=np.float32)
    repeats = np.array(times[: len(rows)])[labels]
    prior = np.array(times[: len(rows)]) * np.array(rows)
    prior = prior / prior.sum()
    big_labels, big_scores = np.repeat(labels, repeats), np.repeat(scores, repeats, axis=0)
    training = [10 * (k + 1) for k in range(len(rows))]
    values = reweighted_values(labels, scores, prior, training_counts=training)
    big = {
        f"loss/{name}": value
        for name, value in multiclass_losses(big_labels, big_scores, training_counts=training).items()
    }
    big |= multiclass_metrics(big_labels, big_scores)
    for key, value in big.items():
        assert values[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@given(seed=st.integers(0, 2**16), order=st.permutations(range(4)))
@settings(max_examples=20, deadline=None)
def test_permuting_the_classes_permutes_the_per_class_values(seed, order):
    labels, scores = validation_set(seed=seed)
    prior = np.array([0.4, 0.3, 0.2, 0.1])
    order = np.array(order)
    inverse = np.argsort(order)  # old class k is new class inverse[k]
    values = reweighted_values(labels, scores, prior, training_counts=TRAINING)
    moved = reweighted_values(
        inverse[labels], scores[:, order], prior[order], training_counts=np.array(TRAINING)[order]
    )
    for name in ("recall", "precision", "f1", "ece"):
        for label in range(4):
            assert moved[class_key(name, int(inverse[label]), 4)] == pytest.approx(
                values[class_key(name, label, 4)], abs=1e-12
            )
    for key in (
        "accuracy",
        "mcc",
        "f1_macro",
        "log_loss",
        "loss/cce",
        "loss/ldam",
        "roc_auc_ovr",
        "ece_top_label",
    ):
        # a loss's terms sum the other classes in float32, in class order: a permutation rounds apart
        tolerance = 1e-6 if key.startswith("loss/") else 1e-9
        assert moved[key] == pytest.approx(values[key], rel=tolerance, abs=1e-12), key


def test_a_perfect_model_and_the_bands():
    labels = np.repeat(np.arange(4), [5, 4, 3, 2])
    scores = np.eye(4)[labels]
    values = reweighted_values(labels, scores, [0.1, 0.2, 0.3, 0.4], training_counts=TRAINING)
    for key in (
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "mcc",
        "cohen_kappa",
        "roc_auc_ovr",
        "roc_auc_ovo",
    ):
        assert values[key] == 1.0, key
    assert values["ece_top_label"] == 0.0 and values["loss/multiclass_brier"] == 0.0
    assert {band_key(band) for band in ("many", "medium", "few")} <= values.keys()
    # a prior of 0 on the many-shot class leaves its band without a class: no key (not a 0.0)
    assert band_key("many") not in reweighted_metrics(
        labels, scores, [0, 0.5, 0.25, 0.25], training_counts=TRAINING
    )


def test_the_panels_values_as_the_set_is_and_at_each_prior():
    labels, scores = validation_set()
    prior = [0.4, 0.3, 0.2, 0.1]
    values = class_validation_values(labels, scores, {"deploy": prior})
    own = tuple(np.bincount(labels).tolist())  # the training counts default to the set's own
    assert values["deploy"] == reweighted_values(labels, scores, prior, training_counts=own)
    assert (
        values[None]["loss/ldam"] == multiclass_losses(labels, scores, ["ldam"], training_counts=own)["ldam"]
    )
    assert values[None].keys() == values["deploy"].keys()


@pytest.mark.parametrize(
    "prior, line",
    [
        ([0.5, 0.5, 0.5, -0.5], "prior[3]=-0.5 is not a finite number >= 0"),
        ([0.5, float("nan"), 0.25, 0.25], "prior[1]=nan is not a finite number >= 0"),
        ([0.5, 0.2, 0.2, 0.2], "prior sums to 1.1; allowed: class priors summing to 1 within 1e-06"),
        ([0.5, 0.5], "prior has shape (2,); allowed: (4,), one number a class"),
        ([1.0], "prior has shape (1,); allowed: (4,), one number a class"),
        ("balanced", "prior has shape (); allowed: (4,), one number a class"),
        (
            [0.25, 0.25, 0.25, 0.25],
            "prior[3]=0.25 is a share of class 3, which has no rows in the set; allowed: 0 for a class without rows",
        ),
    ],
)
def test_a_bad_prior_gets_one_line(prior, line):
    labels, scores = validation_set((5, 5, 5, 1))
    labels = np.where(labels == 3, 0, labels)  # class 3 has no rows
    for compute in (reweighted_losses, reweighted_metrics):
        with pytest.raises(InvalidValue) as refused:
            compute(labels, scores, prior)
        assert str(refused.value) == line


def test_one_class_is_refused_in_one_line():
    with pytest.raises(InvalidValue, match=r"^scores has K=1 columns; allowed: K >= 2 classes$"):
        reweighted_metrics([0, 0], np.ones((2, 1)), [1.0])
