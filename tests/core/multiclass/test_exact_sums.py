"""Exact sums of float32 values (core.multiclass.exact_sums): the exact rational sum, whatever the
chunks; inf and nan as float addition gives them."""

import itertools
import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imbalance_sweep.core.multiclass.exact_sums import ExactSums

any_finite_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@given(
    arrays(np.float32, st.integers(0, 80), elements=any_finite_float32),
    st.integers(1, 4),
    st.lists(st.integers(0, 80), max_size=5),
    st.data(),
)
def test_the_sums_are_the_exact_sums_of_each_group_however_chunked(values, groups, cuts, data):
    labels = data.draw(arrays(np.intp, values.size, elements=st.integers(0, groups - 1)))
    exact = [sum((Fraction(float(v)) for v in values[labels == g]), Fraction(0)) for g in range(groups)]
    sums = ExactSums(groups)
    edges = [0, *sorted(min(cut, values.size) for cut in cuts), values.size]
    for start, stop in itertools.pairwise(edges):
        sums.add(values[start:stop], labels[start:stop])
    assert sums.totals() == exact


def test_subnormals_zeros_and_signs_count_exactly():
    values = np.array([1e-45, -1e-45, 3e-39, -0.0, 0.0, 3.4e38, 3.4e38, -1.0], dtype=np.float32)
    sums = ExactSums(1)
    sums.add(values, np.zeros(values.size, dtype=np.intp))
    assert sums.totals() == [sum(Fraction(float(v)) for v in values)]
    assert float(sums.totals()[0]) == math.fsum(float(v) for v in values)  # past float32's range: no overflow


def test_inf_and_nan_come_out_as_float_addition_has_them():
    def total(*values):
        sums = ExactSums(1)
        sums.add(np.array(values, dtype=np.float32), np.zeros(len(values), dtype=np.intp))
        return sums.totals()[0]

    assert total(1.0, np.inf) == math.inf
    assert total(1.0, -np.inf) == -math.inf
    assert math.isnan(total(np.inf, -np.inf))
    assert math.isnan(total(1.0, np.nan))
