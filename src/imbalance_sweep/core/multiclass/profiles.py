"""K-class priors and models from a few settings: class-count profiles (balanced, exponential, Zipf,
ImageNet-LT-like, explicit), accuracy profiles (uniform, tied to the training counts, explicit), the
error spread rules as a K x K matrix, and each class's Many / Medium / Few band.

A size is always the largest class's count (``per_class`` for ``balanced``, ``largest`` for the
others, as CIFAR-LT's n_max), class 0 the largest; the total follows from the profile. Counts are
whole, at most :data:`MAX_TOTAL` in all, K in [2, :data:`MAX_CLASSES`]. Every bad value is one
:class:`InvalidValue` line naming the parameter (after ``where``), the value and what is allowed.
The formulas and their sources: docs/background/long-tail-profiles.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, fraction, is_number, one_of, shown, whole_number
from ..vocabulary import BANDS
from .confusion import DEFAULT_FEW_BELOW, DEFAULT_MANY_ABOVE, band_members
from .labelled import per_class

Counts = NDArray[np.int64]
Rates = NDArray[np.float64]

# 10^5 classes: past any long-tail benchmark (iNaturalist 2018: 8,142); a K x K spread is then 80 GB,
# so the cap keeps a typo from exhausting memory before a cell exists.
MAX_CLASSES = 100_000
# Every count and the total are exact in float64 (priors, expectations), and the total fits int64.
MAX_TOTAL = 2**53

COUNT_PROFILES = ("balanced", "exponential", "zipf", "imagenet_lt", "explicit")
ACCURACY_PROFILES = ("uniform", "frequency", "explicit")
ERROR_RULES = ("uniform", "frequency")

# The ImageNet-LT-like shape: (rank fraction k / (K - 1), count) knots, log-linear between them,
# rounded half up. With K = 1000: 1280 down to 5, 385 classes > 100, 479 in 20..100, 136 < 20 (the
# band sizes reported for ImageNet-LT), 115,846 in all (its training set's size). The knot at 0.05
# (271.8) steepens the head so the total matches; 100.5 and 19.5 put the band edges at ranks 385 and 864.
IMAGENET_LT_CLASSES = 1000
IMAGENET_LT_KNOTS = ((0.0, 1280.0), (0.05, 271.8), (0.385, 100.5), (0.864, 19.5), (1.0, 5.0))


def checked_class_count(classes: Any, *, where: str = "") -> int:
    """K: a whole number in [2, MAX_CLASSES] (one class leaves nothing to classify)."""
    return whole_number(f"{where}classes", classes, minimum=2, maximum=MAX_CLASSES)


def _size(name: str, value: Any) -> int:
    """A class's count: a whole number in [1, MAX_TOTAL]."""
    return whole_number(name, value, minimum=1, maximum=MAX_TOTAL)


def _checked_total(counts: Counts, given: str) -> Counts:
    """``counts``, whose total ``given`` (the settings that made them) is in [1, MAX_TOTAL]."""
    total = sum(counts.tolist())  # Python ints: no int64 wrap-around before the check
    if total < 1:
        raise InvalidValue(f"{given} are all 0; allowed: at least one sample in all")
    if total > MAX_TOTAL:
        raise InvalidValue(f"{given} total {total:,} samples; allowed: at most {MAX_TOTAL:,} (2^53) in all")
    return counts


def _min_count(value: Any, largest: int, where: str) -> int:
    """The floor a profile's counts are raised to: 1 (every class present) unless 0 is allowed."""
    return whole_number(f"{where}min_count", value, minimum=0, maximum=largest)


def balanced_counts(classes: Any, per_class: Any, *, where: str = "") -> Counts:
    """``per_class`` samples in each of K classes."""
    k = checked_class_count(classes, where=where)
    n = _size(f"{where}per_class", per_class)
    return _checked_total(np.full(k, n, dtype=np.int64), f"{where}per_class={n} x classes={k}")


def _decreasing_counts(shapes: list[float], min_count: int, largest: int, where: str) -> Counts:
    """floor of each class's ``shapes`` value, raised to ``min_count``. The values are Python floats
    (the C library's pow, correctly rounded): numpy's own power differs by an ulp between its versions
    and CPUs, and an ulp below a whole number floors one lower."""
    counts = np.array([max(math.floor(shape), min_count) for shape in shapes], dtype=np.int64)
    return _checked_total(counts, f"{where}largest={largest} with classes={len(shapes)}")


