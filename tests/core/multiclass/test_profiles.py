"""Class-count and accuracy profiles, error spreads and bands (core/multiclass/profiles.py): the
published long-tail sizes, properties of each profile, and one line for each bad value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics
from imbalance_sweep.core.multiclass.profiles import (
    MAX_CLASSES,
    MAX_TOTAL,
    balanced_counts,
    class_accuracies,
    class_bands,
    class_counts,
    confusion_model,
    error_spread,
    explicit_accuracies,
    explicit_counts,
    exponential_counts,
    frequency_accuracies,
    imagenet_lt_counts,
    spread_of_matrix,
    uniform_accuracies,
    zipf_counts,
)

classes = st.integers(min_value=2, max_value=300)
sizes = st.integers(min_value=1, max_value=10**9)


@pytest.mark.parametrize(
    "classes, ratio, largest, total",
    [
        # CIFAR-10-LT and CIFAR-100-LT training set sizes, as the long-tail papers report them
        (10, 100, 5000, 12406),
        (10, 50, 5000, 13996),
        (10, 10, 5000, 20431),
        (100, 100, 500, 10847),
    ],
)
def test_exponential_gives_the_cifar_lt_sets(classes, ratio, largest, total):
    counts = exponential_counts(classes, ratio, largest)
    assert counts.sum() == total
    assert counts[0] == largest and counts[-1] == largest // ratio


def test_cifar_10_lt_at_ratio_100_class_by_class():
    assert exponential_counts(10, 100, 5000).tolist() == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_imagenet_lt_stand_in_has_its_head_tail_bands_and_size():
    counts = imagenet_lt_counts()
    assert counts.size == 1000 and counts[0] == 1280 and counts[-1] == 5
    assert np.all(np.diff(counts) <= 0)
    bands = class_bands(counts)
    assert [bands.count(band) for band in ("many", "medium", "few")] == [385, 479, 136]
    assert counts.sum() == 115_846


@given(classes, st.floats(min_value=1, max_value=1e6), sizes)
def test_exponential_is_non_increasing_with_ratio_up_to_the_floor(k, ratio, largest):
    counts = exponential_counts(k, ratio, largest, min_count=0)
    assert counts[0] == largest
    assert np.all(np.diff(counts) <= 0)
    smallest = largest / ratio
    assert smallest - 1 - 1e-9 * smallest < counts[-1] <= smallest * (1 + 1e-9)


@given(classes, st.floats(min_value=0, max_value=5), sizes)
def test_zipf_is_non_increasing_with_ratio_k_to_the_exponent_up_to_the_floor(k, exponent, largest):
    counts = zipf_counts(k, exponent, largest, min_count=0)
    assert counts[0] == largest
    assert np.all(np.diff(counts) <= 0)
    smallest = largest / k**exponent
    assert smallest - 1 - 1e-9 * smallest < counts[-1] <= smallest * (1 + 1e-9)


@given(classes, st.floats(min_value=1, max_value=1e12), st.integers(min_value=1, max_value=1000))
def test_min_count_keeps_every_class_present(k, ratio, largest):
    counts = exponential_counts(k, ratio, largest)
    assert counts.min() >= 1 and counts[0] == largest


@given(classes, sizes)
def test_balanced_is_balanced_and_ratio_1_or_exponent_0_are_too(k, n):
    assert set(balanced_counts(k, n).tolist()) == {n}
    assert set(exponential_counts(k, 1, n).tolist()) == {n}
    assert set(zipf_counts(k, 0, n).tolist()) == {n}


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=50), st.data())
def test_frequency_accuracies_are_monotone_in_the_training_count_within_tail_and_head(train, data):
    if not any(train):
        train[0] = 1
    head = data.draw(st.floats(min_value=0, max_value=1))
    tail = data.draw(st.floats(min_value=0, max_value=1))
    accuracies = frequency_accuracies(train, head, tail)
    order = np.argsort(train, kind="stable")
    steps = np.diff(accuracies[order])
    assert np.all(steps >= 0) if head >= tail else np.all(steps <= 0)
    assert np.all((accuracies >= min(head, tail)) & (accuracies <= max(head, tail)))
    assert accuracies[int(np.argmax(train))] == head
    smallest = min(count for count in train if count > 0)
    if smallest < max(train):
        assert accuracies[train.index(smallest)] == tail


def test_frequency_accuracies_are_linear_in_log_count():
    accuracies = frequency_accuracies([1000, 100, 10, 0], 0.9, 0.3)
    assert accuracies.tolist() == pytest.approx([0.9, 0.6, 0.3, 0.3], abs=1e-15)
    assert frequency_accuracies([7, 7], 0.9, 0.3).tolist() == [0.9, 0.9]


def test_profiles_by_name_match_their_functions():
    assert (
        class_counts("exponential", 10, ratio=100, largest=5000).tolist()
        == exponential_counts(10, 100, 5000).tolist()
    )
    assert class_counts("zipf", 4, exponent=1, largest=12).tolist() == [12, 6, 4, 3]
    assert class_counts("explicit", 3, counts=[1e3, 0, 5.0]).tolist() == [1000, 0, 5]
    assert class_counts("imagenet_lt", 1000).tolist() == imagenet_lt_counts().tolist()
    train = np.array([100, 10, 1])
    assert class_accuracies("uniform", train, value=0.7).tolist() == [0.7] * 3
    assert class_accuracies("explicit", train, values=[1, 0.5, 0]).tolist() == [1.0, 0.5, 0.0]
    assert class_accuracies("frequency", train, head=1, tail=0).tolist() == pytest.approx([1, 0.5, 0])
    assert uniform_accuracies(2, 1).tolist() == explicit_accuracies(2, [1, 1]).tolist()


def test_error_spreads_are_row_stochastic_with_a_zero_diagonal():
    train = np.array([600, 300, 100, 0])
    uniform = error_spread("uniform", train)
    assert uniform.tolist() == [[0 if i == j else 1 / 3 for j in range(4)] for i in range(4)]
    frequency = error_spread("frequency", train)
    assert frequency[0].tolist() == [0, 0.75, 0.25, 0]  # to the head of the others
    assert frequency[3].tolist() == [0.6, 0.3, 0.1, 0]
    assert error_spread("frequency", np.array([5, 0, 0]))[0].tolist() == [
        0,
        0.5,
        0.5,
    ]  # nothing to weigh: uniform
    for spread in (uniform, frequency):
        assert np.allclose(spread.sum(axis=1), 1) and not np.diag(spread).any()


def test_a_confusion_matrix_gives_accuracies_and_spread():
    accuracies, spread = confusion_model([[8, 1, 1], [0, 5, 0], [3, 1, 0]], 3)
    assert accuracies.tolist() == [0.8, 1.0, 0.0]
    assert spread.tolist() == [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.75, 0.25, 0]]
    assert spread_of_matrix([[9, 2, 6], [1, 0, 3], [0, 0, 7]], 3).tolist() == [
        [0, 0.25, 0.75],
        [0.25, 0, 0.75],
        [0.5, 0.5, 0],
    ]


def test_bands_use_the_metrics_cut_offs():
    train = np.array([101, 100, 20, 19, 0])
    assert class_bands(train) == ("many", "medium", "medium", "few", "few")
    labels = np.arange(5)
    scores = np.eye(5, dtype=np.float64)
    values = multiclass_metrics(labels, scores, training_counts=train)
    assert {key for key in values if key.startswith("recall/") and "class" not in key} == {
        "recall/many",
        "recall/medium",
        "recall/few",
    }


@pytest.mark.parametrize(
    "call, line",
    [
        (lambda: balanced_counts(1, 10), "classes=1 is not a whole number in [2, 100000]"),
        (
            lambda: balanced_counts(MAX_CLASSES + 1, 10),
            f"classes={MAX_CLASSES + 1} is not a whole number in [2, 100000]",
        ),
        (lambda: balanced_counts(3, -1), "per_class=-1 is not a whole number in [1, 9007199254740992]"),
        (lambda: balanced_counts(3, 2.5), "per_class=2.5 is not a whole number in [1, 9007199254740992]"),
        (lambda: exponential_counts(10, 0.5, 100), "ratio=0.5 is not an imbalance ratio n_max / n_min >= 1"),
        (
            lambda: exponential_counts(10, math.nan, 100),
            "ratio=nan is not an imbalance ratio n_max / n_min >= 1",
        ),
        (
            lambda: exponential_counts(10, math.inf, 100),
            "ratio=inf is not an imbalance ratio n_max / n_min >= 1",
        ),
        (
            lambda: exponential_counts(10, 10, 100, min_count=101),
            "min_count=101 is not a whole number in [0, 100]",
        ),
        (lambda: zipf_counts(10, -1, 100), "exponent=-1 is not a Zipf exponent >= 0"),
        (lambda: zipf_counts(10, 1, 1e300), "largest=1e+300 is not a whole number in [1, 9007199254740992]"),
        (
            lambda: balanced_counts(100, MAX_TOTAL),
            "per_class=9007199254740992 x classes=100 total 900,719,925,474,099,200 samples; "
            "allowed: at most 9,007,199,254,740,992 (2^53) in all",
        ),
        (lambda: explicit_counts(3, [1, 2]), "counts has 2 values; allowed: 3, one a class (classes=3)"),
        (lambda: explicit_counts(2, [1, -2]), "counts[1]=-2 is not a whole number >= 0"),
        (lambda: explicit_counts(2, [1, math.nan]), "counts[1]=nan is not a whole number >= 0"),
        (lambda: explicit_counts(2, [0, 0]), "counts are all 0; allowed: at least one sample in all"),
        (lambda: explicit_counts(2, "10,10"), "counts='10,10' is not a list; allowed: 2 values, one a class"),
        (
            lambda: class_counts("pareto", 3),
            "profile='pareto' is not one of: balanced, exponential, zipf, imagenet_lt, explicit",
        ),
        (
            lambda: class_counts("zipf", 3, exponent=1),
            "largest is missing: profile zipf needs exponent, largest (optional: min_count)",
        ),
        (
            lambda: class_counts("balanced", 3, per_class=3, ratio=2),
            "ratio is not a setting of profile balanced; its settings: per_class",
        ),
        (lambda: uniform_accuracies(3, 1.5), "value=1.5 is outside [0, 1]"),
        (lambda: explicit_accuracies(2, [0.5, math.nan]), "values[1]=nan is not a number in [0, 1]"),
        (
            lambda: explicit_accuracies(3, [0.5, 0.5]),
            "values has 2 values; allowed: 3, one a class (classes=3)",
        ),
        (lambda: frequency_accuracies([10, 1], 0.9, -0.1), "tail=-0.1 is outside [0, 1]"),
        (
            lambda: frequency_accuracies([10, -1], 0.9, 0.1),
            "training_counts[1]=-1 is not a finite number >= 0",
        ),
        (
            lambda: frequency_accuracies([10], 0.9, 0.1),
            "training_counts: classes=1 is not a whole number in [2, 100000]",
        ),
        (
            lambda: frequency_accuracies([0, 0], 0.9, 0.1),
            "training_counts are all 0; allowed: at least one training sample",
        ),
        (lambda: error_spread("head", np.array([1, 2])), "errors='head' is not one of: uniform, frequency"),
        (lambda: spread_of_matrix([[0, 1], [1, -1]], 2), "errors[1][1]=-1 is not a finite number >= 0"),
        (lambda: spread_of_matrix([[0, 1]], 2), "errors has 1 values; allowed: 2, one a class (classes=2)"),
        (
            lambda: confusion_model([[0, 0], [1, 1]], 2),
            "confusion[0] is all 0; allowed: a row with a sum > 0",
        ),
    ],
)
def test_bad_values_get_one_line_naming_parameter_value_and_what_is_allowed(call, line):
    with pytest.raises(InvalidValue) as error:
        call()
    assert str(error.value) == line
