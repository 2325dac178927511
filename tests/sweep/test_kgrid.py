"""The K-class grid (conf/grid/long_tail.yaml) composed through Hydra's compose API and parsed into
cell specs (sweep/kgrid.py); bad values get one line each (the sweep of them: test_k_class_sweep.py)."""

from __future__ import annotations

import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.profiles import exponential_counts
from imbalance_sweep.sweep.kgrid import KCellSpec, is_k_grid, k_grid_cells

CIFAR_10_LT = (5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50)


def composed_grid(*overrides):
    """conf/grid/long_tail.yaml as Hydra composes it with ``overrides``, as a plain container."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="config", overrides=["grid=long_tail", *overrides])
    return OmegaConf.to_container(config.grid, resolve=True)


def test_the_shipped_long_tail_grid_gives_priors_by_models_by_seeds():
    grid = composed_grid()
    assert is_k_grid(grid)
    cells = k_grid_cells(grid)
    assert len(cells) == 3 * 2 * 1
    assert [(cell.prior, cell.model) for cell in cells[:2]] == [
        ("balanced per_class=1000", "head_heavy"),
        ("balanced per_class=1000", "even"),
    ]
    head_heavy, even = cells[0], cells[1]
    assert head_heavy.counts == (1000,) * 10
    assert head_heavy.training_counts == even.training_counts == CIFAR_10_LT
    assert head_heavy.accuracies[0] == 0.9 and head_heavy.accuracies[-1] == 0.3
    assert list(head_heavy.accuracies) == sorted(head_heavy.accuracies, reverse=True)
    assert head_heavy.errors == "frequency" and even.errors == "uniform"
    assert even.accuracies == (0.7,) * 10
    assert cells[2].counts == tuple(exponential_counts(10, 100, 1000).tolist())
    assert cells[4].counts == (1000, 500, 333, 250, 200, 166, 142, 125, 111, 100)
    assert {cell.seed for cell in cells} == {0}
    assert all(isinstance(cell, KCellSpec) and isinstance(cell.counts[0], int) for cell in cells)


def test_overrides_as_typed_on_a_command_line():
    cells = k_grid_cells(
        composed_grid(
            "grid.validation.1.ratio=50",
            "grid.validation.0.per_class=1e3",
            "grid.models.1.accuracy.value=.98",
            "grid.models.0.accuracy.head=1",
            "grid.seeds=[0,1]",
        )
    )
    assert len(cells) == 12
    assert cells[4].prior == "exponential ratio=50 largest=1000"
    assert cells[4].counts[-1] == 20
    assert cells[0].counts == (1000,) * 10
    assert cells[2].accuracies == (0.98,) * 10
    assert cells[0].accuracies[0] == 1.0
    assert [cell.seed for cell in cells[:4]] == [0, 1, 0, 1]


def test_explicit_counts_default_training_counts_and_a_confusion_matrix():
    grid = {
        "name": "three",
        "classes": 3,
        "validation": [[100, 10, 1], {"profile": "explicit", "counts": [5, 5, 5]}],
        "models": [
            {"name": "freq", "accuracy": {"profile": "frequency", "head": 0.9, "tail": 0.5}},
            {"name": "matrix", "confusion": [[8, 1, 1], [0, 5, 0], [3, 1, 0]]},
            {
                "accuracy": {"profile": "explicit", "values": [1, 0.5, 0]},
                "errors": [[0, 1, 3], [1, 0, 0], [0, 0, 0]],
            },
        ],
    }
    cells = k_grid_cells(grid)
    assert len(cells) == 6
    freq = cells[0]
    assert freq.training_counts == freq.counts == (100, 10, 1)  # no train: the validation counts
    assert freq.accuracies == pytest.approx((0.9, 0.7, 0.5))
    assert cells[3].accuracies == (0.9, 0.9, 0.9)  # a balanced training set: every class is a head class
    assert cells[1].accuracies == (0.8, 1.0, 0.0)
    assert cells[1].errors == ((0, 0.5, 0.5), (0.5, 0, 0.5), (0.75, 0.25, 0))
    assert cells[2].model == "model_2"
    assert cells[2].errors == ((0, 0.25, 0.75), (1, 0, 0), (0.5, 0.5, 0))
    assert cells[0].prior == "explicit" and cells[3].prior == "explicit counts=[5, 5, 5]"


def test_repeated_cells_are_formed_once():
    grid = composed_grid("grid.seeds=[0,0]", "grid.validation=[{profile: balanced, per_class: 10}]")
    assert len(k_grid_cells(grid)) == 2


@pytest.mark.parametrize(
    "overrides, line",
    [
        (["grid.classes=1"], "grid.classes=1 is not a whole number in [2, 100000]"),
        (["grid.classes=1000001"], "grid.classes=1000001 is not a whole number in [2, 100000]"),
        (
            ["grid.validation.1.ratio=0.5"],
            "grid.validation[1].ratio=0.5 is not an imbalance ratio n_max / n_min >= 1",
        ),
        (
            ["grid.validation.1.ratio=nan"],
            "grid.validation[1].ratio=nan is not an imbalance ratio n_max / n_min >= 1",
        ),
        (
            ["grid.validation.0.per_class=-5"],
            "grid.validation[0].per_class=-5 is not a whole number in [1, 9007199254740992]",
        ),
        (
            ["grid.validation.0.per_class=1e15"],
            "grid.validation[0].per_class=1000000000000000 x classes=10 total 10,000,000,000,000,000 "
            "samples; allowed: at most 9,007,199,254,740,992 (2^53) in all",
        ),
        (
            ["grid.validation=[[1,2,3]]"],
            "grid.validation[0] has 3 values; allowed: 10, one a class (classes=10)",
        ),
        (
            ["grid.validation.2.profile=pareto"],
            "grid.validation[2].profile='pareto' is not one of: balanced, exponential, zipf, imagenet_lt, explicit",
        ),
        (["grid.validation.2.exponent=-1"], "grid.validation[2].exponent=-1 is not a Zipf exponent >= 0"),
        (["grid.validation=[]"], "grid.validation=[] must be a non-empty list"),
        (
            ["grid.validation=[5]"],
            "grid.validation[0]=5 must be {profile: <name>, <setting>: ...} or a list of counts",
        ),
        (["grid.models.0.accuracy.head=1.5"], "grid.models[0].accuracy.head=1.5 is outside [0, 1]"),
        (["grid.models.1.accuracy.value=nan"], "grid.models[1].accuracy.value=nan is not a number in [0, 1]"),
        (
            ["grid.models.1.accuracy.profile=linear"],
            "grid.models[1].accuracy.profile='linear' is not one of: uniform, frequency, explicit",
        ),
        (
            ["+grid.models.1.accuracy.head=0.9"],
            "grid.models[1].accuracy.head is not a setting of profile uniform; its settings: value",
        ),
        (
            ["grid.models.0.errors=head"],
            "grid.models[0].errors='head' is not one of: uniform, frequency, or a 10 x 10 matrix",
        ),
        (
            ["grid.models.0.errors=[[0,1]]"],
            "grid.models[0].errors has 1 values; allowed: 10, one a class (classes=10)",
        ),
        (
            ["grid.models.0.train.ratio=0"],
            "grid.models[0].train.ratio=0 is not an imbalance ratio n_max / n_min >= 1",
        ),
        (
            ["grid.models.1.name=head_heavy"],
            "grid.models[1].name='head_heavy' is already grid.models[0]'s; give each model its own name",
        ),
        (
            ["+grid.models.0.confusion=[[1]]"],
            "grid.models[0].confusion and grid.models[0].accuracy are both set: a confusion matrix gives both",
        ),
        (
            ["+grid.models.0.acc=0.5"],
            "grid.models[0].acc is not a model key; a model's keys are: name, train, accuracy, errors, confusion, file, label",
        ),
        (
            ["grid.models.0.accuracy=null"],
            "grid.models[0].accuracy is not set: give an accuracy profile or a confusion matrix",
        ),
        (
            ["grid.models.1.accuracy=0.7"],
            "grid.models[1].accuracy=0.7 must be {profile: <name>, <setting>: ...}",
        ),
        (["grid.seeds=[-1]"], "grid.seeds[0]=-1 is not a whole number >= 0"),
        (
            ["+grid.balances=[[1,2]]"],
            "grid.balances is not a K-class grid key; its keys are: name, classes, validation, models, seeds",
        ),
    ],
)
def test_bad_values_get_one_line(overrides, line):
    grid = composed_grid(*overrides)
    with pytest.raises(InvalidValue) as error:
        k_grid_cells(grid)
    assert str(error.value) == line


def test_k_at_its_cap_is_a_grid():
    grid = composed_grid("grid.classes=100000", "grid.validation=[{profile: imagenet_lt}]")
    cells = k_grid_cells(grid)
    assert len(cells[0].counts) == len(cells[0].accuracies) == 100_000
    assert cells[0].counts[0] == 1280 and cells[0].counts[-1] == 5


def test_too_many_cells_are_refused_before_any_is_formed():
    grid = {**composed_grid(), "seeds": list(range(20_000))}  # as an override, Hydra parses it for 20 s
    with pytest.raises(InvalidValue) as error:
        k_grid_cells(grid)
    assert str(error.value) == (
        "grid: 3 validation priors x 2 models x 20000 seeds = 120000 cells, more than a sweep takes "
        "(at most 100000); split it"
    )
