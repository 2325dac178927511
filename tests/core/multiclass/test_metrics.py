"""K-class metrics against scikit-learn on random labels and row-normalised scores, the same bit for
bit however the rows are chunked, the binary core's values at K = 2, and the properties of issue 26:
permuted classes, a perfect model, every row in one class."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

from imbalance_sweep import evaluate
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.metrics import (
    MulticlassAccumulator,
    multiclass_metrics,
    multiclass_settings,
)
from imbalance_sweep.core.vocabulary import (
    MULTICLASS_METRIC_NAMES,
    PER_CLASS_METRIC_NAMES,
    band_key,
    class_key,
)

CONFUSION_NAMES = [
    "accuracy",
    "balanced_accuracy",
    *(
        f"{name}_{average}"
        for name in ("precision", "recall", "f1")
        for average in ("macro", "weighted", "micro")
    ),
    "mcc",
    "cohen_kappa",
]
RANKING_NAMES = ["roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo"]


@st.composite
def labelled_scores(draw, *, every_class=False, distinct=False, max_rows=60):
    """K in 2..8, labels in 0..K-1 (each class at least once if ``every_class``), float32 scores:
    rows of small whole weights (ties likely; all different in a row if ``distinct``), normalised."""
    classes = draw(st.integers(2, 8))
    extra = draw(st.lists(st.integers(0, classes - 1), min_size=0 if every_class else 1, max_size=max_rows))
    labels = np.array(([*range(classes)] if every_class else []) + extra)
    labels = labels[draw(st.permutations(range(labels.size)))]
    if distinct:
        row = st.lists(st.integers(1, 1000), min_size=classes, max_size=classes, unique=True)
    else:
        row = st.lists(st.integers(0, 6), min_size=classes, max_size=classes).filter(any)
    weights = np.array(draw(st.lists(row, min_size=labels.size, max_size=labels.size)), dtype=np.float32)
    scores = weights / weights.sum(axis=1, keepdims=True)
    return labels, scores


def sklearn_confusion(labels, scores):
    """The confusion metrics from scikit-learn at the argmax predictions, labels=range(K)."""
    predicted = scores.argmax(axis=1)
    classes = list(range(scores.shape[1]))
    values = {
        "accuracy": skm.accuracy_score(labels, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(labels, predicted),
        "mcc": skm.matthews_corrcoef(labels, predicted),
        "cohen_kappa": skm.cohen_kappa_score(labels, predicted, replace_undefined_by=0.0),
    }
    for average in ("macro", "weighted", "micro"):
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            labels, predicted, labels=classes, average=average, zero_division=0
        )
        values |= {f"precision_{average}": precision, f"recall_{average}": recall, f"f1_{average}": f1}
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels, predicted, labels=classes, average=None, zero_division=0
    )
    for name, per_class in (("precision", precision), ("recall", recall), ("f1", f1)):
        for label, value in enumerate(per_class):
            values[class_key(name, label, len(classes))] = value
    values["f1_weighted_by_f1_score"] = skm.f1_score(
        labels, predicted, labels=classes, average="weighted", zero_division=0
    )
    return values


@given(labelled_scores())
def test_confusion_metrics_equal_scikit_learn(data):
    labels, scores = data
    ours = multiclass_metrics(labels, scores, chunk_size=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class present: sklearn warns; the values are compared
        theirs = sklearn_confusion(labels, scores)
    assert theirs.pop("f1_weighted_by_f1_score") == pytest.approx(theirs["f1_weighted"], abs=1e-12)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


@given(labelled_scores(every_class=True))
def test_ranking_and_log_loss_equal_scikit_learn(data):
    labels, scores = data
    classes = list(range(scores.shape[1]))
    ours = multiclass_metrics(labels, scores)
    wide = scores.astype(np.float64)
    if len(classes) == 2:  # scikit-learn takes binary scores as the positive class's column
        ovr = ovr_weighted = ovo = np.mean([skm.roc_auc_score(labels == k, wide[:, k]) for k in classes])
    else:
        ovr = skm.roc_auc_score(labels, wide, multi_class="ovr", labels=classes)
        ovr_weighted = skm.roc_auc_score(labels, wide, multi_class="ovr", average="weighted", labels=classes)
        ovo = skm.roc_auc_score(labels, wide, multi_class="ovo", labels=classes)
    assert ours["roc_auc_ovr"] == pytest.approx(ovr, abs=1e-9)
    assert ours["roc_auc_ovr_weighted"] == pytest.approx(ovr_weighted, abs=1e-9)
    if len(classes) > 2:
        assert ours["roc_auc_ovo"] == pytest.approx(ovo, abs=1e-9)
    # scikit-learn clips at its dtype's eps; given float64 copies it would clip at 2^-52 instead
    eps = np.finfo(np.float32).eps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipped rows no longer sum to 1 exactly: sklearn warns
        log_loss = skm.log_loss(labels, np.clip(scores, eps, 1 - eps).astype(np.float64), labels=classes)
    assert ours["log_loss"] == pytest.approx(log_loss, abs=1e-9)
    assert multiclass_metrics(labels, wide)["log_loss"] == pytest.approx(
        skm.log_loss(labels, wide, labels=classes), abs=1e-9
    )


@given(labelled_scores(distinct=True), st.integers(1, 9))
def test_top_k_accuracy_equals_scikit_learn_without_ties(data, k):
    labels, scores = data
    classes = list(range(scores.shape[1]))
    ours = multiclass_metrics(labels, scores, top_k=k)["top_k_accuracy"]
    if len(classes) == 2:
        theirs = 1.0 if k >= 2 else skm.accuracy_score(labels, scores.argmax(axis=1))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # k >= K: sklearn warns that every row is a hit
            theirs = skm.top_k_accuracy_score(labels, scores.astype(np.float64), k=k, labels=classes)
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_top_k_ties_go_to_the_lowest_index_as_the_argmax_does():
    """Documented: top-1 accuracy is the accuracy. scikit-learn puts the highest index first."""
    labels = np.array([1, 0, 2])
    scores = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]], dtype=np.float32)
    ours = multiclass_metrics(labels, scores, top_k=1)
    assert ours["top_k_accuracy"] == ours["accuracy"] == 2 / 3
    assert skm.top_k_accuracy_score(labels, scores, k=1, labels=[0, 1, 2]) == 2 / 3  # rows 0 and 2
    assert multiclass_metrics(labels[:2], scores[:2], top_k=1)["top_k_accuracy"] == 0.5
    assert skm.top_k_accuracy_score(labels[:2], scores[:2], k=1, labels=[0, 1, 2]) == 0.5
    assert multiclass_metrics(labels[:1], scores[:1], top_k=1)["top_k_accuracy"] == 0.0
    assert skm.top_k_accuracy_score(labels[:1], scores[:1], k=1, labels=[0, 1, 2]) == 1.0  # the difference
    assert multiclass_metrics(labels[:1], scores[:1], top_k=2)["top_k_accuracy"] == 1.0


@given(labelled_scores(max_rows=80), st.data())
def test_every_split_and_order_of_rows_gives_the_same_bits(data, draw):
    labels, scores = data
    training_counts = draw.draw(
        st.lists(st.integers(0, 300), min_size=scores.shape[1], max_size=scores.shape[1])
    )
    whole = MulticlassAccumulator(
        scores.shape[1], multiclass_settings(top_k=2), training_counts=training_counts
    )
    whole.add(labels, scores)
    order = np.array(draw.draw(st.permutations(range(labels.size))), dtype=np.intp)
    cuts = sorted(draw.draw(st.lists(st.integers(0, labels.size), max_size=6)))
    chunked = MulticlassAccumulator(
        scores.shape[1], multiclass_settings(top_k=2), training_counts=training_counts
    )
    for rows in np.split(order, cuts):
        chunked.add(labels[rows], scores[rows])
    expected, got = whole.values(), chunked.values()
    assert list(got) == list(expected)
    assert all(got[name] == expected[name] for name in expected)


@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1, width=32)), min_size=1, max_size=200))
def test_at_two_classes_the_values_are_the_binary_ones(data):
    """p = scores[:, 1] and scores[:, 0] = 1 - p in float32: the argmax predicts 1 where p > 0.5."""
    labels = np.array([label for label, _ in data])
    p = np.array([score for _, score in data], dtype=np.float32)
    scores = np.column_stack([np.float32(1) - p, p])
    binary = evaluate(labels, p, losses=["bce"])
    ours = multiclass_metrics(labels, scores, chunk_size=13)
    same_bits = {
        "accuracy": "accuracy",
        "balanced_accuracy": "balanced_accuracy",
        "precision/class_001": "precision",
        "recall/class_001": "recall",
        "recall/class_000": "specificity",
        "f1/class_001": "f1",
    }
    for name, binary_name in same_bits.items():
        assert ours[name] == binary[binary_name], name
    assert ours["mcc"] == pytest.approx(binary["mcc"], rel=1e-13, abs=1e-15)
    assert ours["ece/class_001"] == pytest.approx(binary["ece"], rel=1e-12, abs=1e-15)


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 4096)), min_size=1, max_size=200))
def test_at_two_classes_one_vs_rest_auc_is_the_binary_roc_auc(data):
    """Where 1 - p is exact (p a multiple of 2^-12), the two columns rank the rows alike."""
    labels = np.array([label for label, _ in data])
    p = np.array([step for _, step in data], dtype=np.float32) / np.float32(4096)
    scores = np.column_stack([np.float32(1) - p, p])
    binary = evaluate(labels, p, losses=["bce"])
    ours = multiclass_metrics(labels, scores)
    if labels.min() < labels.max():
        assert ours["roc_auc_ovr"] == pytest.approx(binary["roc_auc"], abs=1e-12)
        assert ours["roc_auc_ovo"] == pytest.approx(binary["roc_auc"], abs=1e-12)
    else:
        assert ours["roc_auc_ovr"] == binary["roc_auc"] == 0.0


@given(labelled_scores(distinct=True), st.data())
def test_permuting_the_classes_permutes_the_per_class_values_and_keeps_the_rest(data, draw):
    labels, scores = data
    classes = scores.shape[1]
    new_label = np.array(draw.draw(st.permutations(range(classes))))
    moved = np.empty_like(scores)
    moved[:, new_label] = scores
    before = multiclass_metrics(labels, scores, top_k=2)
    after = multiclass_metrics(new_label[labels], moved, top_k=2)
    for name in PER_CLASS_METRIC_NAMES:
        for label in range(classes):
            key, new_key = class_key(name, label, classes), class_key(name, int(new_label[label]), classes)
            assert after[new_key] == before[key], key
    for name in MULTICLASS_METRIC_NAMES:
        assert after[name] == pytest.approx(before[name], rel=1e-12, abs=1e-12), name


@given(st.integers(2, 8), st.lists(st.integers(0, 7), min_size=2, max_size=50))
def test_a_perfect_model(classes, raw_labels):
    labels = np.array(raw_labels) % classes
    scores = np.eye(classes, dtype=np.float32)[labels]
    values = multiclass_metrics(labels, scores, top_k=1)
    present = np.unique(labels).size
    for name in ("accuracy", "balanced_accuracy", "top_k_accuracy", "precision_micro", "f1_weighted"):
        assert values[name] == 1.0, name
    assert values["recall_macro"] == present / classes  # an absent class counts 0.0
    assert values["ece_top_label"] == values["ece_classwise"] == 0.0
    assert values["log_loss"] == -math.log1p(-(2.0**-23))  # the score 1 clipped to 1 - eps
    if present > 1:
        assert values["mcc"] == values["cohen_kappa"] == values["roc_auc_ovr"] == values["roc_auc_ovo"] == 1.0
    else:
        assert values["mcc"] == values["cohen_kappa"] == values["roc_auc_ovr"] == values["roc_auc_ovo"] == 0.0


@given(labelled_scores(), st.data())
def test_every_row_in_one_class_gives_the_documented_values(data, draw):
    _, scores = data
    classes = scores.shape[1]
    only = draw.draw(st.integers(0, classes - 1))
    labels = np.full(scores.shape[0], only)
    values = multiclass_metrics(labels, scores)
    recall = float(np.mean(scores.argmax(axis=1) == only))
    assert (
        values["accuracy"]
        == values["balanced_accuracy"]
        == values[class_key("recall", only, classes)]
        == recall
    )
    assert values["recall_macro"] == pytest.approx(recall / classes, abs=1e-15)
    assert values["mcc"] == values["cohen_kappa"] == 0.0
    for name in RANKING_NAMES:
        assert values[name] == 0.0, name


def test_bands_of_the_training_counts():
    """Training counts 500, 100, 20, 19, 0: many, medium, medium, few, few; recalls 1, 1/2, 0, 1, -."""
    labels = np.array([0, 1, 1, 2, 3])
    scores = np.eye(5, dtype=np.float32)[[0, 1, 0, 0, 3]]
    values = multiclass_metrics(labels, scores, training_counts=[500, 100, 20, 19, 0])
    assert values[band_key("many")] == 1.0
    assert values[band_key("medium")] == 0.25  # classes 1 and 2: (1/2 + 0) / 2
    assert values[band_key("few")] == 1.0  # class 4 has no rows: left out
    moved = multiclass_metrics(
        labels, scores, training_counts=[500, 100, 20, 19, 0], many_above=10, few_below=5
    )
    assert band_key("medium") not in moved and moved[band_key("many")] == 0.625
    assert band_key("many") not in multiclass_metrics(labels, scores, training_counts=[1] * 5)
    assert not any(
        key.startswith("recall/") and "class" not in key for key in multiclass_metrics(labels, scores)
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"top_k": 0}, "top_k=0 is not a whole number >= 1"),
        ({"top_k": 2.5}, "top_k=2.5 is not a whole number >= 1"),
        ({"ece_bins": 0}, "ece_bins=0 is not a whole number in [1, 1000000]"),
        ({"many_above": float("nan")}, "many_above=nan is not a finite number of training samples >= 0"),
        ({"few_below": -1}, "few_below=-1 is not a finite number of training samples >= 0"),
        ({"few_below": 200}, "few_below=200 is above many_above=100; allowed: few_below <= many_above"),
        ({"chunk_size": 0}, "chunk_size=0 is not a whole number in [1, 1048576]"),
        ({"training_counts": [1, -2, 3]}, "training_counts[1]=-2 is not a finite number >= 0"),
        ({"training_counts": [1, float("nan"), 3]}, "training_counts[1]=nan is not a finite number >= 0"),
        ({"training_counts": [1, 2]}, "training_counts has shape (2,); allowed: (3,), one number a class"),
    ],
)
def test_bad_settings_get_one_line(settings, message):
    labels, scores = np.array([0, 1, 2]), np.eye(3)
    with pytest.raises(InvalidValue) as raised:
        multiclass_metrics(labels, scores, **settings)
    assert str(raised.value) == message


def test_no_rows_get_one_line():
    accumulator = MulticlassAccumulator(3)
    accumulator.add(np.zeros(0, dtype=int), np.zeros((0, 3)))
    with pytest.raises(
        InvalidValue, match=r"^labels is empty: the K-class metrics need at least one sample$"
    ):
        accumulator.values()
    with pytest.raises(InvalidValue, match=r"^classes=1 is not a whole number >= 2$"):
        MulticlassAccumulator(1)
    with pytest.raises(InvalidValue, match=r"^scores has K=4 columns; allowed: 3, the number of classes$"):
        accumulator.add([0], np.full((1, 4), 0.25))
