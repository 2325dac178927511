"""A few seeded K-class cells and score sets whose every value (its repr) is pinned in
tests/data/multiclass_pinned_values.json: a change made for speed must leave each value the same
bits. The records were written before the speed work (``python tests/core/multiclass/
test_pinned_values.py --write``); rewrite them only for a change that means to move a value.

The records cover the simulated cells (K = 2, 3 by a matrix, 5 with an empty class and every
setting moved off its default, 10 long-tailed, accuracies of 0 and 1) and scores that are not the
model's (float32 and float64, with exact zeros, ties and values on the calibration bins' edges).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from imbalance_sweep.core.multiclass.cell import make_multiclass_cell
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell
from imbalance_sweep.core.multiclass.losses import multiclass_losses
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics

PINNED = Path(__file__).parents[2] / "data" / "multiclass_pinned_values.json"


def long_tail_counts(samples, classes):
    shares = 100.0 ** (-np.arange(classes) / (classes - 1))
    counts = np.floor(samples * shares / shares.sum()).astype(int)
    counts[0] += samples - counts.sum()
    return counts.tolist()


def awkward_scores(dtype, rows=1500, classes=4):
    """Rows summing to 1 with exact zeros, tied maxima, repeated values and bin edges (0.2, 0.6)."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, classes, rows)
    scores = rng.dirichlet(np.full(classes, 0.6), size=rows)
    scores[rng.random((rows, classes)) < 0.3] = 0.0
    scores[: rows // 10] = [0.2, 0.2, 0.6, 0.0][:classes]
    scores[rows // 10 : rows // 5] = [0.4, 0.4, 0.1, 0.1][:classes]
    empty = scores.sum(axis=1) == 0
    scores[empty, 0] = 1.0
    scores /= scores.sum(axis=1, keepdims=True)
    scores = scores.astype(dtype)
    scores[:, -1] = (1.0 - scores[:, :-1].sum(axis=1, dtype=np.float64)).clip(0.0, 1.0).astype(dtype)
    return labels, scores


def records():
    """Each record's values, by name."""
    out = {}
    out["k10_long_tail"] = evaluate_multiclass_cell(
        make_multiclass_cell(
            long_tail_counts(30_000, 10), np.linspace(0.95, 0.5, 10).tolist(), spread="frequency"
        ),
        seed=0,
        chunk_size=4096,
    )
    out["k10_edges_unranked"] = evaluate_multiclass_cell(
        make_multiclass_cell(
            long_tail_counts(8_000, 10),
            [1.0, 0.0, 0.5, 0.9, 1.0, 0.3, 0.0, 0.75, 0.6, 0.1],
            training_counts=[5000, 900, 300, 120, 101, 100, 40, 20, 19, 3],
            threshold_free=False,
        ),
        seed=5,
    )
    out["k3_matrix"] = evaluate_multiclass_cell(
        make_multiclass_cell([500, 50, 5], spread=[[80, 15, 5], [0.1, 0.7, 0.2], [3, 3, 4]]),
        seed=7,
        chunk_size=37,
    )
    out["k2"] = evaluate_multiclass_cell(make_multiclass_cell([300, 40], [0.9, 0.6]), seed=3)
    out["k5_empty_class_settings"] = evaluate_multiclass_cell(
        make_multiclass_cell(
            [700, 0, 90, 30, 4],
            [0.8, 0.7, 0.65, 0.55, 0.45],
            training_counts=[4000, 500, 60, 25, 8],
            replicate=2,
        ),
        seed=12,
        chunk_size=100,
        alpha=[0.1, 0.2, 0.3, 0.4, 0.5],
        gamma=1.5,
        beta=0.99,
        tau=0.5,
        max_margin=0.3,
        scale=2.0,
    )
    for dtype in (np.float32, np.float64):
        labels, scores = awkward_scores(dtype)
        name = np.dtype(dtype).name
        # no training counts: the bands are pinned by the cells above
        out[f"metrics_{name}"] = multiclass_metrics(labels, scores, top_k=2, ece_bins=5, chunk_size=333)
        out[f"losses_{name}"] = multiclass_losses(labels, scores, training_counts=[150, 60, 10, 1])
    return out


def shown(values):
    return {name: {key: repr(value) for key, value in record.items()} for name, record in values.items()}


def environment():
    """What the bits of a float computation depend on besides the code: numpy's version and the CPU
    features its loops dispatch on (its SIMD log and exp differ in the last bits between them)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1 (the legacy tfa environment)
        from numpy.core._multiarray_umath import __cpu_features__
    return {
        "numpy": np.__version__,
        "cpu_features": sorted(name for name, on in __cpu_features__.items() if on),
    }


# Elsewhere (another numpy, another CPU) a float32 log or exp may land an ulp away: a value is held
# within this relative distance of its pin, counts-derived values still exactly in practice.
ELSEWHERE_RELATIVE = 1e-7


def test_every_value_is_the_pinned_bits():
    """Bit for bit where numpy and the CPU are those the pins were written with; within float32
    rounding elsewhere (numpy 1.26's log differs from 2.x's in the last bit: the legacy environment)."""
    written = json.loads(PINNED.read_text())
    pinned, same = written["records"], written["environment"] == environment()
    now = shown(records())
    assert now.keys() == pinned.keys()
    for name, record in pinned.items():
        if same:
            assert now[name] == record, name
            continue
        assert now[name].keys() == record.keys(), name
        for key, value in record.items():
            assert float(now[name][key]) == pytest.approx(
                float(value), rel=ELSEWHERE_RELATIVE, nan_ok=True
            ), (
                name,
                key,
            )


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    PINNED.write_text(
        json.dumps({"environment": environment(), "records": shown(records())}, indent=1, sort_keys=True)
        + "\n"
    )
