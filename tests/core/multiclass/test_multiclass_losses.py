"""K-class losses (core.multiclass.losses): the papers' formulas by hand, the K = 2 reduction to the
binary core, chunking and class permutation, a perfect model, and bad input in one line."""

import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imbalance_sweep import InvalidValue, evaluate
from imbalance_sweep.core.clipping import EPSILON, ONE_MINUS_EPSILON
from imbalance_sweep.core.losses import per_sample_terms as binary_terms
from imbalance_sweep.core.multiclass.loss_settings import class_tables
from imbalance_sweep.core.multiclass.losses import (
    MulticlassLosses,
    class_weights,
    multiclass_losses,
    sample_terms,
)
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME


@st.composite
def labelled_scores(draw, min_classes=2, max_classes=6, max_samples=40):
    """``(labels, scores)``: labels in 0..K-1 and float32 rows of K probabilities (zeros, one-hot rows)."""
    classes = draw(st.integers(min_classes, max_classes))
    samples = draw(st.integers(1, max_samples))
    weights = draw(
        arrays(np.float64, (samples, classes), elements=st.one_of(st.just(0.0), st.floats(1e-9, 1.0)))
    )
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    scores = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = draw(arrays(np.int64, samples, elements=st.integers(0, classes - 1)))
    return labels, scores


def counts_of(classes):
    """Training counts: one number > 0 a class, from one to many."""
    return arrays(np.float64, classes, elements=st.floats(1.0, 1e5))


# --- the papers' formulas, by hand -------------------------------------------------------------------

ROWS = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]
LABELS = [0, 2, 1]
COUNTS = [100.0, 10.0, 1.0]


def hand_losses(alpha=0.25, gamma=2.0, beta=0.9, tau=1.0, max_margin=0.5, scale=1.0):
    """Each loss of ROWS, LABELS and COUNTS term by term in float64, as the papers write them."""
    p = [[float(np.float32(v)) for v in row] for row in ROWS]  # the float32 scores the losses see
    true = [row[y] for row, y in zip(p, LABELS, strict=True)]
    ce = [-math.log(t) for t in true]
    prior = [n / sum(COUNTS) for n in COUNTS]

    def softmax_ce(logits, y):
        return -logits[y] + math.log(sum(math.exp(z) for z in logits))

    def adjusted(strength):  # Menon et al.: softmax(log p + tau log pi)
        return [
            softmax_ce(
                [math.log(pk) + strength * math.log(pik) for pk, pik in zip(row, prior, strict=True)], y
            )
            for row, y in zip(p, LABELS, strict=True)
        ]

    margins = [max_margin * (min(COUNTS) / n) ** 0.25 for n in COUNTS]  # C / n**(1/4), largest max_margin
    ldam = [
        softmax_ce([scale * (math.log(pk) - (margins[y] if k == y else 0.0)) for k, pk in enumerate(row)], y)
        for row, y in zip(p, LABELS, strict=True)
    ]
    effective = [(1 - beta**n) / (1 - beta) for n in COUNTS]  # Cui et al.'s effective numbers
    cb = [1 / e for e in effective]
    cb = [w * 3 / sum(cb) for w in cb]
    return {
        "cce": sum(ce) / 3,
        "categorical_focal": sum(alpha * (1 - t) ** gamma * c for t, c in zip(true, ce, strict=True)) / 3,
        "class_balanced": sum(cb[y] * c for y, c in zip(LABELS, ce, strict=True)) / 3,
        "logit_adjusted": sum(adjusted(tau)) / 3,
        "balanced_softmax": sum(adjusted(1.0)) / 3,
        "ldam": sum(ldam) / 3,
        "multiclass_brier": sum(
            sum((pk - (k == y)) ** 2 for k, pk in enumerate(row)) for row, y in zip(p, LABELS, strict=True)
        )
        / 3,
    }


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"alpha": 0.6, "gamma": 0.0, "beta": 0.0, "tau": 0.0},
        {"alpha": 1.0, "gamma": 3.5, "beta": 0.999, "tau": 2.0, "max_margin": 1.5, "scale": 2.0},
        {"gamma": 1.0, "beta": 0.5, "tau": 0.5, "max_margin": 0.0, "scale": 30.0},
    ],
)
def test_losses_equal_the_papers_formulas_worked_by_hand(settings):
    defaults = {"beta": 0.9}
    values = multiclass_losses(
        LABELS, np.array(ROWS, dtype=np.float32), training_counts=COUNTS, **{**defaults, **settings}
    )
    for name, expected in hand_losses(**{**defaults, **settings}).items():
        assert values[name] == pytest.approx(expected, rel=2e-6), name


