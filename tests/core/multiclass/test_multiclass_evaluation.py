"""A K-class cell's evaluation: the first step's losses and metrics of its rows, under stable names,
the same bits however chunked; at K = 2 the binary engine's record through ``as_binary_cell``; the
properties of issue 26 (permuted classes, a perfect model, every row in one class); memory flat in
the sample count."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imbalance_sweep import evaluate
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.losses import LOSS_NAMES, make_terms
from imbalance_sweep.core.multiclass import evaluation
from imbalance_sweep.core.multiclass.cell import as_binary_cell, make_multiclass_cell
from imbalance_sweep.core.multiclass.evaluation import evaluate_multiclass_cell, evaluate_rows
from imbalance_sweep.core.multiclass.losses import multiclass_losses
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics
from imbalance_sweep.core.multiclass.simulator import simulate
from imbalance_sweep.core.vocabulary import (
    MULTICLASS_LOSS_NAMES,
    MULTICLASS_METRIC_NAMES,
    PER_CLASS_METRIC_NAMES,
    band_key,
    class_key,
    loss_key,
)

accuracies = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.3]), st.floats(0.0, 1.0))
RANKING = ("roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo")


@given(
    counts=st.tuples(st.integers(0, 400), st.integers(0, 400)).filter(any),
    accs=st.tuples(accuracies, accuracies),
    seed=st.integers(0, 2**32),
    chunk_size=st.integers(1, 300),
)
def test_at_k_2_the_binary_engine_logs_the_binary_cells_values(counts, accs, seed, chunk_size):
    """The K = 2 cell's binary cell evaluates to the binary cell's record, which is also the binary
    ``evaluate`` of the K-class draw's scores of class 1: the rows are the binary model's."""
    cell = make_multiclass_cell(counts, accs)
    term_sums = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    routed = evaluate_cell(
        as_binary_cell(cell), seed=seed, losses=LOSS_NAMES, term_sums=term_sums, chunk_size=chunk_size
    )
    binary = evaluate_cell(
        Cell(counts[0], counts[1], accs[0], accs[1]),
        seed=seed,
        losses=LOSS_NAMES,
        term_sums=term_sums,
        chunk_size=chunk_size,
    )
    labels, scores = simulate(counts, accs, seed=seed)
    of_the_rows = evaluate(labels, scores[:, 1], chunk_size=chunk_size)
    assert routed.keys() == binary.keys() == of_the_rows.keys()
    for key, value in binary.items():
        assert np.array_equal(routed[key], value, equal_nan=True), key
        assert np.array_equal(of_the_rows[key], value, equal_nan=True), key


@st.composite
def cells(draw, max_classes=5, max_count=80):
    classes = draw(st.integers(2, max_classes))
    counts = draw(st.lists(st.integers(0, max_count), min_size=classes, max_size=classes).filter(any))
    accs = draw(st.lists(accuracies, min_size=classes, max_size=classes))
    training = draw(st.lists(st.integers(1, 2000), min_size=classes, max_size=classes))
    spread = draw(st.sampled_from(["uniform", "frequency"]))
    return make_multiclass_cell(counts, accs, spread=spread, training_counts=training)


@given(cell=cells(), seed=st.integers(0, 2**32), chunk_size=st.integers(1, 50))
def test_the_values_are_the_first_steps_of_the_rows_however_chunked(cell, seed, chunk_size):
    labels, scores = simulate(
        cell.counts, cell.accuracies, spread=cell.spread, training_counts=cell.training_counts, seed=seed
    )
    values = evaluate_multiclass_cell(cell, seed=seed, chunk_size=chunk_size)
    losses = multiclass_losses(labels, scores, training_counts=cell.training_counts)
    metrics = multiclass_metrics(labels, scores, training_counts=cell.training_counts)
    assert values == {loss_key(name): value for name, value in losses.items()} | metrics
    assert set(MULTICLASS_METRIC_NAMES) | {loss_key(name) for name in MULTICLASS_LOSS_NAMES} <= set(values)
    for name in PER_CLASS_METRIC_NAMES:
        assert all(class_key(name, k, cell.classes) in values for k in range(cell.classes))


@given(cell=cells(), seed=st.integers(0, 2**32), data=st.data())
def test_permuting_the_classes_permutes_the_per_class_values(cell, seed, data):
    """Rows relabelled and their columns moved by a permutation, training counts with them: each
    class's values move with it, the overall ones stay (to rounding: sums change order)."""
    order = data.draw(st.permutations(range(cell.classes)))  # new class i is old class order[i]
    new_of = np.argsort(order)
    labels, scores = simulate(
        cell.counts, cell.accuracies, spread=cell.spread, training_counts=cell.training_counts, seed=seed
    )
    top_two = np.sort(scores, axis=1)[:, -2:]
    assume(not np.any(top_two[:, 0] == top_two[:, 1]))  # argmax ties break by index: not permutable
    training = tuple(cell.training_counts[k] for k in order)

    def values(labels, scores, training_counts):
        return evaluate_rows(
            [(int(label), scores[labels == label]) for label in np.unique(labels)],
            classes=cell.classes,
            training_counts=training_counts,
            ranked_rows=labels.size,
        )

    before = values(labels, scores, cell.training_counts)
    after = values(new_of[labels], scores[:, order], training)
    for name in PER_CLASS_METRIC_NAMES:
        for new, old in enumerate(order):
            assert after[class_key(name, new, cell.classes)] == before[class_key(name, old, cell.classes)]
    for key, value in before.items():
        if "/class_" not in key:
            assert after[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


def test_a_perfect_model_scores_perfectly():
    cell = make_multiclass_cell(
        [400, 300, 200, 100], [1.0] * 4, spread="frequency", training_counts=[500, 50, 10, 1]
    )
    values = evaluate_multiclass_cell(cell, seed=3)
    for name in (
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "mcc",
        "cohen_kappa",
        "top_k_accuracy",
        *RANKING,
    ):
        assert values[name] == 1.0, name
    for k in range(4):
        assert values[class_key("recall", k, 4)] == values[class_key("precision", k, 4)] == 1.0
    assert values[band_key("many")] == values[band_key("medium")] == values[band_key("few")] == 1.0
    assert values[loss_key("cce")] < 0.7  # -log of scores above 0.5


def test_every_row_in_one_class():
    """The other classes' recall is 0.0 (no rows), balanced accuracy is the one class's recall, no
    ranking metric has two classes to compare (0.0), and with the default training counts (zeros)
    the training-prior losses are left out, or refused in one line when asked for."""
    cell = make_multiclass_cell([0, 0, 500], [0.9, 0.9, 0.7])
    values = evaluate_multiclass_cell(cell, seed=1)
    recall = values[class_key("recall", 2, 3)]
    assert 0.6 < recall < 0.8
    assert values["accuracy"] == values["balanced_accuracy"] == recall
    assert values[class_key("recall", 0, 3)] == values[class_key("recall", 1, 3)] == 0.0
    assert all(values[name] == 0.0 for name in RANKING)
    assert values["mcc"] == 0.0
    # bands of the classes with rows only: class 2 (500 training rows) is many-shot
    assert values[band_key("many")] == recall and band_key("few") not in values
    present = {key for key in values if key.startswith("loss/")}
    assert present == {loss_key(name) for name in ("cce", "categorical_focal", "multiclass_brier")}
    with pytest.raises(InvalidValue, match=r"^training_counts\[0\]=0 is not a finite number > 0$"):
        evaluate_multiclass_cell(cell, seed=1, losses=["cce", "ldam"])


def test_the_ranking_metrics_are_left_out_past_their_size_or_when_not_asked(monkeypatch):
    cell = make_multiclass_cell([30, 20, 10], [0.8, 0.6, 0.4])
    assert set(RANKING) <= set(evaluate_multiclass_cell(cell, seed=0))
    quiet = make_multiclass_cell([30, 20, 10], [0.8, 0.6, 0.4], threshold_free=False)
    assert not set(RANKING) & set(evaluate_multiclass_cell(quiet, seed=0))
    monkeypatch.setattr(evaluation, "RANKING_MAX_SCORES", 60 * 3 - 1)
    without = evaluate_multiclass_cell(cell, seed=0)
    assert not set(RANKING) & set(without)
    assert without == {key: value for key, value in evaluate_multiclass_cell(quiet, seed=0).items()}


def test_a_bad_seed_chunk_size_or_loss_gets_one_line():
    cell = make_multiclass_cell([3, 2, 1], [0.8, 0.6, 0.4])
    with pytest.raises(InvalidValue, match=r"^seed=-1 is not a whole number >= 0$"):
        evaluate_multiclass_cell(cell, seed=-1)
    with pytest.raises(InvalidValue, match=r"^chunk_size=0 is not a whole number in \[1, 1048576\]$"):
        evaluate_multiclass_cell(cell, seed=0, chunk_size=0)
    with pytest.raises(InvalidValue, match=r"^losses\[0\]='bce' is not one of: cce, "):
        evaluate_multiclass_cell(cell, seed=0, losses=["bce"])


def peak_bytes(cell):
    tracemalloc.start()  # numpy reports its allocations to tracemalloc
    try:
        evaluate_multiclass_cell(cell, seed=0, chunk_size=1 << 12)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_the_sample_count():
    """Past the ranking metrics' size, a cell 10x larger takes no measurably more memory."""
    peak_bytes(make_multiclass_cell([100, 10, 1], [0.9, 0.6, 0.3]))  # first-call allocations
    small = peak_bytes(make_multiclass_cell([60_000, 30_000, 10_000], [0.9, 0.6, 0.3], threshold_free=False))
    large = peak_bytes(
        make_multiclass_cell([600_000, 300_000, 100_000], [0.9, 0.6, 0.3], threshold_free=False)
    )
    assert large < small + 64 * 1024
    assert large < 8 << 20
