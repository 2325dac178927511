"""Time one cell of the post's size three ways, in one process, and print the figures.

The cell is the post's first: 1,000,000 negatives at accuracy 0.999 and 10,000 positives at
accuracy 0.5, seed 0, with all six losses of ``imbalance_sweep.losses.LOSS_NAMES``.

* ``project``: ``evaluate_cell`` with the numpy backend, its term-sum function made once, as a
  sweep makes it.
* ``floor``: drawing the scores alone, through the same ``cell_score_chunks`` the project uses;
  no evaluation can be faster than this. ``raw_uniforms`` (one float32 draw of the whole cell
  from a fresh generator) is shown beside it for reference.
* ``old_metrics``: the same cell's losses and confusion counts only (what a cell computed before
  the ranking and calibration metrics of issue 14): the draw, the term sums, the correct counts.
* ``api``: ``simulate`` + ``evaluate`` (every metric), as a notebook calls them; ``api_old_metrics``
  the same arrays through the losses and confusion counts only.
* ``post``: the post's approach, re-implemented: per loss a fresh float64 cell from
  ``np.random.uniform``, labels by ``np.round``, confusion counts by Python's builtin ``sum``, and
  the loss from the real Keras 3 loss object.

Why: a sweep evaluates many such cells, so the project should beat the post's way by a wide
margin (post/project >= 20) while staying close to the cost of drawing the numbers at all
(project/floor <= 3 before issue 14); every metric may cost at most twice the cell of the losses and
confusion counts alone (project/old_metrics <= 2), and the API with those alone at most twice the
drawing of the cell's uniforms (api_old_metrics/raw_uniforms <= 2). Times are wall-clock (``time.perf_counter``), one warm-up call each, and
are reported as median and min; on a small or busy machine expect run-to-run noise.

    python benchmarks/bench_cell.py [--repeats 21] [--post-repeats 5] [--check]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from timing import wall_times

from imbalance_sweep.core.cell import make_cell
from imbalance_sweep.core.checks import labelled_scores
from imbalance_sweep.core.evaluation import evaluate, evaluate_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms
from imbalance_sweep.core.metrics import on_correct_side
from imbalance_sweep.core.simulator import DEFAULT_CHUNK_SIZE, cell_score_chunks, simulate

NUM_0S, NUM_1S, ACC_0S, ACC_1S, SEED = 1_000_000, 10_000, 0.999, 0.5, 0
ALPHA, GAMMA = 0.25, 2.0
POST_OVER_PROJECT_MIN = 20.0
PROJECT_OVER_OLD_MAX = 2.0
API_OLD_OVER_RAW_MAX = 2.0
EPS = np.finfo(np.float64).eps


def post_loss_functions() -> dict:
    """The post's ``loss_func`` for each loss: real Keras 3 loss objects, created once."""
    bce = keras.losses.BinaryCrossentropy()
    focal_tfa = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=ALPHA, gamma=GAMMA, reduction="sum"
    )
    focal_balanced = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=ALPHA, gamma=GAMMA
    )
    focal = keras.losses.BinaryFocalCrossentropy()
    brier = keras.losses.MeanSquaredError()

    def column(values):
        return values.reshape(-1, 1)

    def balanced_bce(y_true, y_pred):
        # scikit-learn's "balanced" class weights: n / (2 * n_c)
        n, n_1s = y_true.size, int(np.count_nonzero(y_true))
        weights = np.where(y_true == 1, n / (2 * n_1s), n / (2 * (n - n_1s))).astype(np.float32)
        return bce(column(y_true), column(y_pred), sample_weight=weights)

    return {
        "bce": bce,
        "focal_tfa": lambda y_true, y_pred: focal_tfa(column(y_true), column(y_pred)),
        "focal_balanced": lambda y_true, y_pred: focal_balanced(column(y_true), column(y_pred)),
        "focal": lambda y_true, y_pred: focal(column(y_true), column(y_pred)),
        "balanced_bce": balanced_bce,
        "brier": brier,
    }


def post_cell(loss_func) -> tuple[float, float, float, float]:
    """One fresh cell the post's way: ``(loss, precision, recall, f1)``."""
    true_0s = np.zeros(NUM_0S)
    scores_0s = np.random.uniform(low=0.0, high=0.5 / ACC_0S, size=NUM_0S)
    labels_0s = np.round(scores_0s)
    true_1s = np.ones(NUM_1S)
    scores_1s = np.random.uniform(low=1.0 - 0.5 / ACC_1S, high=1.0, size=NUM_1S)
    labels_1s = np.round(scores_1s)

    y_true = np.concatenate((true_0s, true_1s)).astype(np.float32)
    y_pred = np.concatenate((scores_0s, scores_1s)).astype(np.float32)
    loss = float(loss_func(y_true, y_pred))

    tp = sum(labels_1s == true_1s)
    fp = sum(labels_0s - true_0s == 1)
    fn = sum(true_1s - labels_1s)
    precision = (tp + EPS) / (tp + fp + EPS)
    recall = (tp + EPS) / (tp + fn + EPS)
    return loss, precision, recall, 2 * precision * recall / (precision + recall)


