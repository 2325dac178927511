"""The metrics of float (expected) confusion counts, for many priors at once
(confusion.float_confusion_metrics, which prior_flip evaluates): the same values as the integer
counts' confusion_metrics, whatever the counts, one set or a stack of them."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imbalance_sweep.core.multiclass.confusion import confusion_metrics, float_confusion_metrics


def marginals(confusion):
    confusion = np.asarray(confusion, dtype=np.float64)
    return (
        np.diagonal(confusion, axis1=-2, axis2=-1).copy(),
        confusion.sum(axis=-1),
        confusion.sum(axis=-2),
    )


@st.composite
def count_matrices(draw):
    classes = draw(st.integers(2, 6))
    stack = draw(st.integers(1, 4))
    counts = draw(arrays(np.int64, (stack, classes, classes), elements=st.integers(0, 50)))
    counts[:, 0, 0] += 1  # at least one row in each set
    return counts


@given(count_matrices())
def test_float_counts_give_the_values_of_the_integer_counts(counts):
    stacked = float_confusion_metrics(*marginals(counts))
    for index, confusion in enumerate(counts):
        one = float_confusion_metrics(*marginals(confusion))
        exact = confusion_metrics(confusion)
        assert set(one) == set(exact) == set(stacked)
        for key, value in exact.items():
            assert float(one[key]) == pytest.approx(value, rel=1e-12, abs=1e-15), key
            assert float(stacked[key][index]) == float(one[key]), key


def test_scaling_the_counts_keeps_the_values():
    """A prior times confusion rates is the counts over their total: the same metrics."""
    counts = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    exact = confusion_metrics(counts)
    scaled = float_confusion_metrics(*marginals(counts / counts.sum()))
    assert {key: float(value) for key, value in scaled.items()} == pytest.approx(exact, rel=1e-14)
