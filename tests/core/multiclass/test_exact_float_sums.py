"""Exact sums: the correctly rounded sum (math.fsum) per group, whatever the split, order or dtype."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep.core.multiclass.exact_float_sums import ExactFloatSums

TINY_TO_ONE = st.floats(0, 1, allow_subnormal=True)


@given(
    st.lists(st.tuples(st.integers(0, 4), TINY_TO_ONE), max_size=300),
    st.sampled_from([np.float32, np.float64]),
    st.data(),
)
def test_each_group_sums_to_fsum_of_its_values_in_any_split_and_order(items, dtype, data):
    groups = np.array([group for group, _ in items], dtype=np.intp)
    values = np.array([value for _, value in items], dtype=dtype)
    expected = [math.fsum(values[groups == group].tolist()) for group in range(5)]
    order = np.array(data.draw(st.permutations(range(len(items)))), dtype=np.intp)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=5)))
    halves = [ExactFloatSums(5), ExactFloatSums(5)]
    for index, rows in enumerate(np.split(order, cuts)):
        halves[index % 2].add(groups[rows], values[rows])
    assert halves[0].merged(halves[1]).totals().tolist() == expected


def test_extremes_of_both_dtypes():
    sums = ExactFloatSums(2)
    tiny32, tiny64 = np.finfo(np.float32).smallest_subnormal, np.finfo(np.float64).smallest_subnormal
    sums.add(np.array([0, 0, 0], dtype=np.intp), np.array([1.0, tiny32, 0.0], dtype=np.float32))
    sums.add(np.array([1, 1], dtype=np.intp), np.array([tiny64, tiny64]))
    sums.add(np.array([0], dtype=np.intp), np.array([1.0 - 2**-52]))
    assert sums.totals().tolist() == [math.fsum([1.0, float(tiny32), 1.0 - 2**-52]), 2 * float(tiny64)]