def timed(func, repeats: int) -> tuple[float, float]:
    """``(median, min)`` wall time of ``func()`` in ms, after one warm-up call."""
    times = wall_times(func, repeats)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed runs of project, floor, raw_uniforms")
    parser.add_argument("--post-repeats", type=int, default=5, help="timed runs of post (slow)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    cell = make_cell(NUM_0S, NUM_1S, ACC_0S, ACC_1S)
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=ALPHA, gamma=GAMMA)
    loss_funcs = post_loss_functions()
    np.random.seed(SEED)

    def project():
        return evaluate_cell(
            cell, seed=SEED, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=DEFAULT_CHUNK_SIZE
        )

    def old_metrics_of(chunks):
        counts = [0, 0]
        for label, scores in chunks:
            term_sums(label, scores)
            counts[label] += int(np.count_nonzero(on_correct_side(label, scores)))
        return counts

    def old_metrics():
        return old_metrics_of(cell_score_chunks(cell, SEED, DEFAULT_CHUNK_SIZE))

    def api():
        return evaluate(*simulate(NUM_0S, ACC_0S, NUM_1S, ACC_1S, seed=SEED))

    def api_old_metrics():
        y_true, y_pred = simulate(NUM_0S, ACC_0S, NUM_1S, ACC_1S, seed=SEED)
        negatives, positives = labelled_scores(y_true, y_pred, caller="evaluate")
        chunks = [
            (0, negatives[i : i + DEFAULT_CHUNK_SIZE]) for i in range(0, negatives.size, DEFAULT_CHUNK_SIZE)
        ]
        chunks += [
            (1, positives[i : i + DEFAULT_CHUNK_SIZE]) for i in range(0, positives.size, DEFAULT_CHUNK_SIZE)
        ]
        return old_metrics_of(chunks)

    def floor():
        for _ in cell_score_chunks(cell, SEED, DEFAULT_CHUNK_SIZE):
            pass

    def raw_uniforms():
        np.random.default_rng(SEED).random(NUM_0S + NUM_1S, dtype=np.float32)

    def post():
        return {name: post_cell(loss_func)[0] for name, loss_func in loss_funcs.items()}

    results = {
        "project": timed(project, args.repeats),
        "old_metrics": timed(old_metrics, args.repeats),
        "api": timed(api, args.repeats),
        "api_old_metrics": timed(api_old_metrics, args.repeats),
        "floor": timed(floor, args.repeats),
        "raw_uniforms": timed(raw_uniforms, args.repeats),
        "post": timed(post, args.post_repeats),
    }
    runs = {"post": args.post_repeats}

    print(f"cell n0={NUM_0S} n1={NUM_1S} a0={ACC_0S} a1={ACC_1S} seed={SEED}, losses: {','.join(LOSS_NAMES)}")
    print(
        f"numpy {np.__version__}, keras {keras.__version__}, python {sys.version.split()[0]}, "
        f"os.cpu_count()={os.cpu_count()}, loadavg={' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'':<16}{'median ms':>11}{'min ms':>11}{'runs':>6}")
    for name, (median, best) in results.items():
        print(f"{name:<16}{median:>11.2f}{best:>11.2f}{runs.get(name, args.repeats):>6}")

    # Like for like: on the project's own draw of the cell, the post's Keras losses give its values.
    ours, (y_true, y_pred) = project(), simulate(NUM_0S, ACC_0S, NUM_1S, ACC_1S, seed=SEED)
    gaps = {n: abs(float(f(y_true, y_pred)) / ours[f"loss/{n}"] - 1) for n, f in loss_funcs.items()}
    worst = max(gaps, key=gaps.get)
    print(f"sanity: on the same scores, Keras vs project losses differ by <= {gaps[worst]:.1e} ({worst})")

    for top, bottom in (("project", "floor"), ("api", "raw_uniforms"), ("old_metrics", "floor")):
        print(f"{top + '/' + bottom:<28}{results[top][0] / results[bottom][0]:>10.1f}x (median)")
    failed = False
    for top, bottom, sign, limit in (
        ("post", "project", ">=", POST_OVER_PROJECT_MIN),
        ("project", "old_metrics", "<=", PROJECT_OVER_OLD_MAX),
        ("api_old_metrics", "raw_uniforms", "<=", API_OLD_OVER_RAW_MAX),
    ):
        by_median, by_min = (results[top][i] / results[bottom][i] for i in (0, 1))
        passed = by_median >= limit if sign == ">=" else by_median <= limit
        failed |= not passed
        print(
            f"{top + '/' + bottom:<28}{by_median:>10.1f}x{by_min:>10.1f}x"
            f"   target {sign} {limit:g} (median): {'PASS' if passed else 'FAIL'}"
        )
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
