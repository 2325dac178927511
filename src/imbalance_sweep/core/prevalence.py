"""A balance's prevalence, the fraction of positives: computed once, and written the ways people read it.

Why here: cells, populations, tables, figures and the Keras panel all compute it, and sentences,
figures and names all show it; one place keeps the same balance the same number and the same text.
"""

from __future__ import annotations

from .checks import InvalidValue


def prevalence_of(num_0s: float, num_1s: float) -> float:
    """Fraction of positives of a balance (class sizes, whole or not)."""
    if num_0s + num_1s <= 0:
        raise InvalidValue(f"num_0s={num_0s} and num_1s={num_1s}: a balance needs at least one sample")
    return num_1s / (num_0s + num_1s)


def percent(fraction: float, spec: str = ".3g") -> str:
    """A fraction as a percentage, ``spec`` its format: 0.0099 -> '0.99 %'. Sentences and tables
    give a prevalence 3 significant digits, a figure's axis 2 (``.2g``), a share of pairs none (``.0f``)."""
    return f"{100 * fraction:{spec}} %"


def prevalence_text(prevalence: float) -> str:
    """A prevalence as names spell it (``val_at_<p>``): the shortest text that reads back as the same float."""
    return repr(float(prevalence))