def exponential_counts(
    classes: Any, ratio: Any, largest: Any, *, min_count: Any = 1, where: str = ""
) -> Counts:
    """CIFAR-LT's profile (Cao et al. 2019, Cui et al. 2019): n_k = floor(largest * (1/ratio)^(k/(K-1))),
    as their code computes it, so n_0 / n_{K-1} = ratio up to the floor; ratio 1 is balanced."""
    k = checked_class_count(classes, where=where)
    rho = _number_at_least(f"{where}ratio", ratio, 1.0, "an imbalance ratio n_max / n_min >= 1")
    n_max = _size(f"{where}largest", largest)
    floor = _min_count(min_count, n_max, where)
    shapes = [n_max * (1.0 / rho) ** (index / (k - 1.0)) for index in range(k)]
    return _decreasing_counts(shapes, floor, n_max, where)


def zipf_counts(classes: Any, exponent: Any, largest: Any, *, min_count: Any = 1, where: str = "") -> Counts:
    """Zipf's law (a discrete Pareto): n_k = floor(largest * (k + 1)^-exponent), so
    n_0 / n_{K-1} = K^exponent up to the floor; exponent 0 is balanced."""
    k = checked_class_count(classes, where=where)
    s = _number_at_least(f"{where}exponent", exponent, 0.0, "a Zipf exponent >= 0")
    n_max = _size(f"{where}largest", largest)
    floor = _min_count(min_count, n_max, where)
    shapes = [n_max / (index + 1.0) ** s for index in range(k)]  # a division: whole where it is whole
    return _decreasing_counts(shapes, floor, n_max, where)


def imagenet_lt_counts(classes: Any = IMAGENET_LT_CLASSES, *, where: str = "") -> Counts:
    """A deterministic stand-in for ImageNet-LT's training counts (Liu et al. 2019 sampled theirs
    from a Pareto with alpha = 6; only their file reproduces it): :data:`IMAGENET_LT_KNOTS`
    at rank fractions k / (K - 1)."""
    k = checked_class_count(classes, where=where)
    knots_at, knot_counts = zip(*IMAGENET_LT_KNOTS, strict=True)
    ranks = np.arange(k) / (k - 1.0)
    logs = np.interp(ranks, knots_at, [math.log(count) for count in knot_counts]).tolist()
    counts = [math.floor(math.exp(value) + 0.5) for value in logs]  # the C library's, as above
    return _checked_total(np.array(counts, dtype=np.int64), f"{where}imagenet_lt counts")


def explicit_counts(classes: Any, counts: Any, *, where: str = "", name: str = "counts") -> Counts:
    """K whole counts >= 0 as given (``1e3`` is 1000), at least one sample in all."""
    k = checked_class_count(classes, where=where)
    values = _k_values(f"{where}{name}", counts, k)
    checked = [whole_number(f"{where}{name}[{i}]", value) for i, value in enumerate(values)]
    if max(checked) > MAX_TOTAL:
        index = int(np.argmax(checked))
        raise InvalidValue(
            f"{where}{name}[{index}]={checked[index]} is not a whole number in [0, {MAX_TOTAL}]"
        )
    return _checked_total(np.array(checked, dtype=np.int64), f"{where}{name}")


_COUNT_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (required, optional)
    "balanced": (("per_class",), ()),
    "exponential": (("ratio", "largest"), ("min_count",)),
    "zipf": (("exponent", "largest"), ("min_count",)),
    "imagenet_lt": ((), ()),
    "explicit": (("counts",), ()),
}


