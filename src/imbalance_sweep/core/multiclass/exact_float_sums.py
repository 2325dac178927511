"""Exact sums of non-negative floats per group, the same bit for bit however the values are split
into chunks or ordered.

A float sum rounds at every step, so two splits of the same samples give sums a few ulps apart.
Here values are summed per group and binade (the exponent field), where no rounding happens, and
the total is rounded once, at the end, to the nearest float64. (``exact_sums`` keeps signed
float32 sums, inf and nan among them, as exact fractions for the losses' weighted means: one exact
summer is to serve both, a step issue 26 has left.) float32 values of one binade are
multiples of one power of two with 24-bit significands, so a float64 ``bincount`` of at most
:data:`CALL_LIMIT` of them is exact; float64 values have 53-bit significands, summed as two integer
halves (27 and 26 bits). The int64 tables are exact up to some 2^35 values per group and binade."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

CALL_LIMIT = 1 << 24  # values a bincount adds at once: 2^24 x a 27-bit part < 2^53, exact in float64

# A value is significand * 2^(max(exponent field, 1) - bias - fraction bits), with the implicit 1 in
# the significand where the exponent field is not 0 (float32: 8 and 23 bits, bias 127; float64: 11
# and 52, bias 1023). Sums are kept in units of 2^-1074, float64's smallest value: a part of
# significand s in binade e weighs s << shift(e) units.
_UNITS = 1 << 1074
_F64_LOW_BITS = 26


class ExactFloatSums:
    """Per group (0..groups-1), the exact sum of the non-negative finite values added to it.

    Memory: one int64 per group for each distinct weight of a part seen (a few hundred at most),
    not a table of every binade of every group.
    """

    def __init__(self, groups: int):
        self.groups = groups
        self._by_shift: dict[int, NDArray[np.int64]] = {}  # shift -> per group, sum of parts

    def add(self, groups: NDArray[np.intp], values: NDArray[np.float32] | NDArray[np.float64]) -> None:
        """Add ``values[i]`` to group ``groups[i]`` (same shape; float32 or float64, >= 0, finite)."""
        groups, values = groups.ravel(), values.ravel()
        for start in range(0, values.size, CALL_LIMIT):
            part = slice(start, start + CALL_LIMIT)
            if values.dtype == np.float32:
                # the values themselves, in float64 (exactly), in place of their significands: a
                # binade's sum is then significand sum * 2^(max(exponent, 1) - 150), scaled back
                exponent = (values[part].view(np.uint32) >> 23).astype(np.intp)
                self._add_part(groups[part], exponent, values[part], 1074 - 127 - 23, scale=150)
            else:
                bits64 = values[part].view(np.uint64)
                exponent = (bits64 >> np.uint64(52)).astype(np.intp)
                significand64 = (bits64 & np.uint64((1 << 52) - 1)) | (
                    (exponent != 0).astype(np.uint64) << np.uint64(52)
                )
                low_mask = np.uint64((1 << _F64_LOW_BITS) - 1)
                shift = 1074 - 1023 - 52
                self._add_part(
                    groups[part], exponent, significand64 >> np.uint64(_F64_LOW_BITS), shift + _F64_LOW_BITS
                )
                self._add_part(groups[part], exponent, significand64 & low_mask, shift)

    def _add_part(
        self,
        groups: NDArray[np.intp],
        exponent: NDArray[np.intp],
        significand: NDArray[np.generic],
        shift: int,
        *,
        scale: int = 0,
    ) -> None:
        """Sum ``significand`` per group and binade, each sum times 2^(``scale`` - max(exponent, 1))
        (0: no scaling) an integer number of ``2^(shift + max(exponent, 1))`` units."""
        if exponent.size == 0:
            return
        lowest, highest = int(exponent.min()), int(exponent.max())
        span = highest - lowest + 1
        sums = np.bincount(
            groups * span + (exponent - lowest), weights=significand, minlength=self.groups * span
        )
        table_sums = sums.reshape(self.groups, span)
        if scale:
            binade = np.maximum(np.arange(lowest, highest + 1), 1)
            table_sums = np.ldexp(table_sums, scale - binade)
        table = table_sums.astype(np.int64)
        for column in np.flatnonzero(table.any(axis=0)).tolist():
            weight = shift + max(lowest + column, 1)
            if weight in self._by_shift:
                self._by_shift[weight] += table[:, column]
            else:
                self._by_shift[weight] = table[:, column].copy()

    def merged(self, other: ExactFloatSums) -> ExactFloatSums:
        """The sums of both (exact: the same as adding all their values to one)."""
        both = ExactFloatSums(self.groups)
        for source in (self, other):
            for weight, sums in source._by_shift.items():
                both._by_shift[weight] = both._by_shift.get(weight, 0) + sums
        return both

    def totals(self) -> NDArray[np.float64]:
        """Each group's exact sum, rounded once to the nearest float64."""
        units = np.zeros(self.groups, dtype=object)
        for weight, sums in self._by_shift.items():
            units += np.array([int(value) << weight for value in sums.tolist()], dtype=object)
        return np.array([float(Fraction(int(total), _UNITS)) for total in units.tolist()])
