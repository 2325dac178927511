"""The K-class cell: every bad value refused in one line, its name, its seed (the binary cell's at
K = 2), its exact expected confusion, and its binary cell at K = 2."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.cell import (
    as_binary_cell,
    expected_confusion,
    make_multiclass_cell,
)

NAN = float("nan")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            dict(counts=[10, -1, 3], accuracies=[0.9] * 3),
            "counts[1]=-1 is not a whole number in [0, 1000000000000]",
        ),
        (dict(counts=[10, NAN], accuracies=[0.9] * 2), "counts[1]=nan is not a whole number"),
        (dict(counts=[10, 2.5], accuracies=[0.9] * 2), "counts[1]=2.5 is not a whole number"),
        (dict(counts=[10], accuracies=[0.9]), "counts has K=1 classes; allowed: K >= 2"),
        (dict(counts=[0, 0, 0], accuracies=[0.9] * 3), "counts=[0, 0, 0] has no sample"),
        (dict(counts="10,20", accuracies=[0.9] * 2), "counts='10,20' is not a list of numbers"),
        (dict(counts=[10, 20], accuracies=[0.9, 1.5]), "accuracies[1]=1.5 is outside [0, 1]"),
        (dict(counts=[10, 20], accuracies=[0.9, -0.1]), "accuracies[1]=-0.1 is outside [0, 1]"),
        (dict(counts=[10, 20], accuracies=[NAN, 0.5]), "accuracies[0]=nan is not a number in [0, 1]"),
        (dict(counts=[10, 20, 5], accuracies=[0.9, 0.8]), "accuracies has 2 values; allowed: 3"),
        (dict(counts=[10, 20]), "accuracies=None: spread='uniform' needs 2 accuracies"),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], training_counts=[1, 2, 3]),
            "training_counts has 3 values; allowed: 2",
        ),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], training_counts=[1, -2]),
            "training_counts[1]=-2 is not a whole number",
        ),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], spread="zipf"),
            "spread='zipf' is not one of: uniform, frequency",
        ),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], spread=3),
            "spread=3 is not one of: uniform, frequency",
        ),
        (dict(counts=[10, 20, 5], spread=[[1, 0, 0], [0, 1, 0]]), "spread has 2 rows; allowed: 3 x 3"),
        (dict(counts=[10, 20], spread=[[1, 0], [0, 1, 2]]), "spread[1]=[0, 1, 2] is not a row of 2 numbers"),
        (dict(counts=[10, 20], spread=[[1, 0], [0, 0]]), "spread[1] sums to 0"),
        (dict(counts=[10, 20], spread=[[1, -1], [0, 1]]), "spread[0][1]=-1 is not a finite number >= 0"),
        (dict(counts=[10, 20], spread=[[1, NAN], [0, 1]]), "spread[0][1]=nan is not a finite number >= 0"),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], spread=[[9, 1], [2, 8]]),
            "accuracies=[0.9, 0.8] beside",
        ),
        (
            dict(counts=[10, 20], accuracies=[0.9, 0.8], replicate=-1),
            "replicate=-1 is not a whole number >= 0",
        ),
        (dict(counts=[10, 20], accuracies=[0.9, 0.8], threshold_free="yes"), "threshold_free='yes' is not"),
    ],
)
def test_a_bad_value_gets_one_line_naming_it(arguments, message):
    with pytest.raises(InvalidValue) as raised:
        make_multiclass_cell(**arguments)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text


def test_the_name_shows_what_differs_from_the_defaults():
    assert make_multiclass_cell([900, 90, 10], [0.99, 0.9, 0.5]).name == "n=[900,90,10] a=[0.99,0.9,0.5]"
    cell = make_multiclass_cell(
        [900, 90, 10], [0.99, 0.9, 0.5], spread="frequency", training_counts=[1000, 100, 1], replicate=2
    )
    assert cell.name == "n=[900,90,10] a=[0.99,0.9,0.5] spread=frequency train=[1000,100,1] rep=2"
    long = make_multiclass_cell(list(range(10, 0, -1)), [1.0] * 10)
    assert long.name == "n=[10,9,8,7,...,1] a=[1,1,1,1,...,1]"
    assert make_multiclass_cell([3, 1], spread=[[3, 1], [4, 0]]).name == "n=[3,1] a=[0.75,0] spread=matrix"


@given(
    counts=st.tuples(st.integers(0, 10**7), st.integers(0, 10**7)).filter(any),
    accuracies=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    replicate=st.integers(0, 5),
    seed=st.integers(0, 2**32),
)
def test_at_k_2_the_seed_and_the_binary_cell_are_the_binary_ones(counts, accuracies, replicate, seed):
    cell = make_multiclass_cell(counts, accuracies, replicate=replicate)
    binary = Cell(*counts, *accuracies, replicate=replicate)
    assert as_binary_cell(cell) == binary
    mine, theirs = cell.seed_sequence(seed), binary.seed_sequence(seed)
    assert np.array_equal(mine.generate_state(8), theirs.generate_state(8))


def test_only_a_k_2_cell_has_a_binary_cell():
    with pytest.raises(InvalidValue, match=r"^counts has K=3 classes; allowed: K = 2 for a binary cell$"):
        as_binary_cell(make_multiclass_cell([1, 2, 3], [0.5] * 3))


def test_a_matrix_sets_the_accuracies_and_is_its_own_expected_confusion():
    """Rows summing to a power of two: a_k = M_kk / S_k is exact, so the expectation is the matrix."""
    matrix = [[5, 2, 1], [0, 16, 0], [1, 1, 2]]
    cell = make_multiclass_cell([10, 10, 10], spread=matrix)
    assert cell.accuracies == (0.625, 1.0, 0.5)
    assert expected_confusion(cell) == [[Fraction(m, sum(row)) for m in row] for row in matrix]
    rates = [[0.5, 0.25, 0.25], [0.125, 0.75, 0.125], [0.0, 0.0, 1.0]]  # rates, exact in binary
    assert expected_confusion(make_multiclass_cell([1, 1, 1], spread=rates)) == [
        [Fraction(value) for value in row] for row in rates
    ]


def test_the_rules_expected_confusion():
    uniform = make_multiclass_cell([1, 1, 1, 1, 1], [0.75, 0.5, 1.0, 0.0, 0.25])
    assert expected_confusion(uniform)[0] == [
        Fraction(3, 4),
        Fraction(1, 16),
        Fraction(1, 16),
        Fraction(1, 16),
        Fraction(1, 16),
    ]
    frequency = make_multiclass_cell(
        [1, 1, 1], [0.5, 0.75, 1.0], spread="frequency", training_counts=[6, 3, 1]
    )
    assert expected_confusion(frequency) == [
        [Fraction(1, 2), Fraction(3, 8), Fraction(1, 8)],
        [Fraction(6, 28), Fraction(3, 4), Fraction(1, 28)],
        [Fraction(0), Fraction(0), Fraction(1)],
    ]
    # errors towards classes of no training samples only: uniform
    no_head = make_multiclass_cell([1, 1, 1], [0.5, 0.5, 0.5], spread="frequency", training_counts=[5, 0, 0])
    assert expected_confusion(no_head)[0] == [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]
    # an all-zero off-diagonal row of a matrix: uniform
    diagonal = make_multiclass_cell([1, 1, 1], spread=[[1, 0, 0], [0, 3, 1], [0, 0, 2]])
    assert expected_confusion(diagonal)[0] == [Fraction(1), Fraction(0), Fraction(0)]


matrices = st.integers(2, 5).flatmap(
    lambda k: st.lists(
        st.lists(st.integers(0, 1000), min_size=k, max_size=k).filter(any), min_size=k, max_size=k
    )
)


@given(matrix=matrices)
def test_the_expected_confusion_of_any_count_matrix_is_its_normalisation(matrix):
    """Exactly: the diagonal is the float a_k = M_kk / S_k, the off-diagonal keeps M's ratios, rows
    sum to 1; where M_kk / S_k is exact in float64, the whole row is M's row over S_k."""
    cell = make_multiclass_cell([1] * len(matrix), spread=matrix)
    for k, (row, expected) in enumerate(zip(matrix, expected_confusion(cell), strict=True)):
        assert sum(expected) == 1
        assert expected[k] == Fraction(float(Fraction(row[k], sum(row))))
        off = [c for c in range(len(row)) if c != k]
        if any(row[c] for c in off):
            for c in off:
                assert expected[c] * sum(row[i] for i in off) == (1 - expected[k]) * row[c]
        if Fraction(float(Fraction(row[k], sum(row)))) == Fraction(row[k], sum(row)):
            assert expected == [Fraction(m, sum(row)) for m in row]


@given(
    data=st.data(),
    classes=st.integers(2, 5),
    spread=st.sampled_from(["uniform", "frequency"]),
)
def test_permuting_the_classes_permutes_the_expected_confusion(data, classes, spread):
    accuracies = data.draw(st.lists(st.floats(0, 1), min_size=classes, max_size=classes))
    training = data.draw(st.lists(st.integers(0, 10**6), min_size=classes, max_size=classes))
    order = data.draw(st.permutations(range(classes)))
    cell = make_multiclass_cell([1] * classes, accuracies, spread=spread, training_counts=training)
    permuted = make_multiclass_cell(
        [1] * classes,
        [accuracies[k] for k in order],
        spread=spread,
        training_counts=[training[k] for k in order],
    )
    original, moved = expected_confusion(cell), expected_confusion(permuted)
    for i, k in enumerate(order):
        for j, c in enumerate(order):
            assert moved[i][j] == original[k][c]