def test_class_balanced_weights_sum_to_k_and_weigh_rare_classes_up():
    tables = class_tables(3, MULTICLASS_LOSS_NAMES, training_counts=COUNTS, beta=0.9)
    weights = class_weights("class_balanced", tables)
    assert math.fsum(weights) == pytest.approx(3.0, rel=1e-15)
    assert weights[0] < weights[1] < weights[2]
    flat = class_weights(
        "class_balanced", class_tables(3, MULTICLASS_LOSS_NAMES, training_counts=COUNTS, beta=0)
    )
    assert flat.tolist() == [1.0, 1.0, 1.0]


@given(st.data())
def test_the_adjusted_losses_equal_their_logits_formula(data):
    """Logit-adjusted, balanced softmax and LDAM against log-sum-exp of their logits in float64."""
    labels, scores = data.draw(labelled_scores())
    classes = scores.shape[1]
    counts = data.draw(counts_of(classes))
    tau = data.draw(st.floats(0.0, 3.0))
    scale = data.draw(st.sampled_from([1.0, 0.5, 2.0, 30.0]))
    max_margin = data.draw(st.floats(0.0, 2.0))
    terms = sample_terms(labels, scores, training_counts=counts, tau=tau, scale=scale, max_margin=max_margin)
    log_c = np.log(np.clip(scores.astype(np.float64), float(EPSILON), float(ONE_MINUS_EPSILON)))
    log_prior = np.log(counts / counts.sum())
    rows = np.arange(labels.size)

    def softmax_ce(logits):
        top = logits.max(axis=1)
        return top + np.log(np.exp(logits - top[:, None]).sum(axis=1)) - logits[rows, labels]

    margins = max_margin * (counts.min() / counts) ** 0.25
    ldam_logits = log_c.copy()
    ldam_logits[rows, labels] -= margins[labels]
    expected = {
        "logit_adjusted": softmax_ce(log_c + tau * log_prior),
        "balanced_softmax": softmax_ce(log_c + log_prior),
        "ldam": softmax_ce(scale * ldam_logits),
    }
    for term, values in expected.items():
        np.testing.assert_allclose(terms[term], values, rtol=1e-5, atol=2e-6, err_msg=term)


# --- properties ---------------------------------------------------------------------------------------


@given(st.data())
def test_chunked_sums_equal_the_one_chunk_sums_bit_for_bit(data):
    labels, scores = data.draw(labelled_scores(max_samples=60))
    counts = data.draw(counts_of(scores.shape[1]))
    cuts = sorted(data.draw(st.lists(st.integers(0, labels.size), max_size=6)))
    settings = {"training_counts": counts, "gamma": data.draw(st.sampled_from([2.0, 1.5]))}
    accumulator = MulticlassLosses(scores.shape[1], **settings)
    whole = multiclass_losses(labels, scores, **settings)
    for start, stop in zip([0, *cuts], [*cuts, labels.size], strict=True):
        accumulator.add(labels[start:stop], scores[start:stop])
    assert accumulator.values() == whole
    # and in the reverse order of the chunks: the sums are exact
    reverse = MulticlassLosses(scores.shape[1], **settings)
    for start, stop in reversed(list(zip([0, *cuts], [*cuts, labels.size], strict=True))):
        reverse.add(labels[start:stop], scores[start:stop])
    assert reverse.values() == whole


