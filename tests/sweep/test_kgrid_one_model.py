"""One model of a K-class config (sweep/kgrid.k_model): the grid's parsing of a model entry, for the
K-class flip's two models; bad values one line each."""

from __future__ import annotations

import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.sweep.kgrid import k_grid_cells, k_model

CIFAR_10_LT = (5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50)
HEAD_HEAVY = {
    "name": "head_heavy",
    "train": {"profile": "exponential", "ratio": 100, "largest": 5000},
    "accuracy": {"profile": "frequency", "head": 0.9, "tail": 0.3},
    "errors": "frequency",
}


def test_one_model_is_what_a_grid_makes_of_it():
    model = k_model("model_a", HEAD_HEAVY, 10, default_name="A")
    grid = {"classes": 10, "validation": [{"profile": "balanced", "per_class": 10}], "models": [HEAD_HEAVY]}
    (cell,) = k_grid_cells(grid)
    assert model.name == "head_heavy" and model.training_counts == CIFAR_10_LT
    assert (model.accuracies, model.errors) == (cell.accuracies, cell.errors)


def test_a_confusion_matrix_and_the_default_name():
    model = k_model("model_b", {"train": [10, 10], "confusion": [[9, 1], [3, 7]]}, 2, default_name="B")
    assert model.name == "B" and model.accuracies == (0.9, 0.7) and model.errors == ((0.0, 1.0), (1.0, 0.0))


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"accuracy": {"profile": "uniform", "value": 0.7}}, "model_a.train is not set: give the model's"),
        ([0.7] * 3, "model_a=[0.7, 0.7, 0.7] must be {name, train, accuracy, errors}"),
        ({**HEAD_HEAVY, "train": [1, 2]}, "model_a.train has 2 values; allowed: 3"),
        ({**HEAD_HEAVY, "train": [5, 5, 5], "errors": "head"}, "model_a.errors='head' is not one of"),
        ({**HEAD_HEAVY, "colour": 1}, "model_a.colour is not a model key"),
    ],
)
def test_bad_entries_are_one_line(entry, message):
    with pytest.raises(InvalidValue) as error:
        k_model("model_a", entry, 3, default_name="A")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
