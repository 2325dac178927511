"""Where two K-class models' preferences flip along a path of priors (core/multiclass/prior_flip.py):
flips worked out by hand, ties, touches, the agreement of a loss and a metric, flips against the
sign changes of a dense scan (hypothesis), and bad models one line each."""

from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass import prior_flip
from imbalance_sweep.core.multiclass.prior_flip import (
    CONFUSION_METRICS,
    EPS,
    TIE_ULPS,
    class_values,
    loss_differences,
    loss_preference,
    loss_tie_vertices,
    metric_differences,
    metric_preference,
    path_flips,
)
from imbalance_sweep.core.multiclass.prior_paths import exponential_path, line_path, zipf_path

BRUTE_POINTS = 20001


def uniform_errors(accuracies):
    """Confusion rates with accuracy a_k on the diagonal and the errors spread evenly."""
    classes = len(accuracies)
    rates = np.empty((classes, classes))
    for k, accuracy in enumerate(accuracies):
        rates[k] = (1.0 - accuracy) / (classes - 1)
        rates[k, k] = accuracy
    return rates


def model(name, terms, accuracies=None, **kwargs):
    accuracies = accuracies if accuracies is not None else [0.8] * len(terms)
    return class_values(name, uniform_errors(accuracies), {"cce": terms}, **kwargs)


# --- by hand --------------------------------------------------------------------------------------


def test_a_line_crosses_where_its_two_ends_balance():
    """d = B - A = (0.3, 0, -0.2) from class 0 to class 2: D(t) = 0.3 (1 - t) - 0.2 t, 0 at t = 0.6."""
    a, b = model("A", [0.2, 0.5, 0.3]), model("B", [0.5, 0.5, 0.1])
    found = loss_preference(a, b, "cce", line_path([1, 0, 0], [0, 0, 1]))
    assert found.flips == (pytest.approx(0.6, abs=1e-15),)
    assert [(part.low, part.preferred) for part in found.intervals] == [(0.0, "A"), (found.flips[0], "B")]
    assert found.intervals[-1].high == 1.0 and found.touches == () and found.parameter == "t"


def test_the_exponential_path_flips_at_the_roots_of_its_polynomial():
    """d = (1/8, -3/4, 1): P(x) = (x - 1/2)(x - 1/4), x = rho^(-1/2): flips at rho = 4 and 16."""
    a = model("A", [1.0, 1.0, 1.0])
    b = model("B", [1.125, 0.25, 2.0])
    found = loss_preference(a, b, "cce", exponential_path(3, 1, 100))
    assert found.flips == (pytest.approx(4.0, rel=1e-14), pytest.approx(16.0, rel=1e-14))
    assert [part.preferred for part in found.intervals] == ["A", "B", "A"]
    assert found.parameter == "rho"


def test_zipf_flips_where_its_exponential_sum_is_zero():
    """d = (1, 0, 0, -64): 1 - 64 * 4^-s = 0 at s = 3."""
    a = model("A", [1.0, 1.0, 1.0, 1.0], loss_weights={"cce": [1, 1, 1, 64]})
    b = model("B", [2.0, 1.0, 1.0, 0.0])
    found = loss_preference(a, b, "cce", zipf_path(4, 0, 10))
    assert found.flips == (pytest.approx(3.0, rel=1e-14),)
    assert [part.preferred for part in found.intervals] == ["B", "A"]


def test_double_roots_are_touches_not_flips():
    """Exponential: P(x) = (x - 1/2)^2, 0 at rho = 4 only. Zipf, classes 0, 1 and 3 (exponents 0,
    log 2, 2 log 2): (2^-s - 1/4)^2, 0 at s = 2 only. Neither changes the preferred model."""
    a = model("A", [1.0, 1.0, 1.0])
    exponential = loss_preference(a, model("B", [1.25, 0.0, 2.0]), "cce", exponential_path(3, 1, 100))
    assert exponential.flips == () and exponential.touches == (pytest.approx(4.0, rel=1e-7),)
    assert [part.preferred for part in exponential.intervals] == ["A"]
    a4 = model("A", [1.0, 1.0, 1.0, 1.0])
    b4 = model("B", [1.0625, 0.5, 1.0, 2.0])
    zipf = loss_preference(a4, b4, "cce", zipf_path(4, 0, 6))
    assert zipf.flips == () and zipf.touches == (pytest.approx(2.0, rel=1e-7),)
    assert [part.preferred for part in zipf.intervals] == ["A"]


def test_accuracy_along_a_line_flips_where_the_expected_accuracies_are_equal():
    """Accuracy is linear in the prior: A (0.95, 0.7, 0.4), B (0.85, 0.8, 0.7) from (0.8, 0.15, 0.05)
    to balanced: A - B = 0.05 (1 - t) - 0.1 t, 0 at t = 1/3 (to the rounding of the accuracies, about
    1e-16, over the slope 0.15)."""
    a = model("A", [1, 1, 1], [0.95, 0.7, 0.4])
    b = model("B", [1, 1, 1], [0.85, 0.8, 0.7])
    found = metric_preference(a, b, "accuracy", line_path([0.8, 0.15, 0.05], [1 / 3, 1 / 3, 1 / 3]))
    assert found.flips == (pytest.approx(1 / 3, abs=1e-15),)
    assert [part.preferred for part in found.intervals] == ["A", "B"]
    assert not found.lower_is_better and not found.is_loss