def test_chunked_sums_hold_over_blocks_of_many_samples():
    """A chunk is worked through in blocks: chunks cutting across blocks give the same bits."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 70_000)
    scores = rng.dirichlet(np.full(10, 0.3), size=70_000).astype(np.float32)
    settings = {"training_counts": np.geomspace(1000, 10, 10)}
    whole = multiclass_losses(labels, scores, **settings)
    accumulator = MulticlassLosses(10, **settings)
    for start, stop in [(0, 1), (1, 30_001), (30_001, 30_002), (30_002, 70_000)]:
        accumulator.add(labels[start:stop], scores[start:stop])
    assert accumulator.values() == whole
    assert accumulator.counts.tolist() == np.bincount(labels, minlength=10).tolist()


@given(st.data())
def test_permuting_the_classes_and_the_prior_leaves_each_samples_loss(data):
    labels, scores = data.draw(labelled_scores(min_classes=3))
    classes = scores.shape[1]
    counts = data.draw(counts_of(classes))
    alpha = data.draw(arrays(np.float64, classes, elements=st.floats(0.0, 1.0)))
    order = np.array(data.draw(st.permutations(range(classes))))  # new class j is old class order[j]
    new_label = np.argsort(order)
    settings = {"training_counts": counts, "alpha": alpha}
    permuted = {"training_counts": counts[order], "alpha": alpha[order]}
    before = sample_terms(labels, scores, **settings)
    after = sample_terms(new_label[labels], scores[:, order], **permuted)
    for term in ("ce", "focal"):  # of the true class's score alone: the same bits
        assert np.array_equal(before[term], after[term]), term
    for term in before:  # sums over the other classes, in another order: float32 rounding
        np.testing.assert_allclose(after[term], before[term], rtol=1e-5, atol=1e-6, err_msg=term)
    values = multiclass_losses(labels, scores, **settings)
    assert multiclass_losses(new_label[labels], scores[:, order], **permuted) == pytest.approx(
        values, rel=1e-5
    )


@given(st.integers(2, 8), st.integers(1, 30), st.data())
def test_a_perfect_models_cross_entropy_is_at_the_clip_floor(classes, samples, data):
    labels = data.draw(arrays(np.int64, samples, elements=st.integers(0, classes - 1)))
    scores = np.eye(classes, dtype=np.float32)[labels]
    values = multiclass_losses(labels, scores, training_counts=np.ones(classes))
    floor = float(-np.log(ONE_MINUS_EPSILON))  # -log(1 - 1e-7) in float32: about 1.2e-7
    assert values["cce"] == floor
    assert values["multiclass_brier"] == 0.0
    assert 0.0 <= values["categorical_focal"] < 1e-20
    # equal priors: logit adjustment changes nothing, and each wrong class holds 1e-7
    assert values["balanced_softmax"] == pytest.approx(
        math.log1p((classes - 1) * 1e-7 / (1 - 1e-7)), rel=1e-4
    )


def test_all_samples_in_one_class():
    """Only the classes present count; the class-balanced weight of that class still applies."""
    scores = np.array([[0.5, 0.25, 0.25], [0.8, 0.1, 0.1]], dtype=np.float32)
    values = multiclass_losses([0, 0], scores, training_counts=COUNTS, beta=0.9)
    weights = class_weights(
        "class_balanced", class_tables(3, ("class_balanced",), training_counts=COUNTS, beta=0.9)
    )
    assert values["cce"] == pytest.approx((math.log(2) - math.log(0.8)) / 2, rel=1e-7)
    assert values["class_balanced"] == pytest.approx(weights[0] * values["cce"], rel=1e-12)


# --- K = 2: the binary core ------------------------------------------------------------------------

in_clip_range = st.floats(float(EPSILON), float(ONE_MINUS_EPSILON), width=32)


@given(
    st.lists(st.tuples(st.integers(0, 1), in_clip_range), min_size=1, max_size=50),
    st.sampled_from([2.0, 0.5, 3.0]),
)
def test_with_two_classes_the_terms_are_the_binary_cores(samples, gamma):
    """On rows (1 - p, p): cce is bce bit for bit; so is the focal term of a positive, and of a
    negative where 1 - (1 - p) is p in float32 (else the rounding of 1 - p, at most 2**-25, moves
    its weight); the Brier term is twice the binary one on the same condition."""
    labels = np.array([label for label, _ in samples])
    p = np.array([score for _, score in samples], dtype=np.float32)
    scores = np.stack([np.float32(1.0) - p, p], axis=1)
    ours = sample_terms(labels, scores, ("cce", "categorical_focal", "multiclass_brier"), gamma=gamma)
    for label in (0, 1):
        mine = labels == label
        theirs = binary_terms(label, p[mine], {"bce", "focal", "sq"}, gamma=gamma)
        assert np.array_equal(ours["ce"][mine], theirs["bce"])
        exact = (np.float32(1.0) - scores[mine, 0]) == p[mine] if label == 0 else np.ones(mine.sum(), bool)
        assert np.array_equal(ours["focal"][mine][exact], theirs["focal"][exact])
        assert np.array_equal(ours["brier"][mine][exact], 2 * theirs["sq"][exact])
        moved = np.abs(ours["focal"][mine] - theirs["focal"]) / theirs["focal"]
        bound = gamma * 2.0**-25 / p[mine] * 1.01 + 1e-6
        assert (moved <= bound).all()


@pytest.mark.parametrize("alpha", [0.25, 0.6])
def test_with_two_classes_the_means_are_the_binary_cores(alpha):
    rng = np.random.default_rng(3)
    labels = (rng.random(30_000) < 0.1).astype(np.int64)
    p = np.clip(np.where(labels == 1, rng.random(30_000), rng.random(30_000) * 0.6), 1e-6, 1).astype(
        np.float32
    )
    scores = np.stack([np.float32(1.0) - p, p], axis=1)
    binary = evaluate(labels.astype(np.float32), p, alpha=alpha)
    ours = multiclass_losses(
        labels, scores, ("cce", "categorical_focal", "multiclass_brier"), alpha=[1 - alpha, alpha]
    )
    assert ours["cce"] == pytest.approx(binary["loss/bce"], rel=1e-12)
    assert ours["categorical_focal"] == pytest.approx(binary["loss/focal_balanced"], rel=1e-6)
    assert ours["multiclass_brier"] == pytest.approx(2 * binary["loss/brier"], rel=1e-6)
    unweighted = multiclass_losses(labels, scores, ("categorical_focal",), alpha=1.0)
    assert unweighted["categorical_focal"] == pytest.approx(binary["loss/focal"], rel=1e-6)


# --- bad input: one line naming the parameter, the value and what is allowed --------------------------

GOOD = np.array([[0.5, 0.5], [0.2, 0.8]], dtype=np.float32)
losses_with_counts = functools.partial(multiclass_losses, training_counts=[3, 1])
BAD_CALLS = {
    "one class": (
        lambda: multiclass_losses([0, 0], np.ones((2, 1), np.float32)),
        "scores has K=1 columns; allowed: K >= 2 classes",
    ),
    "one class asked": (lambda: MulticlassLosses(1), "classes=1 is not a whole number >= 2"),
    "labels out of range": (
        lambda: losses_with_counts([0, 2], GOOD),
        "labels[1]=2 is not a class index in 0..1 (K=2)",
    ),
    "negative label": (lambda: losses_with_counts([-1, 0], GOOD), "labels[0]=-1"),
    "float labels": (
        lambda: losses_with_counts([0.0, 1.0], GOOD),
        "labels has dtype float64; allowed: integers 0..1",
    ),
    "labels not 1-D": (
        lambda: losses_with_counts([[0, 1]], GOOD),
        "labels has shape (1, 2); allowed: (2,), one label a row of scores",
    ),
    "no samples": (lambda: losses_with_counts([], np.empty((0, 2), np.float32)), "labels is empty"),
    "length mismatch": (
        lambda: losses_with_counts([0, 1, 1], GOOD),
        "labels has shape (3,); allowed: (2,), one label a row of scores",
    ),
    "scores of another K": (
        lambda: MulticlassLosses(3, ("cce",)).add([0, 1], GOOD),
        "scores has K=2 columns; allowed: 3, the number of classes",
    ),
    "scores not 2-D": (
        lambda: multiclass_losses([0, 1], [0.5, 0.5]),
        "scores has shape (2,); allowed: (n, K), one row of K probabilities a sample",
    ),
    "negative score": (
        lambda: losses_with_counts([0, 1], np.array([[1.5, -0.5], [0.5, 0.5]])),
        "scores[0, 0]=1.5 is not a probability in [0, 1]",
    ),
    "nan score": (
        lambda: losses_with_counts([0, 1], np.array([[0.5, 0.5], [np.nan, 0.5]])),
        "scores[1, 0]=nan is not a probability in [0, 1]",
    ),
    "row not summing": (
        lambda: losses_with_counts([0, 1], np.array([[0.5, 0.5], [0.2, 0.7]])),
        "scores[1] sums to 0.9; allowed: rows summing to 1 within 0.0001",
    ),
    "integer scores": (
        lambda: losses_with_counts([0, 1], [[1, 0], [0, 1]]),
        "scores has dtype int64; allowed: float32 or float64",
    ),
    "float16 scores": (
        lambda: losses_with_counts([0, 1], GOOD.astype(np.float16)),
        "scores has dtype float16; allowed: float32 or float64",
    ),
    "unknown loss": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce", "bce")),
        "losses[1]='bce' is not one of",
    ),
    "no training counts": (
        lambda: multiclass_losses([0, 1], GOOD),
        "training_counts=None: class_balanced, logit_adjusted, balanced_softmax, ldam need",
    ),
    "counts of K mismatch": (
        lambda: multiclass_losses([0, 1], GOOD, training_counts=[1, 2, 3]),
        "training_counts has shape (3,); allowed: (2,), one number a class",
    ),
    "a zero count": (
        lambda: multiclass_losses([0, 1], GOOD, training_counts=[5, 0]),
        "training_counts[1]=0 is not a finite number > 0",
    ),
    "a nan count": (
        lambda: multiclass_losses([0, 1], GOOD, training_counts=[np.nan, 1]),
        "training_counts[0]=nan is not a finite number > 0",
    ),
    "beta of 1": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce",), beta=1.0),
        "beta=1.0 is not a number in [0, 1)",
    ),
    "negative gamma": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce",), gamma=-1),
        "gamma=-1 is not a finite number >= 0",
    ),
    "alpha of K mismatch": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce",), alpha=[0.1, 0.2, 0.7]),
        "alpha has shape (3,); allowed: (2,), one number a class",
    ),
    "nan tau": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce",), tau=float("nan")),
        "tau=nan is not a finite number >= 0",
    ),
    "zero scale": (
        lambda: multiclass_losses([0, 1], GOOD, ("cce",), scale=0),
        "scale=0 is not a finite number > 0",
    ),
    "text classes": (lambda: MulticlassLosses("3"), "classes='3' is not a whole number >= 2"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_gets_one_line_naming_it(case):
    call, expected = BAD_CALLS[case]
    with pytest.raises(InvalidValue) as raised:
        call()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_a_chunk_with_a_bad_row_adds_nothing():
    """The bad row is in a later block of the chunk than good rows: none of them is added."""
    rng = np.random.default_rng(2)
    classes = 64  # blocks of 4096 samples
    accumulator = MulticlassLosses(classes, ("cce", "multiclass_brier"))
    accumulator.add([0, 1], np.full((2, classes), 1 / classes, dtype=np.float32))
    before = accumulator.values()
    labels = rng.integers(0, classes, 5000)
    scores = rng.dirichlet(np.ones(classes), size=5000).astype(np.float32)
    scores[4500, 3] += 0.01
    with pytest.raises(InvalidValue, match=r"scores\[4500\] sums to"):
        accumulator.add(labels, scores)
    assert accumulator.values() == before
    assert accumulator.counts.sum() == 2


def test_every_loss_is_registered_once_lower_is_better():
    assert len(set(MULTICLASS_LOSS_NAMES)) == len(MULTICLASS_LOSS_NAMES) == 7
    assert all(MULTICLASS_LOSSES_BY_NAME[name].lower_is_better for name in MULTICLASS_LOSS_NAMES)
    values = multiclass_losses([0, 1], GOOD, training_counts=[3, 1])
    assert tuple(values) == MULTICLASS_LOSS_NAMES
