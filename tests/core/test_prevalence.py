"""A prevalence is computed and written in one place; the texts are those the commands always printed."""

import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.prevalence import percent, prevalence_of, prevalence_text


def test_prevalence_of_a_balance():
    assert prevalence_of(20_000, 200) == 200 / 20_200
    assert prevalence_of(0.7, 0.3) == 0.3 / (0.7 + 0.3)
    assert prevalence_of(5, 0) == 0.0
    with pytest.raises(InvalidValue, match="num_0s=0 and num_1s=0: a balance needs at least one sample"):
        prevalence_of(0, 0)


def test_the_three_texts_of_a_prevalence():
    assert [percent(p) for p in (0.5, 200 / 20_200, 0.000123456)] == ["50 %", "0.99 %", "0.0123 %"]
    assert [percent(p, ".2g") for p in (0.5, 200 / 20_200)] == ["50 %", "0.99 %"]
    assert percent(0.876, ".0f") == "88 %"
    assert [prevalence_text(p) for p in (0.01, 1 / 3)] == ["0.01", "0.3333333333333333"]