def test_models_that_tie_everywhere():
    """The same model twice: every loss and metric ties all along every path, and they agree."""
    a = model("A", [0.3, 0.9, 1.4], [0.9, 0.6, 0.2])
    b = model("B", [0.3, 0.9, 1.4], [0.9, 0.6, 0.2])
    for path in (line_path([0.6, 0.3, 0.1], [0.1, 0.3, 0.6]), exponential_path(3, 1, 50), zipf_path(3, 0, 4)):
        flips = path_flips(a, b, path, losses=["cce"], metrics=["f1_macro", "mcc", "recall/class_001"])
        for preference in flips.preferences:
            assert preference.flips == () and preference.touches == ()
            assert [(part.low, part.high, part.preferred) for part in preference.intervals] == [
                (path.low, path.high, "tie")
            ]
        assert all(pair.where("agree") == ((path.low, path.high),) for pair in flips.pairs)


def test_a_loss_and_a_metric_agree_and_disagree_between_their_flips():
    """From class 0 to class 2: cce's B - A is 0.3 (1 - t) - 0.2 t (A then B, flip at 0.6), accuracy's
    A - B 0.3 (1 - t) - 0.15 t (A then B, flip at 2/3): they disagree on (0.6, 2/3)."""
    a = model("A", [0.2, 0.5, 0.3], [0.9, 0.5, 0.5])
    b = model("B", [0.5, 0.5, 0.1], [0.6, 0.5, 0.65])
    flips = path_flips(a, b, line_path([1, 0, 0], [0, 0, 1]), losses="cce", metrics="accuracy")
    (pair,) = flips.pairs
    assert (pair.loss, pair.metric) == ("cce", "accuracy")
    [(low, high)] = pair.where("disagree")
    assert low == pytest.approx(0.6, abs=1e-15) and high == pytest.approx(2 / 3, abs=1e-15)
    assert [part.verdict for part in pair.intervals] == ["agree", "disagree", "agree"]
    assert [(part.loss, part.metric) for part in pair.intervals] == [("A", "A"), ("B", "A"), ("B", "B")]


def test_the_loss_tie_set_in_the_simplex_is_a_segment_between_two_edges():
    """d = (0.3, 0, -0.2): ties at the vertex of class 1 and at 0.4 e0 + 0.6 e2."""
    a, b = model("A", [0.2, 0.5, 0.3]), model("B", [0.5, 0.5, 0.1])
    corners = loss_tie_vertices(a, b, "cce")
    np.testing.assert_allclose(corners, [[0.0, 1.0, 0.0], [0.4, 0.0, 0.6]], rtol=0, atol=1e-15)
    assert loss_differences(a, b, "cce", corners) == pytest.approx([0.0, 0.0], abs=1e-16)


# --- against brute force ------------------------------------------------------------------------


@st.composite
def rows_of(draw, classes, low=0.0):
    """A row-stochastic matrix of ``classes`` classes."""
    rows = []
    for _ in range(classes):
        row = draw(st.lists(st.floats(low, 1.0), min_size=classes, max_size=classes))
        row[draw(st.integers(0, classes - 1))] += 0.5  # never all 0
        rows.append(np.array(row) / sum(row))
    return np.array(rows)


@st.composite
def models_and_path(draw):
    classes = draw(st.integers(2, 5))
    values = st.lists(st.floats(0.0, 5.0), min_size=classes, max_size=classes)
    weights = st.lists(st.floats(0.1, 3.0), min_size=classes, max_size=classes)
    a = class_values("A", draw(rows_of(classes)), {"cce": draw(values)}, {"cce": draw(weights)})
    b = class_values("B", draw(rows_of(classes)), {"cce": draw(values)}, {"cce": draw(weights)})
    kind = draw(st.sampled_from(["line", "exponential", "zipf"]))
    if kind == "line":
        start, end = draw(rows_of(classes))[:2]
        assume(not np.array_equal(start / start.sum(), end / end.sum()))
        path = line_path(start, end)
    elif kind == "exponential":
        low = draw(st.floats(1.0, 10.0))
        path = exponential_path(classes, low, low * draw(st.floats(1.5, 1000.0)))
    else:
        low = draw(st.floats(0.0, 2.0))
        path = zipf_path(classes, low, low + draw(st.floats(0.5, 5.0)))
    return a, b, path


