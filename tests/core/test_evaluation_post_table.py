"""The post's six numbers, reproduced within 3 standard errors, and its finding."""

import math

import numpy as np
import pytest

from imbalance_sweep import simulate
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms

HIGH_PRECISION, HIGH_RECALL = (0.999, 0.5), (0.98, 0.9)
RARE, BALANCED = (1_000_000, 10_000), (10_000, 10_000)

# (balance, model, loss) -> the number the post printed (one random draw each)
POST = {
    (RARE, HIGH_PRECISION, "bce"): 0.313947,
    (RARE, HIGH_RECALL, "bce"): 0.3151517,
    (BALANCED, HIGH_PRECISION, "bce"): 0.65621394,
    (BALANCED, HIGH_RECALL, "bce"): 0.33528897,
    (RARE, HIGH_PRECISION, "focal_tfa"): 31629.947,
    (RARE, HIGH_RECALL, "focal_tfa"): 32311.969,
}


def per_sample(loss, y_true, y_pred):
    """Per-sample values, written independently of the project (float64, Keras's clipping)."""
    p = np.clip(y_pred.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = np.where(y_true == 1, -np.log(p), -np.log(1 - p))
    if loss == "bce":
        return bce
    distance = np.abs(y_pred.astype(np.float64) - y_true)
    return np.where(y_true == 1, 0.25, 0.75) * distance**2 * bce  # focal_tfa's summand


def standard_error(loss, y_true, y_pred):
    """Of the cell's loss: classes are drawn independently, each of a fixed size."""
    values = per_sample(loss, y_true, y_pred)
    variance = sum(values[y_true == c].size * values[y_true == c].var(ddof=1) for c in (0, 1))
    return math.sqrt(variance) / (1 if loss == "focal_tfa" else y_true.size)


@pytest.fixture(scope="module")
def reproduced():
    """The seed_blog sweep's cells at seed 0, as the sweep computes them."""
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    return {
        (balance, model): evaluate_cell(
            Cell(*balance, *model), seed=0, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=65536
        )
        for balance in (RARE, BALANCED)
        for model in (HIGH_PRECISION, HIGH_RECALL)
    }


@pytest.mark.parametrize("balance, model, loss", list(POST))
def test_post_number_within_three_standard_errors(reproduced, balance, model, loss):
    y_true, y_pred = simulate(balance[0], model[0], balance[1], model[1], seed=0)
    ours = reproduced[(balance, model)][f"loss/{loss}"]
    assert ours == pytest.approx(
        per_sample(loss, y_true, y_pred).sum() / (1 if loss == "focal_tfa" else y_true.size), rel=1e-5
    )
    assert abs(ours - POST[(balance, model, loss)]) <= 3 * standard_error(loss, y_true, y_pred)


def test_the_posts_finding(reproduced):
    """On 1:100, BCE prefers the 50 %-recall model; on 1:1 it prefers the 90 %-recall one."""
    rare_a, rare_b = reproduced[(RARE, HIGH_PRECISION)], reproduced[(RARE, HIGH_RECALL)]
    balanced_a, balanced_b = reproduced[(BALANCED, HIGH_PRECISION)], reproduced[(BALANCED, HIGH_RECALL)]
    assert rare_a["recall"] < 0.52 < 0.88 < rare_b["recall"]
    assert rare_a["loss/bce"] < rare_b["loss/bce"]
    assert balanced_a["loss/bce"] > balanced_b["loss/bce"]
    # balanced_bce does what BCE on a balanced set does, on the rare set itself
    assert rare_a["loss/balanced_bce"] > rare_b["loss/balanced_bce"]
