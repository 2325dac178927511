"""Exact sums of float32 values by group: the same bits however the values are split into chunks.

A float sum depends on the order of its additions, so chunked sums would change with the chunk size.
Here each float32 ``m * 2**e`` is filed under its sign and exponent (the top 9 bits of its binary
form) and only its integer mantissa ``m < 2**24`` is added, with ``np.bincount`` in float64: every
partial sum is an integer below 2**53 (at most :data:`MAX_VALUES_PER_CALL` values a call), so exact.
The totals are kept in int64 (exact up to 2**40 values of one group and exponent, about 10**12)
and read out as exact fractions, rounded once at the very end.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

KEYS = 512  # sign bit and 8 exponent bits of a float32
MANTISSA_BITS = 23
IMPLICIT_BIT = 1 << MANTISSA_BITS
MAX_VALUES_PER_CALL = 1 << 29  # 2**29 mantissas below 2**24 sum to below 2**53: exact in float64
# a float32 with exponent bits e > 0 is (2**23 + mantissa) * 2**(e - 150); with e = 0 (zero,
# subnormal) mantissa * 2**-149
_EXPONENT = np.arange(KEYS) % 256
_SCALE_SHIFT = np.maximum(_EXPONENT, 1) - 1  # the power of two over 2**-149
_NEGATIVE = np.arange(KEYS) >= 256
_HAS_IMPLICIT_BIT = (_EXPONENT > 0) & (_EXPONENT < 255)
_NOT_FINITE = _EXPONENT == 255  # inf (mantissa 0) and nan


class ExactSums:
    """Per-group exact sums of float32 values, folded in chunk by chunk."""

    def __init__(self, groups: int):
        self.groups = groups
        self._mantissas = np.zeros(groups * KEYS, dtype=np.int64)
        self._counts = np.zeros(groups * KEYS, dtype=np.int64)

    def add(self, values: NDArray[np.float32], groups: NDArray[np.intp]) -> None:
        """Fold in ``values[i]`` under group ``groups[i]`` (each in 0..groups-1)."""
        for start in range(0, values.size, MAX_VALUES_PER_CALL):
            part = slice(start, start + MAX_VALUES_PER_CALL)
            bits = np.ascontiguousarray(values[part], dtype=np.float32).view(np.uint32)
            keys = (bits >> MANTISSA_BITS).astype(np.intp)
            keys += groups[part] * KEYS
            mantissas = (bits & (IMPLICIT_BIT - 1)).astype(np.float64)
            if 4 * keys.size < self._counts.size:  # few values, many groups: count only the keys used
                used, keys = np.unique(keys, return_inverse=True)
            else:
                used = np.arange(self._counts.size)
            self._mantissas[used] += np.bincount(keys, weights=mantissas, minlength=used.size).astype(
                np.int64
            )
            self._counts[used] += np.bincount(keys, minlength=used.size)

    def totals(self) -> list[Fraction | float]:
        """Each group's exact sum as a fraction; inf or nan (a float) where a value was one."""
        mantissas = self._mantissas.reshape(self.groups, KEYS)
        counts = self._counts.reshape(self.groups, KEYS)
        return [self._total(mantissas[group], counts[group]) for group in range(self.groups)]

    @staticmethod
    def _total(mantissas: NDArray[np.int64], counts: NDArray[np.int64]) -> Fraction | float:
        if mantissas[_NOT_FINITE].any():
            return float("nan")  # a nan among the values
        positive, negative = counts[255], counts[511]  # +inf, -inf
        if positive or negative:
            return float("nan") if positive and negative else float("inf") if positive else float("-inf")
        total = 0
        for key in np.flatnonzero(counts):
            value = int(mantissas[key]) + int(counts[key]) * IMPLICIT_BIT * int(_HAS_IMPLICIT_BIT[key])
            total += (-value if _NEGATIVE[key] else value) << int(_SCALE_SHIFT[key])
        return Fraction(total, 1 << 149)