def assert_as_a_dense_scan(preference, path, differences, tolerance):
    """Between any two neighbouring scan points whose differences are clear of 0, the flips found
    are odd in number where the sign changes and even where it does not; at each such point the
    preferred model is the one the difference says."""
    grid = path.scan(BRUTE_POINTS)
    values = differences(path.priors(grid))
    clear = np.abs(values) > tolerance
    below = np.searchsorted(np.array(preference.flips), grid, side="right")
    both = clear[:-1] & clear[1:]
    changes = np.sign(values[:-1]) != np.sign(values[1:])
    odd = (below[1:] - below[:-1]) % 2 == 1
    assert np.array_equal(odd[both], changes[both])
    said = np.where(values > 0, "A", "B")
    found = np.array([preference.preferred_at(float(value)) for value in grid])
    assert np.array_equal(found[clear], said[clear])


@given(models_and_path())
def test_loss_flips_match_a_dense_scan(case):
    a, b, path = case
    found = loss_preference(a, b, "cce", path)
    scale = float(np.abs(a.weighted_terms("cce")).max() + np.abs(b.weighted_terms("cce")).max())
    assert_as_a_dense_scan(found, path, lambda priors: loss_differences(a, b, "cce", priors), 1e-12 * scale)


@given(models_and_path())
def test_the_exponential_profile_flips_alike_by_polynomial_roots_and_by_its_sign_changes(case):
    """Above POLYNOMIAL_MAX_CLASSES the exponential profile is solved as Zipf is: the same flips."""
    a, b, path = case
    assume(path.parameter == "rho")
    by_roots = loss_preference(a, b, "cce", path)
    with mock.patch.object(prior_flip, "POLYNOMIAL_MAX_CLASSES", 1):
        by_signs = loss_preference(a, b, "cce", path)
    assert by_signs.flips == pytest.approx(by_roots.flips, rel=1e-12)
    assert [part.preferred for part in by_signs.intervals] == [part.preferred for part in by_roots.intervals]


@given(models_and_path(), st.sampled_from([*CONFUSION_METRICS, "precision/class_001", "f1/class_000"]))
def test_metric_flips_match_a_dense_scan(case, metric):
    a, b, path = case
    found = metric_preference(a, b, metric, path)
    tolerance = 4 * TIE_ULPS * a.classes * EPS
    assert_as_a_dense_scan(found, path, lambda priors: metric_differences(a, b, metric, priors), tolerance)


# --- bad models and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: class_values("model_a", [[1.0]]),
            "model_a.confusion has shape (1, 1); allowed: (K, K) with K >= 2",
        ),
        (lambda: class_values("model_a", [[0.5, 0.5, 0], [0, 1, 0]]), "model_a.confusion has shape (2, 3)"),
        (
            lambda: class_values("model_a", [[0.5, 0.4], [0, 1]]),
            "model_a.confusion[0] sums to 0.9; allowed: rows",
        ),
        (
            lambda: class_values("model_b", [[1.5, -0.5], [0, 1]]),
            "model_b.confusion[0][1]=-0.5 is not a finite",
        ),
        (lambda: class_values("model_b", [[float("nan"), 1], [0, 1]]), "model_b.confusion[0][0]=nan is not"),
        (
            lambda: class_values("model_a", np.eye(3), {"cce": [1, 2]}),
            "model_a.loss_terms['cce'] has shape (2,)",
        ),
        (
            lambda: class_values("model_a", np.eye(2), {"bce": [1, 2]}),
            "model_a.loss_terms keys[0]='bce' is not one",
        ),
        (
            lambda: class_values("model_a", np.eye(2), {"cce": [1, 2]}, {"ldam": [1, 1]}),
            "model_a.loss_weights keys[0]='ldam' is not one of: cce",
        ),
    ],
)
def test_bad_models_get_one_line(make, message):
    with pytest.raises(InvalidValue) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("b_classes", "path", "losses", "metrics", "message"),
    [
        (4, line_path([0.5, 0.5, 0], [0, 0.5, 0.5]), "cce", (), "B has K=4 classes; allowed: K=3, as A"),
        (3, exponential_path(4, 1, 10), "cce", (), "path has K=4 classes; allowed: K=3, as the models"),
        (3, zipf_path(3, 0, 1), (), "recall/class_003", "metrics[0]='recall/class_003' is not a metric of"),
        (3, zipf_path(3, 0, 1), (), ["log_loss"], "metrics[0]='log_loss' is not a metric of the confusion"),
        (3, zipf_path(3, 0, 1), ["ldam"], (), "losses[0]='ldam' is not one of: cce"),
        (3, zipf_path(3, 0, 1), (), (), "losses=[] and metrics=[]: name at least one"),
    ],
)
def test_mismatched_classes_and_unknown_names_get_one_line(b_classes, path, losses, metrics, message):
    a = model("A", [1.0, 1.0, 1.0])
    b = model("B", [1.0] * b_classes)
    with pytest.raises(InvalidValue) as error:
        path_flips(a, b, path, losses=losses, metrics=metrics)
    assert message in str(error.value) and "\n" not in str(error.value)
