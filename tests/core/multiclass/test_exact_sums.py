"""Exact sums (core.multiclass.exact_sums): per group, the exact rational sum of float32 or float64
values and its correct rounding (math.fsum), whatever the split into chunks, the order or the
merging; inf and nan as float addition gives them."""

import itertools
import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imbalance_sweep.core.multiclass.exact_sums import ExactSums

TINY_TO_ONE = st.floats(0, 1, allow_subnormal=True)


@given(
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 80),
    st.integers(1, 4),
    st.lists(st.integers(0, 80), max_size=5),
    st.data(),
)
def test_the_sums_are_the_exact_sums_of_each_group_however_chunked(dtype, size, groups, cuts, data):
    finite = st.floats(width=32 if dtype == np.float32 else 64, allow_nan=False, allow_infinity=False)
    values = data.draw(arrays(dtype, size, elements=finite))
    labels = data.draw(arrays(np.intp, size, elements=st.integers(0, groups - 1)))
    exact = [sum((Fraction(float(v)) for v in values[labels == g]), Fraction(0)) for g in range(groups)]
    sums = ExactSums(groups)
    edges = [0, *sorted(min(cut, size) for cut in cuts), size]
    for start, stop in itertools.pairwise(edges):
        sums.add(labels[start:stop], values[start:stop])
    assert sums.exact_totals() == exact
    # the exact sum's correct rounding: math.fsum's, or inf of its sign past the largest float
    # (where fsum raises OverflowError); Fraction rounds correctly too, and raises there alike
    assert sums.totals().tolist() == [_rounded_or_inf(total) for total in exact]
    finite = [g for g in range(groups) if math.isfinite(_rounded_or_inf(exact[g]))]
    fsums = {g: _fsum_or_none(values[labels == g].tolist()) for g in finite}
    assert [sums.totals()[g] for g in finite if fsums[g] is not None] == [
        fsums[g] for g in finite if fsums[g] is not None
    ]


def _fsum_or_none(values: list[float]) -> float | None:
    """math.fsum, or None where it gives no answer: its partial sums overflow (two values near
    -2^1023 and a 1.0), though the total is a float; the exact total is checked above."""
    try:
        return math.fsum(values)
    except OverflowError:
        return None


def _rounded_or_inf(total: Fraction) -> float:
    try:
        return float(total)  # a fraction rounds correctly to float64
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def test_a_sum_past_the_largest_float_is_inf_of_its_sign():
    values = np.full(100, 1e307, dtype=np.float64)  # 1e309: past 1.797...e308, the largest float
    for sign in (1.0, -1.0):
        sums = ExactSums(1)
        sums.add(np.zeros(values.size, dtype=np.intp), sign * values)
        assert sums.totals().tolist() == [sign * math.inf]
        assert sums.exact_totals() == [Fraction(int(sign)) * 100 * Fraction(1e307)]


@given(
    st.lists(st.tuples(st.integers(0, 4), TINY_TO_ONE), max_size=300),
    st.sampled_from([np.float32, np.float64]),
    st.data(),
)
def test_each_group_sums_to_fsum_of_its_values_in_any_split_order_and_merge(items, dtype, data):
    groups = np.array([group for group, _ in items], dtype=np.intp)
    values = np.array([value for _, value in items], dtype=dtype)
    expected = [math.fsum(values[groups == group].tolist()) for group in range(5)]
    order = np.array(data.draw(st.permutations(range(len(items)))), dtype=np.intp)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=5)))
    halves = [ExactSums(5), ExactSums(5)]
    for index, rows in enumerate(np.split(order, cuts)):
        halves[index % 2].add(groups[rows], values[rows])
    assert halves[0].merged(halves[1]).totals().tolist() == expected


def test_subnormals_zeros_and_signs_count_exactly():
    values = np.array([1e-45, -1e-45, 3e-39, -0.0, 0.0, 3.4e38, 3.4e38, -1.0], dtype=np.float32)
    sums = ExactSums(1)
    sums.add(np.zeros(values.size, dtype=np.intp), values)
    assert sums.exact_totals() == [sum(Fraction(float(v)) for v in values)]
    assert sums.totals()[0] == math.fsum(float(v) for v in values)  # past float32's range: no overflow


def test_extremes_of_both_dtypes_in_one_sum():
    sums = ExactSums(2)
    tiny32, tiny64 = np.finfo(np.float32).smallest_subnormal, np.finfo(np.float64).smallest_subnormal
    sums.add(np.array([0, 0, 0], dtype=np.intp), np.array([1.0, tiny32, 0.0], dtype=np.float32))
    sums.add(np.array([1, 1, 1], dtype=np.intp), np.array([tiny64, tiny64, -1.7e308]))
    sums.add(np.array([0, 1], dtype=np.intp), np.array([1.0 - 2**-52, 1.7e308]))
    assert sums.totals().tolist() == [math.fsum([1.0, float(tiny32), 1.0 - 2**-52]), 2 * float(tiny64)]


def test_inf_and_nan_come_out_as_float_addition_has_them():
    def total(dtype, *values):
        sums = ExactSums(2)
        sums.add(np.zeros(len(values), dtype=np.intp), np.array(values, dtype=dtype))
        sums.add(np.ones(2, dtype=np.intp), np.array([0.5, -0.25], dtype=dtype))  # another group
        exact, rounded = sums.exact_totals(), sums.totals()
        assert exact[1] == Fraction(1, 4) and rounded[1] == 0.25
        assert exact[0] == rounded[0] or (math.isnan(exact[0]) and math.isnan(rounded[0]))
        return exact[0]

    for dtype in (np.float32, np.float64):
        assert total(dtype, 1.0, np.inf) == math.inf
        assert total(dtype, 1.0, -np.inf, -1.0) == -math.inf
        assert math.isnan(total(dtype, np.inf, -np.inf))
        assert math.isnan(total(dtype, 1.0, np.nan))
        assert total(dtype, 2.0, 0.5) == Fraction(5, 2)


def test_merging_keeps_inf_and_nan():
    with_inf, with_nan = ExactSums(2), ExactSums(2)
    with_inf.add(np.array([0, 1], dtype=np.intp), np.array([np.inf, 1.0], dtype=np.float32))
    with_nan.add(np.array([1], dtype=np.intp), np.array([np.nan]))
    merged = with_inf.merged(with_nan).exact_totals()
    assert merged[0] == math.inf and math.isnan(merged[1])