def class_counts(profile: Any, classes: Any, *, where: str = "", **settings: Any) -> Counts:
    """K counts of a named profile and its settings, e.g.
    ``class_counts("exponential", 10, ratio=100, largest=5000)``."""
    name = one_of(f"{where}profile", profile, COUNT_PROFILES)
    _check_settings(name, settings, _COUNT_SETTINGS[name], where)
    if name == "balanced":
        return balanced_counts(classes, settings["per_class"], where=where)
    if name == "exponential":
        return exponential_counts(
            classes, settings["ratio"], settings["largest"], where=where, **_opt(settings)
        )
    if name == "zipf":
        return zipf_counts(classes, settings["exponent"], settings["largest"], where=where, **_opt(settings))
    if name == "imagenet_lt":
        return imagenet_lt_counts(classes, where=where)
    return explicit_counts(classes, settings["counts"], where=where)


def _opt(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {key: settings[key] for key in ("min_count",) if key in settings}


def _check_settings(
    profile: str, settings: Mapping[str, Any], keys: tuple[tuple[str, ...], tuple[str, ...]], where: str
) -> None:
    """The settings are exactly a profile's: none missing, none unknown."""
    required, optional = keys
    allowed = ", ".join(required) + (f" (optional: {', '.join(optional)})" if optional else "")
    allowed = allowed or "none"
    for key in settings:
        if key not in required and key not in optional:
            raise InvalidValue(f"{where}{key} is not a setting of profile {profile}; its settings: {allowed}")
    for key in required:
        if key not in settings:
            raise InvalidValue(f"{where}{key} is missing: profile {profile} needs {allowed}")


def uniform_accuracies(classes: Any, value: Any, *, where: str = "") -> Rates:
    """One accuracy for every class."""
    k = checked_class_count(classes, where=where)
    return np.full(k, fraction(f"{where}value", value))


def frequency_accuracies(training_counts: Any, head: Any, tail: Any, *, where: str = "") -> Rates:
    """Head classes learned better: linear in log training count, ``head`` at the largest count,
    ``tail`` at the smallest count > 0 (and at 0):
    a_k = tail + (head - tail) * (log m_k - log m_min) / (log m_max - log m_min).
    Every class gets ``head`` when all counts > 0 are equal. Monotone in m_k, within [tail, head]
    (head < tail makes it fall with the count)."""
    counts = _training_counts(training_counts, where)
    top, bottom = fraction(f"{where}head", head), fraction(f"{where}tail", tail)
    present = counts > 0
    if not present.any():
        raise InvalidValue(f"{where}training_counts are all 0; allowed: at least one training sample")
    log_counts = np.log(np.where(present, counts, 1.0))
    low, high = float(log_counts[present].min()), float(log_counts[present].max())
    if high == low:
        return np.where(present, top, bottom)
    position = np.where(present, (log_counts - low) / (high - low), 0.0)
    accuracies = np.where(position == 1.0, top, bottom + (top - bottom) * position)
    clipped: Rates = np.clip(accuracies, min(top, bottom), max(top, bottom))
    return clipped


def explicit_accuracies(classes: Any, values: Any, *, where: str = "") -> Rates:
    """K accuracies as given, each in [0, 1]."""
    k = checked_class_count(classes, where=where)
    listed = _k_values(f"{where}values", values, k)
    return np.array([fraction(f"{where}values[{i}]", value) for i, value in enumerate(listed)])


_ACCURACY_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("value",), ()),
    "frequency": (("head", "tail"), ()),
    "explicit": (("values",), ()),
}


def class_accuracies(profile: Any, training_counts: Counts, *, where: str = "", **settings: Any) -> Rates:
    """K accuracies of a named profile and its settings; ``training_counts`` gives K (and the
    frequencies of ``frequency``)."""
    name = one_of(f"{where}profile", profile, ACCURACY_PROFILES)
    _check_settings(name, settings, _ACCURACY_SETTINGS[name], where)
    if name == "uniform":
        return uniform_accuracies(training_counts.size, settings["value"], where=where)
    if name == "frequency":
        return frequency_accuracies(training_counts, settings["head"], settings["tail"], where=where)
    return explicit_accuracies(training_counts.size, settings["values"], where=where)


def error_spread(rule: Any, training_counts: Counts, *, where: str = "") -> Rates:
    """The K x K spread r of a rule (rows sum to 1, diagonal 0): ``uniform``, r_kc = 1/(K-1);
    ``frequency``, r_kc = m_c / sum of m over c != k (errors go to the training head), uniform where
    that sum is 0."""
    name = one_of(f"{where}errors", rule, ERROR_RULES)
    k = training_counts.size
    weights = np.ones((k, k)) if name == "uniform" else np.tile(training_counts.astype(np.float64), (k, 1))
    return _normalised_off_diagonal(weights)


