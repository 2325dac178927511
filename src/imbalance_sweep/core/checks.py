"""Validation of user-supplied values, shared by the public API and the config layer.

Every check raises :class:`InvalidValue` with one line that names the parameter, the value
received and what is allowed, so the command line can print it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np


class InvalidValue(ValueError):
    """A user-supplied value is outside what the project accepts."""


def is_number(value: Any) -> bool:
    """A real number (a numpy scalar too), and not a bool: True and False are no count or fraction."""
    return isinstance(value, Real) and not isinstance(value, bool)


def shown(value: Any) -> str:
    """repr() of a value, with numpy scalars shown as the plain Python number they hold."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    return repr(value)


def whole_number(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as an int: accepts 1000000, 1e6 and 1000000.0, rejects 100.5 (and, with a
    ``maximum``, any number above it: a size past it would exhaust memory or never finish)."""
    number = None
    if (isinstance(value, Integral) and not isinstance(value, bool)) or (
        is_number(value) and math.isfinite(value) and float(value).is_integer()
    ):
        number = int(value)
    if number is not None and number >= minimum and (maximum is None or number <= maximum):
        return number
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    raise InvalidValue(f"{name}={shown(value)} is not a whole number {allowed}")


def clipped(text: str, limit: int = 40, *, quoted: bool = True) -> str:
    """``text`` as repr shows it (control characters escaped), cut to ``limit`` characters with ...
    (and without repr's quotes if not ``quoted``): a stored name in a one-line message, however long
    or odd."""
    text_repr = repr(text[:limit])
    if len(text) > limit:
        text_repr = f"{text_repr[:-1]}...{text_repr[-1]}"
    return text_repr if quoted else text_repr[1:-1]


def fraction(name: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1]."""
    if not is_number(value) or not math.isfinite(value):
        raise InvalidValue(f"{name}={shown(value)} is not a number in [0, 1]")
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidValue(f"{name}={shown(value)} is outside [0, 1]")
    return float(value) + 0.0  # -0.0 becomes 0.0: one value, one cell seed


def non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a finite float >= 0."""
    if not is_number(value) or not math.isfinite(value) or value < 0:
        raise InvalidValue(f"{name}={shown(value)} is not a finite number >= 0")
    return float(value)


def one_of(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; the error lists them."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidValue(f"{name}={shown(value)} is not one of: {', '.join(allowed)}")
    return value


def names_from(name: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """Return a non-empty tuple of distinct names, each one of ``allowed``."""
    if isinstance(values, str):
        values = [part.strip() for part in values.split(",") if part.strip()]
    if not isinstance(values, Iterable) or isinstance(values, (bytes, dict)):
        raise InvalidValue(f"{name}={shown(values)} is not a list of names from: {', '.join(allowed)}")
    names = tuple(values)
    if not names:
        raise InvalidValue(f"{name}=[] is empty; choose from: {', '.join(allowed)}")
    for index, item in enumerate(names):
        one_of(f"{name}[{index}]", item, allowed)
    duplicates = sorted({item for item in names if names.count(item) > 1})
    if duplicates:
        raise InvalidValue(f"{name}={list(names)!r} repeats {', '.join(duplicates)}")
    return names


def counts(num_0s: Any, num_1s: Any, *, where: str = "") -> tuple[int, int]:
    """Validate a class balance: whole numbers >= 0 with at least one sample in all."""
    n0 = whole_number(f"{where}num_0s", num_0s)
    n1 = whole_number(f"{where}num_1s", num_1s)
    if n0 + n1 < 1:
        raise InvalidValue(f"{where}num_0s=0 and num_1s=0: a cell needs num_0s + num_1s >= 1")
    return n0, n1


NOT_A_PROBABILITY = "is not a probability in [0, 1]"


def first_non_probability(scores: np.ndarray) -> int | None:
    """The index of the first score that is not a probability, in [0, 1] (NaN is not one), or None:
    the one test of a score, for the arrays, files and models that give them."""
    if scores.size == 0 or (scores.min() >= 0 and scores.max() <= 1):  # NaN fails both
        return None
    return int(np.argmax(~((scores >= 0) & (scores <= 1))))


def labelled_scores(y_true: Any, y_pred: Any, *, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """The float32 scores of the negatives and of the positives of binary labels and probability
    scores, checked: 1-D of one length, not empty, labels 0 and 1 only, scores in [0, 1].

    Labels already grouped, negatives first (as ``simulate`` gives them), are checked in two passes
    and split into views; others by boolean masks (copies).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float32)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise InvalidValue(
            f"y_true and y_pred must be 1-D of one length; got shapes {y_true.shape} and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise InvalidValue(f"y_true is empty: {caller} needs at least one sample")
    if y_true.dtype.kind not in "biuf":  # strings, objects: no number to compare
        raise InvalidValue("y_true must hold only 0 and 1")
    if first_non_probability(y_pred) is not None:
        raise InvalidValue("y_pred must hold probabilities in [0, 1] (no NaN)")
    first_positive = y_true.size - int(np.count_nonzero(y_true))
    if not y_true[:first_positive].any() and (y_true[first_positive:] == 1).all():
        return y_pred[:first_positive], y_pred[first_positive:]
    is_positive = y_true == 1
    if not np.all(is_positive | (y_true == 0)):
        raise InvalidValue("y_true must hold only 0 and 1")
    return y_pred[~is_positive], y_pred[is_positive]
