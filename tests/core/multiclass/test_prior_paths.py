"""Paths through the priors of K classes (core/multiclass/prior_paths.py): their priors, and bad
paths refused with one line each."""

import math

import numpy as np
import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.prior_paths import exponential_path, line_path, zipf_path


def test_a_line_runs_from_its_start_to_its_end():
    path = line_path([0.7, 0.2, 0.1], [0.1, 0.2, 0.7])
    priors = path.priors(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(
        priors, [[0.7, 0.2, 0.1], [0.4, 0.2, 0.4], [0.1, 0.2, 0.7]], rtol=0, atol=1e-16
    )
    assert (path.classes, path.parameter, path.low, path.high) == (3, "t", 0.0, 1.0)


def test_an_exponential_profile_has_its_imbalance_ratio():
    """pi_k proportional to rho^(-k/(K-1)): pi_0 / pi_{K-1} = rho, evenly spaced in log."""
    path = exponential_path(5, 1, 100)
    priors = path.priors(np.array([1.0, 10.0, 100.0]))
    assert priors[0].tolist() == pytest.approx([0.2] * 5, rel=1e-15)
    assert priors[1, 0] / priors[1, -1] == pytest.approx(10.0, rel=1e-14)
    assert priors[2, 0] / priors[2, -1] == pytest.approx(100.0, rel=1e-14)
    assert np.diff(np.log(priors[2])).tolist() == pytest.approx([-math.log(100) / 4] * 4, rel=1e-12)
    assert priors.sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0], rel=1e-15)
    assert path.scan(3).tolist() == pytest.approx([1.0, 10.0, 100.0], rel=1e-15)


def test_a_zipf_profile_falls_as_a_power_of_the_rank():
    priors = zipf_path(4, 0, 3).priors(np.array([2.0]))[0]
    expected = np.array([1, 1 / 4, 1 / 9, 1 / 16])
    assert priors.tolist() == pytest.approx((expected / expected.sum()).tolist(), rel=1e-15)


def test_a_steep_profile_does_not_overflow():
    priors = zipf_path(1000, 0, 1e6).priors(np.array([1e6]))[0]
    assert priors[0] == 1.0 and priors[1:].max() == 0.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: line_path([0.5, 0.6], [0.5, 0.5]), "start sums to 1.1; allowed: class priors summing to 1"),
        (lambda: line_path([1.0], [1.0]), "start has K=1 class; allowed: K >= 2 classes"),
        (lambda: line_path("abc", [0.5, 0.5]), "start='abc' is not a list of K >= 2 class priors"),
        (lambda: line_path([[0.5, 0.5]], [0.5, 0.5]), "start=[[0.5, 0.5]] is not a list of K >= 2"),
        (lambda: line_path([1.2, -0.2], [0.5, 0.5]), "start[1]=-0.2 is not a finite number >= 0"),
        (lambda: line_path([float("nan"), 1.0], [0.5, 0.5]), "start[0]=nan is not a finite number >= 0"),
        (
            lambda: line_path([0.5, 0.5], [0.2, 0.3, 0.5]),
            "end has shape (3,); allowed: (2,), one number a class",
        ),
        (lambda: line_path([0.5, 0.5], [0.5, 0.5]), "end=[0.5, 0.5] is the prior start is"),
        (lambda: exponential_path(1, 1, 10), "classes=1 is not a whole number >= 2"),
        (lambda: exponential_path(3, 0.5, 10), "rho_low=0.5 is not a finite number >= 1"),
        (lambda: exponential_path(3, 1, float("inf")), "rho_high=inf is not a finite number >= 1"),
        (
            lambda: exponential_path(3, 10, 10),
            "rho_high=10 is not above rho_low=10; allowed: rho_low < rho_high",
        ),
        (lambda: zipf_path(3, -1, 2), "s_low=-1 is not a finite number >= 0"),
        (lambda: zipf_path(3, 0, "2"), "s_high='2' is not a finite number >= 0"),
        (lambda: zipf_path(3, 2, 1), "s_high=1 is not above s_low=2; allowed: s_low < s_high"),
        (lambda: zipf_path(2.5, 0, 1), "classes=2.5 is not a whole number >= 2"),
    ],
)
def test_bad_paths_get_one_line(make, message):
    with pytest.raises(InvalidValue) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)
