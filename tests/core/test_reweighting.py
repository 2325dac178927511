"""A validation set re-weighted exactly to other prevalences (core.reweighting) and predictions from
arrays: the Keras callback's numbers, without Keras (which epoch each criterion picks:
analysis/test_selection.py). The re-weighted values are held to ``evaluate`` on the set with each
class repeated to that prevalence (an independent way to the same population), and to ``expected``
on whole counts."""

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imbalance_sweep import expected
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.evaluation import evaluate
from imbalance_sweep.core.expectations import expected_at_prevalence
from imbalance_sweep.core.predictions import load_predictions, predictions_from_arrays
from imbalance_sweep.core.reweighting import check_labels, check_prevalences, validation_values
from imbalance_sweep.core.score_models.empirical import EmpiricalModel

SCALED = ("tp", "fp", "tn", "fn", "loss/focal_tfa")  # counts and sums: they grow with the set


def validation_set(n0=180, n1=20, seed=0):
    """Scores of a middling model, some tied, some at exactly 0.5 and 1."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    scores = np.clip(rng.beta(2, 5, n0 + n1) + 0.3 * labels, 0, 1).astype(np.float32)
    scores[:5] = 0.5
    scores[-3:] = 1.0
    scores[10:14] = scores[14]
    return rng.permutation(labels), scores[rng.permutation(n0 + n1)]


def repeated(labels, scores, negatives: int, positives: int):
    """Each negative ``negatives`` times and each positive ``positives`` times."""
    order = np.argsort(labels, kind="stable")
    labels, scores = labels[order], scores[order]
    times = np.where(labels == 1, positives, negatives)
    return np.repeat(labels, times), np.repeat(scores, times)


def test_predictions_from_arrays_are_a_files_predictions(tmp_path):
    labels, scores = validation_set()
    path = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"label": labels, "score": scores}), path)
    from_file, in_memory = load_predictions(path), predictions_from_arrays(labels, scores)
    assert np.array_equal(from_file.labels, in_memory.labels)
    assert np.array_equal(from_file.scores, in_memory.scores)
    assert in_memory.rows == 200 and in_memory.path == "in-memory predictions"
    assert in_memory.digest == predictions_from_arrays(labels.astype(bool), scores).digest
    assert in_memory.digest != predictions_from_arrays(labels, scores[::-1]).digest


@pytest.mark.parametrize(
    "labels, scores, line",
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels[2]=2 is not 0 or 1"),
        ([0, 1, 0.5], [0.1, 0.2, 0.3], "labels[2]=0.5 is not 0 or 1"),
        ([0, 1, 1], [0.1, float("nan"), 0.3], "scores[1]=nan is not a probability in [0, 1]"),
        ([0, 1, 1], [0.1, 1.0000001, 0.3], "scores[1]=1.0000001 is not a probability in [0, 1]"),
        ([0, 1], [0.1, 0.2, 0.3], "labels and scores must be 1-D, of one length and not empty"),
        (["a", "b"], [0.1, 0.2], "labels[0]='a' is not a number"),
    ],
)
def test_predictions_from_arrays_refuse_bad_values_with_one_line(labels, scores, line):
    with pytest.raises(InvalidValue) as refused:
        predictions_from_arrays(np.asarray(labels), np.asarray(scores))
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)


def test_a_prevalence_of_whole_counts_is_expected_bit_for_bit():
    labels, scores = validation_set()
    model = EmpiricalModel(predictions_from_arrays(labels, scores))
    for n0, n1 in ((198, 2), (100, 100), (20, 180)):
        exact = expected(n0, None, n1, None, score_model=model)
        assert expected_at_prevalence(n1 / 200, 200, score_model=model) == exact


@pytest.mark.parametrize("prevalence, negatives, positives", [(0.01, 11, 1), (0.5, 1, 9), (0.1, 1, 1)])
def test_reweighted_values_are_evaluate_on_the_set_with_each_class_repeated(prevalence, negatives, positives):
    """180 negatives and 20 positives: x11 negatives is 1 %, x9 positives 50 %, neither is the set's 10 %."""
    labels, scores = validation_set()
    values = validation_values(labels, scores, [prevalence])
    big_labels, big_scores = repeated(labels, scores, negatives, positives)
    assert big_labels.mean() == pytest.approx(prevalence, rel=1e-12)
    direct = evaluate(big_labels, big_scores)
    scale = labels.size / big_labels.size
    assert set(values[prevalence]) == set(direct) == set(values[None])
    for key, value in direct.items():
        want = value * scale if key in SCALED else value
        assert values[prevalence][key] == pytest.approx(want, rel=1e-9, abs=1e-12), key
    assert values[None] == evaluate(labels, scores)


def test_values_at_prevalences_are_finite_and_recall_does_not_move():
    labels, scores = validation_set()
    values = validation_values(labels, scores, [1e-5, 0.3, 0.99999])
    for at in values.values():
        assert all(math.isfinite(value) for value in at.values())
        assert at["recall"] == pytest.approx(values[None]["recall"], rel=1e-12)
        assert at["loss/balanced_bce"] == pytest.approx(values[None]["loss/balanced_bce"], rel=1e-12)
    assert values[1e-5]["precision"] < values[0.3]["precision"] < values[0.99999]["precision"]


@pytest.mark.parametrize(
    "given, line",
    [
        ([0.01, 0], "prevalences[1]=0 is not a number in (0, 1)"),
        ([1], "prevalences[0]=1 is not a number in (0, 1)"),
        ([1.5], "prevalences[0]=1.5 is not a number in (0, 1)"),
        ([float("nan")], "prevalences[0]=nan is not a number in (0, 1)"),
        ([True], "prevalences[0]=True is not a number in (0, 1)"),
        (["0.1"], "prevalences[0]='0.1' is not a number in (0, 1)"),
        ("0.1", "prevalences='0.1' is not a list of numbers in (0, 1)"),
        ([0.1, 0.5, 0.1], "prevalences=[0.1, 0.5, 0.1] repeats 0.1"),
    ],
)
def test_prevalences_outside_zero_one_get_one_line(given, line):
    with pytest.raises(InvalidValue) as refused:
        check_prevalences(given)
    assert str(refused.value) == line


@pytest.mark.parametrize(
    "labels, line",
    [
        ([0, 0, 0], "y_val has no positives: re-weighting needs samples of both classes"),
        ([1, 1], "y_val has no negatives: re-weighting needs samples of both classes"),
        ([0, 1, -1], "y_val[2]=-1 is not 0 or 1"),
        ([[0, 1], [1, 0]], "y_val of shape (2, 2) is not a non-empty 1-D array (or one column)"),
        ([], "y_val of shape (0,) is not a non-empty 1-D array (or one column)"),
    ],
)
def test_labels_not_zero_one_get_one_line(labels, line):
    with pytest.raises(InvalidValue) as refused:
        check_labels(labels)
    assert str(refused.value) == line


def test_labels_of_one_column_are_a_vector():
    assert check_labels(np.array([[0], [1], [1]])).tolist() == [False, True, True]
