"""Exact sums of float32 or float64 values per group: the same bits however the values are split
into chunks, ordered or merged.

A float sum rounds at every step, so two splits of the same values give sums a few ulps apart, and
chunked losses and metrics would change with the chunk size. Here values are summed per group and
binade (the exponent field), where no rounding happens: float32 values of one binade are multiples
of one power of two with 24-bit significands, so a float64 ``bincount`` of at most
:data:`CALL_LIMIT` of them (signed) is exact; float64 values have 53-bit significands, summed as two
integer halves (27 and 26 bits). inf and nan are kept aside per group and give the total that float
addition gives. The totals come out as exact fractions (the losses weight them exactly) or rounded
once to float64 (the metrics). The int64 tables are exact up to 2^39 float32 or 2^36 float64 values
per group and binade.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]
Groups = NDArray[np.intp] | int  # each value's group, or one group for all

CALL_LIMIT = 1 << 24  # values a bincount adds at once: 2^24 x a 27-bit part < 2^53, exact in float64

# A value is significand * 2^(max(exponent field, 1) - bias - fraction bits), with the implicit 1 in
# the significand where the exponent field is not 0 (float32: 8 and 23 bits, bias 127; float64: 11
# and 52, bias 1023). Sums are kept in units of 2^-1074, float64's smallest value: a part of
# significand s in binade e weighs s << weight(e) units.
_UNITS = 1 << 1074
_F64_LOW_BITS = 26
_F32_EXPONENTS = 0xFF  # the exponent field's mask once the 23 fraction bits are shifted out
_F64_EXPONENTS = 0x7FF  # the same for float64's 52
_F64_HIGH_BITS = np.uint64(~((1 << _F64_LOW_BITS) - 1) & 0xFFFFFFFFFFFFFFFF)  # all but the low 26
# the highest exponent field whose values' high parts, 2^24 of them, sum below the largest float
_F64_SUMMABLE = 1023 + 1023 - 24 - 1


class ExactSums:
    """Per group (0..groups-1), the exact sum of the float32 or float64 values added to it.

    Memory: one int64 per group for each distinct weight of a part seen (a few hundred at most),
    not a table of every binade of every group, and three flags per group for inf and nan.
    """

    def __init__(self, groups: int):
        self.groups = groups
        self._by_weight: dict[int, NDArray[np.int64]] = {}  # weight -> per group, sum of parts
        self._not_finite = np.zeros((3, groups), dtype=bool)  # rows: +inf, -inf, nan seen

    def add(self, groups: Groups, values: Floats) -> None:
        """Add ``values[i]`` to group ``groups[i]`` (same shape; float32 or float64), or every value
        to group ``groups`` where it is a whole number (no array of groups to build and read)."""
        if values.dtype not in (np.float32, np.float64):
            raise TypeError(f"ExactSums adds float32 or float64 values, not {values.dtype}")
        values = values.ravel()
        if not isinstance(groups, int):
            groups = groups.ravel()
        for start in range(0, values.size, CALL_LIMIT):
            part = slice(start, start + CALL_LIMIT)
            part_groups = groups if isinstance(groups, int) else groups[part]
            if values.dtype == np.float32:
                self._add_float32(part_groups, values[part])
            else:
                self._add_float64(part_groups, values[part])

    def _add_float32(self, groups: Groups, values: Floats) -> None:
        """The values themselves, in float64 (exactly), in place of their significands: a binade's
        sum is then signed significand sum * 2^(max(exponent, 1) - 150), scaled back."""
        if values.size == 0:
            return
        exponent = (values.view(np.uint32) >> 23).astype(np.intp)  # with the sign bit above it
        if int(exponent.max()) >= _F32_EXPONENTS:  # a negative, inf or nan value
            exponent &= _F32_EXPONENTS
            finite = self._finite_only(groups, values, exponent == _F32_EXPONENTS)
            if finite is not None:
                groups, values, exponent = _selected(groups, finite), values[finite], exponent[finite]
        self._add_part(groups, exponent, values, 1074 - 127 - 23, scale=150)

    def _add_float64(self, groups: Groups, values: Floats, scaled_down: int = 0) -> None:
        """The significands in two integer halves, signed as their values: each value split exactly
        into ``high`` (the value with its low 26 significand bits cleared) and ``low = value - high``
        (those bits), summed per binade of the value as floats (exact: 27 and 26 bits, at most
        2^24 values a call) and scaled back to the halves' integer sums. Values whose sums could
        pass the largest float are added scaled down by 2^-1000 (exact), ``scaled_down`` = 1000."""
        if values.size == 0:
            return
        bits = values.view(np.uint64)
        exponent = (bits >> np.uint64(52)).astype(np.intp)  # with the sign bit above it
        if int(exponent.max()) >= _F64_EXPONENTS:  # a negative, inf or nan value
            exponent &= _F64_EXPONENTS
            finite = self._finite_only(groups, values, exponent == _F64_EXPONENTS)
            if finite is not None:
                groups, values, exponent = _selected(groups, finite), values[finite], exponent[finite]
        if values.size and int(exponent.max()) > _F64_SUMMABLE:
            huge = exponent > _F64_SUMMABLE
            self._add_float64(_selected(groups, huge), values[huge] * 2.0**-1000, scaled_down + 1000)
            kept = ~huge
            groups, values, exponent = _selected(groups, kept), values[kept], exponent[kept]
        high = (values.view(np.uint64) & _F64_HIGH_BITS).view(np.float64)
        low = values - high
        weight = 1074 - 1023 - 52 + scaled_down
        self._add_part(groups, exponent, high, weight + _F64_LOW_BITS, scale=1075 - _F64_LOW_BITS)
        self._add_part(groups, exponent, low, weight, scale=1075)

    def _finite_only(
        self, groups: Groups, values: Floats, not_finite: NDArray[np.bool_]
    ) -> NDArray[np.bool_] | None:
        """Note each group's inf and nan values; the mask of the others, or None if all are finite."""
        if not not_finite.any():
            return None
        odd = values[not_finite]
        odd_groups = np.full(odd.size, groups) if isinstance(groups, int) else groups[not_finite]
        self._not_finite[0, odd_groups[odd > 0]] = True
        self._not_finite[1, odd_groups[odd < 0]] = True
        self._not_finite[2, odd_groups[np.isnan(odd)]] = True
        return ~not_finite

    def _add_part(
        self,
        groups: Groups,
        exponent: NDArray[np.intp],
        significand: Floats,
        weight: int,
        *,
        scale: int = 0,
    ) -> None:
        """Sum ``significand`` per group and binade, each sum times 2^(``scale`` - max(exponent, 1))
        (0: no scaling) an integer number of ``2^(weight + max(exponent, 1))`` units."""
        if exponent.size == 0:
            return
        lowest, highest = int(exponent.min()), int(exponent.max())
        span = highest - lowest + 1
        if isinstance(groups, int):  # one pass: exponent - lowest + group * span
            index = np.subtract(exponent, lowest - groups * span)
        else:
            index = groups * span
            index += exponent
            index -= lowest
        sums = np.bincount(index, weights=significand, minlength=self.groups * span)
        table_sums = sums.reshape(self.groups, span)
        if scale:
            binade = np.maximum(np.arange(lowest, highest + 1), 1)
            table_sums = np.ldexp(table_sums, scale - binade)
        table = table_sums.astype(np.int64)
        for column in np.flatnonzero(table.any(axis=0)).tolist():
            column_weight = weight + max(lowest + column, 1)
            if column_weight in self._by_weight:
                self._by_weight[column_weight] += table[:, column]
            else:
                self._by_weight[column_weight] = table[:, column].copy()

    def merged(self, other: ExactSums) -> ExactSums:
        """The sums of both (exact: the same as adding all their values to one)."""
        both = ExactSums(self.groups)
        for source in (self, other):
            for weight, sums in source._by_weight.items():
                both._by_weight[weight] = both._by_weight.get(weight, 0) + sums
        both._not_finite = self._not_finite | other._not_finite
        return both

    def exact_totals(self) -> list[Fraction | float]:
        """Each group's exact sum as a fraction; where an inf or nan was added, the float that float
        addition gives (nan, or inf of one sign)."""
        units = np.zeros(self.groups, dtype=object)
        for weight, sums in self._by_weight.items():
            units += np.array([int(value) << weight for value in sums.tolist()], dtype=object)
        positive, negative, nan = self._not_finite.tolist()
        return [
            _float_sum(positive[group], negative[group], nan[group]) or Fraction(int(total), _UNITS)
            for group, total in enumerate(units.tolist())
        ]

    def totals(self) -> NDArray[np.float64]:
        """Each group's exact sum, rounded once to the nearest float64 (beyond its range: inf of the
        sum's sign, as IEEE rounding gives)."""
        return np.array([rounded(total) for total in self.exact_totals()], dtype=np.float64)


def one_group_if_so(groups: NDArray[np.intp]) -> Groups:
    """``groups`` as one whole number where every value is in that group (a chunk of one class's
    rows), for :meth:`ExactSums.add`'s cheaper path; else as given."""
    if groups.size and groups[0] == groups[-1] and (groups == groups[0]).all():
        return int(groups[0])
    return groups


def _selected(groups: Groups, mask: NDArray[np.bool_]) -> Groups:
    """The groups of the values ``mask`` keeps."""
    return groups if isinstance(groups, int) else groups[mask]


def rounded(total: Fraction | float) -> float:
    """``total`` rounded to the nearest float64; a sum past the largest float is inf of its sign
    (``float()`` of such a fraction raises, as ``math.fsum`` does)."""
    try:
        return float(total)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def _float_sum(positive_inf: bool, negative_inf: bool, nan: bool) -> float | None:
    """What float addition gives for a group with these among its values (None: all finite)."""
    if nan or (positive_inf and negative_inf):
        return math.nan
    if positive_inf or negative_inf:
        return math.inf if positive_inf else -math.inf
    return None
