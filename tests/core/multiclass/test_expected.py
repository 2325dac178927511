"""The K-class expected mode against sampled means of the K-class model (a small sampler of its own
here, fed to the first step's losses and metrics), by hand on small cases, against the binary
expected mode at K = 2, and its bad inputs."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imbalance_sweep.core.multiclass.expected import expected_multiclass
from imbalance_sweep.core.multiclass.expected_metrics import expected_confusion
from imbalance_sweep.core.multiclass.losses import multiclass_losses
from imbalance_sweep.core.multiclass.metrics import multiclass_metrics
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES, class_key, loss_key

LOSS_KEYS = [loss_key(name) for name in MULTICLASS_LOSS_NAMES]
UNBIASED_METRICS = [
    "accuracy",
    "balanced_accuracy",
    "recall_macro",
    "top_k_accuracy",
    "log_loss",
    "roc_auc_ovr",
    "roc_auc_ovr_weighted",
    "roc_auc_ovo",
]
RATIO_METRICS = ["mcc", "cohen_kappa"]
PRECISION_METRICS = ["precision_macro", "f1_macro", "precision_weighted", "f1_weighted"]
ECE_METRICS = ["ece_top_label", "ece_classwise"]
ECE_BINS = 10
REPLICATES = 24


def sample_cell(rng, counts, accuracies, spread):
    """Labels and float32 scores of the K-class model, drawn directly: a row of class k gets a
    confuser c ~ spread[k] and the binary uniform model's score p of label (k > c) with accuracy a_k;
    the higher of k and c scores p, the lower 1 - p, every other class 0."""
    classes = len(counts)
    labels = np.repeat(np.arange(classes), counts)
    rows = labels.size
    cumulative = np.cumsum(spread, axis=1)[labels]
    confuser = (rng.random(rows)[:, None] >= cumulative).sum(axis=1)
    last_share = np.array([np.flatnonzero(row).max() for row in spread])
    confuser = np.minimum(confuser, last_share[labels])  # a cumulative sum just below 1
    acc = np.asarray(accuracies, dtype=np.float64)[labels]
    width = 0.5 / np.maximum(acc, 1.0 - acc)
    drawn = width * rng.random(rows)
    distance = np.where(acc >= 0.5, drawn, 1.0 - drawn)  # |p - label|, a share acc of it below 1/2
    positive = labels > confuser
    p = np.where(positive, 1.0 - distance, distance).astype(np.float32)
    scores = np.zeros((rows, classes), dtype=np.float32)
    every = np.arange(rows)
    higher, lower = np.maximum(labels, confuser), np.minimum(labels, confuser)
    scores[every, higher] = p
    scores[every, lower] = np.float32(1.0) - p
    return labels, scores


def sampled_values(rng, counts, accuracies, spread, training, replicates):
    """Each replicate's losses and metrics (the first step's), as arrays keyed by name."""
    runs = []
    for _ in range(replicates):
        labels, scores = sample_cell(rng, counts, accuracies, spread)
        values = {
            loss_key(name): value
            for name, value in multiclass_losses(labels, scores, training_counts=training).items()
        }
        values |= multiclass_metrics(labels, scores, training_counts=training, ece_bins=ECE_BINS)
        runs.append(values)
    return {key: np.array([run[key] for run in runs]) for key in runs[0]}


def misses(exact, sampled, keys, allowance):
    """The keys whose replicate mean is further than 3 standard errors (of the replicates) from the
    exact value, beyond ``allowance``."""
    far = []
    for key in keys:
        values = sampled[key]
        error = values.std(ddof=1) / math.sqrt(values.size)
        if abs(values.mean() - exact[key]) > 3.0 * error + allowance:
            far.append(key)
    return far


@st.composite
def cells(draw, *, max_classes=5):
    """K in 2..max_classes, 200..800 rows a class, accuracies (0, 1/2 and 1 likely), error spreads
    of small whole weights, training counts 1..2000."""
    classes = draw(st.integers(2, max_classes))
    counts = draw(st.lists(st.integers(200, 800), min_size=classes, max_size=classes))
    accuracy = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))
    accuracies = draw(st.lists(accuracy, min_size=classes, max_size=classes))
    spread = np.zeros((classes, classes))
    for k in range(classes):
        weights = draw(st.lists(st.integers(0, 5), min_size=classes - 1, max_size=classes - 1).filter(any))
        spread[k, [c for c in range(classes) if c != k]] = np.array(weights) / sum(weights)
    training = draw(st.lists(st.integers(1, 2000), min_size=classes, max_size=classes))
    return counts, accuracies, spread, training


# derandomize: the same 15 examples every run. A statistical test whose seed hypothesis may search
# would find, run after run, a seed that puts some value 3 standard errors out twice by chance (one
# did: seed 440, class 1's recall 3.1 SE out twice, where 2,000 replicates give 0.3757 +- 0.0005
# against the exact 0.375).
@settings(max_examples=15, derandomize=True)
@given(cells(), st.integers(0, 2**32 - 1))
@example(
    ([200, 200, 200], [0.0, 0.0, 0.0], np.array([[0, 1.0, 0], [1.0, 0, 0], [0.5, 0.5, 0]]), [1, 1, 1]), 0
)
def test_the_sampled_means_agree_within_three_standard_errors(cell, seed):
    """Losses and metrics of 24 sampled replicates against the exact values: within 3 standard errors
    of their mean. About 20 values an example are compared, so a value outside is drawn again (new
    rows) and fails only if outside again: a real bias stays outside, chance rarely does twice.

    Each value is the population value, the metric at the expected counts, as the binary expected mode
    gives it: the means of the sampled ratios of counts (MCC, kappa, precision, F1) are off it by
    O(1 / n), compared within 1 / n beyond the 3 standard errors, n the fewest rows of a class or
    predictions of a class predicted at all, and precision and F1 only where no class is predicted
    fewer than 40 times on average (one predicted 0.5 times has precision 0 in most replicates).
    The ECEs are biased upwards by their absolute values: compared within the bound of that bias,
    sum over bins of sqrt(rows in the bin) / N <= sqrt(bins / N). And every value within one row of
    the smallest class in one replicate: an event of probability 1e-5 is seen in no replicate, whose
    standard error is then 0."""
    counts, accuracies, spread, training = cell
    exact = expected_multiclass(counts, accuracies, spread, training_counts=training, ece_bins=ECE_BINS)
    columns = expected_confusion(np.array(counts, float), np.array(accuracies), spread).sum(axis=0)
    fewest = min(min(counts), columns[columns > 0].min())
    ratios = RATIO_METRICS + (PRECISION_METRICS if np.all((columns == 0) | (columns >= 40)) else [])
    one_row = 1.0 / (min(counts) * REPLICATES)
    groups = [
        (one_row, LOSS_KEYS + UNBIASED_METRICS + [class_key("recall", 0, len(counts))]),
        (one_row + 1.0 / fewest, ratios),
        (one_row + math.sqrt(ECE_BINS / sum(counts)), ECE_METRICS),
    ]
    rng = np.random.default_rng(seed)
    for _attempt in range(2):
        sampled = sampled_values(rng, counts, accuracies, spread, training, replicates=REPLICATES)
        far = [key for allowance, keys in groups for key in misses(exact, sampled, keys, allowance)]
        groups = [(allowance, [key for key in keys if key in far]) for allowance, keys in groups]
    assert not far, {key: (exact[key], sampled[key].mean(), sampled[key].std(ddof=1)) for key in far}


def test_the_standard_errors_are_those_of_replicates():
    """400 replicates of a small cell (fixed seed): their standard deviation within 15 % of
    stderr/loss/<name> (the estimate's own spread is about 3.5 %)."""
    counts, accuracies, training = [60, 40, 30], [0.9, 0.6, 0.3], [500, 50, 5]
    spread = [[0.0, 0.5, 0.5], [0.8, 0.0, 0.2], [0.9, 0.1, 0.0]]
    values = expected_multiclass(counts, accuracies, spread, training_counts=training)
    rng = np.random.default_rng(20260)
    runs = [
        multiclass_losses(*sample_cell(rng, counts, accuracies, np.array(spread)), training_counts=training)
        for _ in range(400)
    ]
    for name in MULTICLASS_LOSS_NAMES:
        spread_of_replicates = np.std([run[name] for run in runs], ddof=1)
        assert values[f"stderr/{loss_key(name)}"] == pytest.approx(spread_of_replicates, rel=0.15), name
