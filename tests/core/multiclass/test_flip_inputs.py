"""A K-class model as prior_flip's inputs (core/multiclass/flip_inputs.py): each loss under a prior is
the exact expected mode's at counts of that prior, the confusion rates are the cell's expected
confusion, and bad values are one line each."""

from fractions import Fraction

import numpy as np
import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.cell import expected_confusion, make_multiclass_cell
from imbalance_sweep.core.multiclass.expected import expected_multiclass
from imbalance_sweep.core.multiclass.flip_inputs import model_class_values
from imbalance_sweep.core.multiclass.profiles import error_spread
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES

TRAIN = np.array([800, 300, 90, 40, 12])
ACCURACIES = [0.95, 0.8, 0.6, 0.45, 0.3]
SETTINGS = {"alpha": 0.5, "gamma": 1.5, "beta": 0.999, "tau": 0.7, "max_margin": 0.4, "scale": 2.0}


@pytest.mark.parametrize("errors", ["uniform", "frequency"])
def test_each_loss_at_a_prior_is_the_expected_mode_at_those_counts(errors):
    values = model_class_values("m", ACCURACIES, errors, TRAIN, **SETTINGS)
    counts = np.array([200, 200, 100, 300, 200])  # prior: counts / 1000
    expected = expected_multiclass(
        counts, ACCURACIES, error_spread(errors, TRAIN), training_counts=TRAIN, **SETTINGS
    )
    for loss in MULTICLASS_LOSS_NAMES:
        assert counts / 1000 @ values.weighted_terms(loss) == pytest.approx(
            expected[f"loss/{loss}"], rel=1e-12
        )


def test_the_confusion_rates_are_the_cells_expected_confusion():
    values = model_class_values("m", ACCURACIES, "frequency", TRAIN, losses=[])
    cell = make_multiclass_cell(TRAIN, ACCURACIES, spread="frequency")
    exact = np.array([[float(Fraction(rate)) for rate in row] for row in expected_confusion(cell)])
    np.testing.assert_allclose(values.confusion, exact, rtol=1e-15, atol=1e-17)
    assert dict(values.loss_terms) == {}


def test_an_error_spread_given_as_a_matrix():
    spread = np.array([[0, 1, 0], [0.5, 0, 0.5], [1, 0, 0]])
    values = model_class_values("m", [0.9, 0.8, 0.7], spread, [10, 10, 10], losses=["cce"])
    np.testing.assert_allclose(values.confusion, [[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0.3, 0, 0.7]], atol=1e-15)


@pytest.mark.parametrize(
    "accuracies, errors, training, settings, message",
    [
        ([0.9], "uniform", [1], {}, "classes=1 is not a whole number >= 2"),
        ([0.9, 1.2], "uniform", [5, 5], {}, "accuracies[1]=1.2 is outside [0, 1]"),
        ([0.9, 0.8], "head", [5, 5], {}, "errors='head' is not one of: uniform, frequency"),
        ([0.9, 0.8], [[0, 1], [0.5, 0]], [5, 5], {}, "error_spread[1] sums to 0.5"),
        ([0.9, 0.8], "uniform", [5, 0], {}, "training_counts[1]=0 is not a finite number > 0"),
        ([0.9, 0.8], "uniform", [5, 5, 5], {}, "training_counts has shape (3,); allowed: (2,)"),
        ([0.9, 0.8], "uniform", [5, 5], {"beta": 1}, "beta=1 is not a number in [0, 1)"),
    ],
)
def test_bad_values_are_one_line(accuracies, errors, training, settings, message):
    with pytest.raises(InvalidValue) as error:
        model_class_values("m", accuracies, errors, training, **settings)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
