"""The K-class draw: the binary model's scores bit for bit at K = 2, rows that no chunking or class
order changes, rows of probabilities whose argmax is right at the requested rates, and the
requested confusion within a few binomial standard errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep import simulate as binary_simulate
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.cell import expected_confusion, make_multiclass_cell
from imbalance_sweep.core.multiclass.confusion import confusion_counts, predicted_classes
from imbalance_sweep.core.multiclass.simulator import cell_score_chunks, simulate

accuracies = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.3, 0.999]), st.floats(0.0, 1.0))


@given(
    counts=st.tuples(st.integers(0, 300), st.integers(0, 300)).filter(any),
    accs=st.tuples(accuracies, accuracies),
    seed=st.integers(0, 2**32),
    chunk_size=st.integers(1, 70),
)
def test_at_k_2_the_scores_are_the_binary_models_bit_for_bit(counts, accs, seed, chunk_size):
    y_true, y_pred = binary_simulate(counts[0], accs[0], counts[1], accs[1], seed=seed)
    labels, scores = simulate(counts, accs, seed=seed, chunk_size=chunk_size)
    assert scores.dtype == np.float32 and scores.shape == (sum(counts), 2)
    assert np.array_equal(labels, y_true.astype(np.intp))
    assert np.array_equal(scores[:, 1].view(np.uint32), y_pred.view(np.uint32))
    assert np.array_equal(scores[:, 0].view(np.uint32), (np.float32(1.0) - y_pred).view(np.uint32))
    # the argmax (ties to class 0) is the binary prediction (a score > 0.5 is positive)
    assert np.array_equal(predicted_classes(scores), (y_pred > 0.5).astype(np.intp))


def cells(max_classes=5, max_count=60):
    """K-class cells of every spread rule (a matrix too), with their training counts."""

    @st.composite
    def build(draw):
        classes = draw(st.integers(3, max_classes))
        counts = draw(st.lists(st.integers(0, max_count), min_size=classes, max_size=classes).filter(any))
        rule = draw(st.sampled_from(["uniform", "frequency", "matrix"]))
        training = draw(st.lists(st.integers(0, 2000), min_size=classes, max_size=classes))
        if rule == "matrix":
            row = st.lists(st.integers(0, 9), min_size=classes, max_size=classes).filter(any)
            matrix = draw(st.lists(row, min_size=classes, max_size=classes))
            return make_multiclass_cell(counts, spread=matrix, training_counts=training)
        accs = draw(st.lists(accuracies, min_size=classes, max_size=classes))
        return make_multiclass_cell(counts, accs, spread=rule, training_counts=training)

    return build()


def rows_by_class(cell, seed, chunk_size, order=None):
    rows = {label: [] for label in range(cell.classes)}
    for label, chunk in cell_score_chunks(cell, seed, chunk_size, order):
        assert chunk.shape[0] <= chunk_size
        rows[label].append(chunk.copy())
    return {
        label: np.concatenate(chunks) if chunks else np.empty((0, cell.classes))
        for label, chunks in rows.items()
    }


@given(cell=cells(), seed=st.integers(0, 2**32), chunk_size=st.integers(1, 40), data=st.data())
def test_no_chunking_or_class_order_changes_a_row(cell, seed, chunk_size, data):
    order = data.draw(st.permutations(range(cell.classes)))
    whole = rows_by_class(cell, seed, 1 << 16)
    parts = rows_by_class(cell, seed, chunk_size, order)
    for label in range(cell.classes):
        assert whole[label].shape == (cell.counts[label], cell.classes)
        assert np.array_equal(whole[label].view(np.uint32), parts[label].view(np.uint32))


@given(cell=cells(), seed=st.integers(0, 2**32))
def test_each_row_is_a_binary_problem_between_its_class_and_one_confuser(cell, seed):
    """Two non-zero scores at most, p on the higher index, float32(1 - p) on the lower, the true
    class one of them; a confuser the spread gives no weight is never drawn."""
    for label, chunk in cell_score_chunks(cell, seed, 1 << 16):
        order = np.argsort(chunk == 0, axis=1, kind="stable")  # the two classes of each row first
        assert np.count_nonzero(chunk, axis=1).max() <= 2
        rows = np.arange(chunk.shape[0])
        pair = np.sort(order[:, :2], axis=1)
        others = np.where(pair[:, 0] == label, pair[:, 1], pair[:, 0])
        zero_scores = (chunk[rows, pair[:, 0]] == 0) | (chunk[rows, pair[:, 1]] == 0)
        assert np.all((pair[:, 0] == label) | (pair[:, 1] == label) | zero_scores)
        low, high = chunk[rows, pair[:, 0]], chunk[rows, pair[:, 1]]
        assert np.array_equal(low, np.float32(1.0) - high)
        assert np.all(np.abs(chunk.sum(axis=1, dtype=np.float64) - 1) <= 2**-24)
        weights = cell.error_weights(label)
        if any(weights):
            allowed = [
                c for c, w in zip([c for c in range(cell.classes) if c != label], weights, strict=True) if w
            ]
            unambiguous = ~zero_scores
            assert np.isin(others[unambiguous], allowed).all()


def requested_rates(accs, spread, training):
    """The confusion rates asked for, written out from the rules (not from the cell's code)."""
    if not isinstance(spread, str):
        return [[value / sum(row) for value in row] for row in spread]
    classes = len(accs)
    rates = []
    for k, acc in enumerate(accs):
        weights = [1.0 if spread == "uniform" else training[c] for c in range(classes)]
        weights[k] = 0.0
        rates.append([acc if c == k else (1 - acc) * weights[c] / sum(weights) for c in range(classes)])
    return rates


@pytest.mark.parametrize(
    "counts, accs, spread, training",
    [
        ([30_000, 20_000, 10_000, 5_000], [0.9, 0.7, 0.5, 0.2], "frequency", [1280, 300, 40, 5]),
        ([20_000] * 5, [0.0, 0.3, 0.6, 0.95, 1.0], "uniform", None),
        ([40_000, 40_000, 40_000], None, [[6, 3, 1], [1, 1, 2], [5, 0, 5]], None),
    ],
)
def test_a_large_draw_has_the_requested_confusion(counts, accs, spread, training):
    """Every cell of the empirical confusion within 5 binomial standard errors of n_k times the
    requested rate: a_k on the diagonal, (1 - a_k) r_kc off it; expected_confusion is that rate."""
    cell = make_multiclass_cell(counts, accs, spread=spread, training_counts=training)
    labels, scores = simulate(counts, accs, spread=spread, training_counts=training, seed=11)
    observed = confusion_counts(labels, predicted_classes(scores), cell.classes)
    requested = requested_rates(cell.accuracies, spread, training)
    assert np.allclose(np.array(expected_confusion(cell), dtype=float), requested, rtol=1e-15, atol=0)
    for k, row in enumerate(requested):
        for c, rate in enumerate(row):
            standard_error = math.sqrt(counts[k] * rate * (1 - rate))
            assert abs(observed[k, c] - counts[k] * rate) <= 5 * standard_error + 1e-9, (k, c)


def test_a_perfect_and_a_useless_model_are_exact():
    labels, scores = simulate([500, 0, 300, 200], [1.0] * 4, spread="frequency", seed=4)
    assert np.array_equal(predicted_classes(scores), labels)
    labels, scores = simulate([500, 0, 300, 200], [0.0] * 4, seed=4)
    assert not np.any(predicted_classes(scores) == labels)


def test_simulate_refuses_a_bad_seed_or_chunk_size_in_one_line():
    with pytest.raises(InvalidValue, match=r"^seed=-1 is not a whole number >= 0$"):
        simulate([1, 2, 3], [0.5] * 3, seed=-1)
    with pytest.raises(InvalidValue, match=r"^chunk_size=0 is not a whole number in \[1, 1048576\]$"):
        simulate([1, 2, 3], [0.5] * 3, chunk_size=0)
