"""The K-class expected mode on cases worked by hand, against the binary expected mode at K = 2,
with permuted classes, and its bad inputs (one line each)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.clipping import EPSILON
from imbalance_sweep.core.expectations import expected
from imbalance_sweep.core.multiclass.confusion import confusion_metrics
from imbalance_sweep.core.multiclass.expected import expected_multiclass
from imbalance_sweep.core.multiclass.expected_metrics import confusion_values, expected_confusion
from imbalance_sweep.core.population import population_ece
from imbalance_sweep.core.score_models.uniform import UNIFORM
from imbalance_sweep.core.vocabulary import band_key, class_key, loss_key

SWAP = [[0.0, 1.0], [1.0, 0.0]]  # the only error spread of two classes
accuracy = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


def adjusted_by_hand(acc, beta, alpha=0.0):
    """E[log((1 - beta) u + alpha + beta) - log u], u uniform on (1 - w, 1], w = 0.5 / acc (acc >= 1/2):
    the prior-adjusted term with s = 1, unclipped (the clip moves it by about 1e-14 here)."""
    width = 0.5 / acc
    p, q = alpha + beta, 1.0 - beta

    def linear_log(u):  # an antiderivative of log(p + q u)
        return (p + q * u) * math.log(p + q * u) / q - u

    def log(u):  # of log u
        return u * math.log(u) - u

    return (linear_log(1.0) - linear_log(1.0 - width) - log(1.0) + log(1.0 - width)) / width


def test_a_perfect_model_by_hand():
    """Every accuracy 1: u uniform on (1/2, 1], every row right."""
    spread = np.full((4, 4), 1 / 3) - np.eye(4) / 3
    values = expected_multiclass([5, 10, 20, 40], [1.0] * 4, spread, ece_bins=2)
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "mcc", "cohen_kappa", "top_k_accuracy"):
        assert values[name] == 1.0, name
    for name in ("roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo"):
        assert values[name] == 1.0, name
    # E[-log u] = 1 - log 2; E[2 (1 - u)^2] = 1/6; the top-label gap E[1 - u] = 1/4
    assert values[loss_key("cce")] == pytest.approx(1.0 - math.log(2.0), rel=1e-12)
    assert values["log_loss"] == pytest.approx(1.0 - math.log(2.0), rel=1e-12)
    assert values[loss_key("multiclass_brier")] == pytest.approx(1.0 / 6.0, rel=1e-12)
    assert values["ece_top_label"] == pytest.approx(0.25, rel=1e-12)
    # class 3's column: u in its rows (bin (1/2, 1], a gap of E[1 - u] = 1/4 each), 1 - u in a third
    # of the others' rows (bin [0, 1/2], no row of class 3: a gap of E[1 - u] each), 0 in the rest
    assert values[class_key("ece", 3, 4)] == pytest.approx((40 / 4 + 35 / 3 / 4) / 75, rel=1e-12)
    assert values[band_key("few")] == 1.0  # training counts default to the counts: all below 20 but 20, 40
    assert values[band_key("medium")] == 1.0
    assert band_key("many") not in values


def test_the_prior_adjusted_losses_by_hand():
    """Three classes with the clipped zero of the third class in each row: the softmax of
    log c + log pi, row of class k with confuser c: log((1 - beta) u + alpha + beta) - log u with
    beta = m_c / m_k and alpha = EPS m_other / m_k."""
    counts, accuracies, training = [30, 50, 20], [0.8, 0.6, 0.9], [1.0, 1000.0, 100000.0]
    spread = [[0.0, 0.25, 0.75], [0.5, 0.0, 0.5], [1.0, 0.0, 0.0]]
    eps = float(EPSILON)
    means = []
    for k in range(3):
        mean = 0.0
        for c in range(3):
            if spread[k][c]:
                other = 3 - k - c
                beta, alpha = training[c] / training[k], eps * training[other] / training[k]
                mean += spread[k][c] * adjusted_by_hand(accuracies[k], beta, alpha)
        means.append(mean)
    loss = sum(n * mean for n, mean in zip(counts, means, strict=True)) / sum(counts)
    values = expected_multiclass(
        counts, accuracies, spread, training_counts=training, losses=["balanced_softmax", "logit_adjusted"]
    )
    assert values[loss_key("balanced_softmax")] == pytest.approx(loss, rel=1e-10)
    assert values[loss_key("logit_adjusted")] == values[loss_key("balanced_softmax")]  # tau = 1


def test_ldam_with_two_classes_by_hand():
    """LDAM at s = 1: the cross-entropy with the true class's logit lowered by its margin, so
    beta = e^(m_k), m_k = 0.5 (m_min / m_k)^(1/4)."""
    counts, accuracies, training = [40, 60], [0.7, 0.95], [16.0, 1.0]
    margins = [0.5 * (1.0 / m) ** 0.25 for m in training]
    means = [adjusted_by_hand(acc, math.exp(margin)) for acc, margin in zip(accuracies, margins, strict=True)]
    loss = (40 * means[0] + 60 * means[1]) / 100
    values = expected_multiclass(counts, accuracies, SWAP, training_counts=training, losses=["ldam"])
    assert values[loss_key("ldam")] == pytest.approx(loss, rel=1e-10)


def test_the_confusion_metrics_of_whole_expected_counts_are_the_first_steps():
    """Where the expected counts are whole, the float formulas give confusion.confusion_metrics'."""
    counts = np.array([10.0, 20.0, 40.0, 0.0])
    spread = np.array([[0, 0.5, 0.5, 0], [0.25, 0, 0.75, 0], [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])
    confusion = expected_confusion(counts, np.array([0.6, 0.8, 0.5, 0.3]), spread)
    whole = np.rint(confusion).astype(np.int64)
    assert np.array_equal(whole, confusion)
    exact = confusion_metrics(whole)
    assert confusion_values(confusion) == pytest.approx(exact, rel=1e-14, abs=1e-15)


binary_accuracy = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


@given(st.integers(0, 5000), st.integers(0, 5000), binary_accuracy, binary_accuracy)
def test_at_two_classes_the_values_are_the_binary_expected_modes(n0, n1, a0, a1):
    """K = 2: accuracy, recall, precision and balanced accuracy exactly the binary ones; cce is bce
    within their different clips (the negative's own score clipped to [1e-7, 1 - 2^-23] here, to
    [2^-23, 1 - 1e-7] there: under 5e-8 apart, 1e-12 relative where both accuracies are > 1/2);
    Brier twice the binary's, the AUC and class 1's ECE the binary population values."""
    if n0 + n1 == 0:
        return
    values = expected_multiclass([n0, n1], [a0, a1], SWAP, training_counts=[1, 1])
    binary = expected(n0, a0, n1, a1)
    for name in ("accuracy", "balanced_accuracy"):
        assert values[name] == binary[name], name
    assert values[class_key("recall", 1, 2)] == binary["recall"]
    assert values[class_key("precision", 1, 2)] == binary["precision"]
    assert values[class_key("recall", 0, 2)] == binary["specificity"]
    # both cancel (c s - sum p t and s^2 - sum p^2 here, tp tn - fp fn there), by about sqrt(eps)
    # where a class is predicted a 1e-16 share of the rows (an accuracy of 1 - 1e-16): 0.0 here,
    # -1e-8 there
    assert values["mcc"] == pytest.approx(binary["mcc"], rel=1e-12, abs=1e-7)
    cce, bce = values[loss_key("cce")], binary[loss_key("bce")]
    assert abs(cce - bce) < 5e-8
    if min(a0, a1) > 0.5:
        assert cce == pytest.approx(bce, rel=1e-12)
        stderr = values[f"stderr/{loss_key('cce')}"]
        assert stderr == pytest.approx(binary[f"stderr/{loss_key('bce')}"], rel=1e-9, abs=1e-15)
    brier = values[loss_key("multiclass_brier")]
    assert brier == pytest.approx(2.0 * binary[loss_key("brier")], rel=1e-12, abs=1e-15)
    if n0 and n1:
        assert values["roc_auc_ovr"] == pytest.approx(binary["roc_auc"], rel=1e-12)
        assert values[class_key("ece", 1, 2)] == pytest.approx(binary["ece"], rel=1e-12, abs=1e-15)
        prevalence_of_0 = n0 / (n0 + n1)
        flipped = population_ece(UNIFORM, acc_0s=a1, acc_1s=a0, prevalence=prevalence_of_0)
        assert values[class_key("ece", 0, 2)] == pytest.approx(flipped, rel=1e-12, abs=1e-15)


def test_at_two_classes_unweighted_focal_is_the_binary_focal():
    values = expected_multiclass([900, 100], [0.95, 0.7], SWAP, losses=["categorical_focal"], alpha=1.0)
    binary = expected(900, 0.95, 100, 0.7, losses=["focal"])
    assert values[loss_key("categorical_focal")] == pytest.approx(binary[loss_key("focal")], rel=1e-9)


@given(
    st.lists(st.tuples(st.integers(0, 300), accuracy, st.integers(1, 500)), min_size=3, max_size=6), st.data()
)
def test_permuting_the_classes_permutes_the_per_class_values(classes, data):
    counts, accuracies, training = (list(column) for column in zip(*classes, strict=True))
    if not sum(counts):
        return
    size = len(counts)
    spread = np.full((size, size), 1.0 / (size - 1)) - np.eye(size) / (size - 1)
    spread[0] = np.r_[0.0, 1.0, np.zeros(size - 2)]
    order = np.array(data.draw(st.permutations(range(size))))
    values = expected_multiclass(counts, accuracies, spread, training_counts=training)
    permuted = expected_multiclass(
        np.array(counts)[order],
        np.array(accuracies)[order],
        spread[np.ix_(order, order)],
        training_counts=np.array(training)[order],
    )
    for new, old in enumerate(order.tolist()):
        for name in ("precision", "recall", "f1", "ece"):
            assert permuted[class_key(name, new, size)] == pytest.approx(
                values[class_key(name, old, size)], abs=1e-12
            )
    for key, value in values.items():
        if "/class_" not in key:
            assert permuted[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"counts": [5]}, "counts=[5] has K=1 classes; allowed: K >= 2"),
        ({"counts": [5, -1]}, "counts[1]=-1 is not a whole number >= 0"),
        ({"counts": [0, 0]}, "counts=[0, 0] has no row"),
        ({"counts": [[5, 5]]}, "counts has shape (1, 2)"),
        ({"accuracies": [0.5, float("nan")]}, "accuracies[1]=nan is not a number in [0, 1]"),
        ({"accuracies": [0.5, 1.5]}, "accuracies[1]=1.5 is outside [0, 1]"),
        ({"accuracies": [0.5, 0.5, 0.5]}, "accuracies has shape (3,); allowed: (2,)"),
        ({"spread": [[0.0, 1.0]]}, "error_spread has shape (1, 2); allowed: (2, 2)"),
        ({"spread": [[0.5, 0.5], [1.0, 0.0]]}, "error_spread[0][0]=0.5: allowed 0"),
        ({"spread": [[0.0, 0.9], [1.0, 0.0]]}, "error_spread[0] sums to 0.9"),
        ({"spread": [[0.0, -1.0], [1.0, 0.0]]}, "error_spread[0][1]=-1.0 is not a finite share >= 0"),
        ({"training_counts": [1, -3]}, "training_counts[1]=-3 is not a finite number > 0"),
        (
            {"counts": [5, 0], "training_counts": None},
            "training_counts=None takes the counts, and counts[1]=0",
        ),
        ({"losses": ["cce", "bce"]}, "losses[1]='bce' is not one of"),
        ({"top_k": 0}, "top_k=0 is not a whole number >= 1"),
        ({"beta": 1.0}, "beta=1.0 is not a number in [0, 1)"),
    ],
)
def test_bad_inputs_get_one_line_naming_them(arguments, message):
    given_values = {"counts": [5, 5], "accuracies": [0.5, 0.5], "spread": SWAP, "training_counts": [3, 4]}
    given_values |= arguments
    counts, accuracies, spread = (given_values.pop(name) for name in ("counts", "accuracies", "spread"))
    if len(np.shape(counts)) == 1 and len(counts) == 1:
        accuracies, spread = [0.5], [[0.0]]
    with pytest.raises(InvalidValue) as error:
        expected_multiclass(counts, accuracies, spread, **given_values)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