def spread_of_matrix(matrix: Any, classes: int, *, where: str = "", name: str = "errors") -> Rates:
    """The spread of a K x K matrix of numbers >= 0 given row by row (counts or rates): row k's
    off-diagonal entries over their sum (its diagonal unused, so a confusion matrix serves); uniform
    where they are all 0."""
    return _normalised_off_diagonal(_square(matrix, classes, f"{where}{name}"))


def confusion_model(
    matrix: Any, classes: int, *, where: str = "", name: str = "confusion"
) -> tuple[Rates, Rates]:
    """A model's accuracies and spread from its K x K confusion matrix (counts or rates, rows the
    true class): a_k = M_kk / row sum, r_k = row k's off-diagonal over its sum."""
    square = _square(matrix, classes, f"{where}{name}")
    rows = square.sum(axis=1)
    if not rows.all():
        index = int(np.argmin(rows))
        raise InvalidValue(f"{where}{name}[{index}] is all 0; allowed: a row with a sum > 0")
    accuracies = np.minimum(np.diag(square) / rows, 1.0)
    return accuracies, _normalised_off_diagonal(square)


def _normalised_off_diagonal(weights: Rates) -> Rates:
    k = weights.shape[0]
    off = weights * (1.0 - np.eye(k))
    sums = off.sum(axis=1, keepdims=True)
    uniform = (1.0 - np.eye(k)) / (k - 1)
    spread: Rates = np.where(sums > 0, off / np.where(sums > 0, sums, 1.0), uniform)
    return spread


def _square(matrix: Any, classes: int, name: str) -> Rates:
    """A K x K list of finite numbers >= 0, as float64."""
    rows = _k_values(name, matrix, classes)
    out = np.empty((classes, classes))
    for i, row in enumerate(rows):
        values = _k_values(f"{name}[{i}]", row, classes)
        for j, value in enumerate(values):
            if not is_number(value) or not math.isfinite(value) or value < 0:
                raise InvalidValue(f"{name}[{i}][{j}]={shown(value)} is not a finite number >= 0")
            out[i, j] = value
    return out


def class_bands(
    training_counts: Any, *, many_above: float = DEFAULT_MANY_ABOVE, few_below: float = DEFAULT_FEW_BELOW
) -> tuple[str, ...]:
    """Each class's band by its training count: ``many`` (> many_above), ``medium``, ``few``
    (< few_below), the cut-offs of the K-class metrics' ``recall/<band>``."""
    counts = _training_counts(training_counts, where="")
    members = band_members(counts, many_above=many_above, few_below=few_below)
    return tuple(next(band for band in BANDS if members[band][k]) for k in range(counts.size))


def _training_counts(training_counts: Any, where: str) -> Rates:
    """K >= 2 training counts, finite numbers >= 0 (whole or expected), as float64."""
    listed = training_counts.tolist() if isinstance(training_counts, np.ndarray) else training_counts
    if not isinstance(listed, Sequence) or isinstance(listed, (str, bytes)):
        raise InvalidValue(f"{where}training_counts={_short(listed)} is not a list of counts, one a class")
    classes = checked_class_count(len(listed), where=f"{where}training_counts: ")
    return per_class(f"{where}training_counts", listed, classes, positive=False)


def _number_at_least(name: str, value: Any, minimum: float, what: str) -> float:
    if not is_number(value) or not math.isfinite(value) or value < minimum:
        raise InvalidValue(f"{name}={shown(value)} is not {what}")
    return float(value)


def _k_values(name: str, values: Any, classes: int) -> list[Any]:
    """``values`` as a list of K items: a sequence (not text, not a mapping) of length K."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise InvalidValue(f"{name}={_short(values)} is not a list; allowed: {classes} values, one a class")
    if len(values) != classes:
        raise InvalidValue(
            f"{name} has {len(values)} values; allowed: {classes}, one a class (classes={classes})"
        )
    return list(values)


def _short(value: Any) -> str:
    text = shown(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
