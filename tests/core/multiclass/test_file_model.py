"""A K-class predictions file as a model (core.multiclass.file_model, file_flip_inputs): its draw is
the same rows under any chunking and comes from the file's rows of each class, its exact values are
the re-weighting's at the cell's prior, its class values give the re-weighted loss at any prior."""

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.evaluation import evaluate_rows
from imbalance_sweep.core.multiclass.file_flip_inputs import file_class_values
from imbalance_sweep.core.multiclass.file_model import (
    draw_file_cell,
    file_expected_values,
    file_score_chunks,
    file_seed_sequence,
    load_class_file_model,
)
from imbalance_sweep.core.multiclass.losses import multiclass_losses, sample_terms
from imbalance_sweep.core.multiclass.predictions import class_predictions_table
from imbalance_sweep.core.multiclass.reweighting import reweighted_losses, reweighted_values
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES


def write_file(path, rows=(40, 25, 10, 5), seed=0):
    """A K-class predictions file of ``rows`` per class, shuffled, scores favouring the true class."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(rows)), rows))
    scores = rng.dirichlet(np.ones(len(rows)), labels.size)
    scores[np.arange(labels.size), labels] += rng.uniform(0, 0.8, labels.size)
    scores = (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
    table = class_predictions_table(labels, scores)
    (pq.write_table if path.suffix == ".parquet" else pcsv.write_csv)(table, path)
    return path


@pytest.fixture
def model(tmp_path):
    return load_class_file_model(write_file(tmp_path / "preds.parquet"))


def test_the_file_reads_as_its_labels_scores_digest_and_class_counts(tmp_path, model):
    assert (model.classes, model.rows, model.class_counts) == (4, 80, (40, 25, 10, 5))
    confusion_recall = [np.mean(model.scores[model.labels == k].argmax(axis=1) == k) for k in range(4)]
    assert model.accuracies == pytest.approx(confusion_recall, abs=0)
    moved = load_class_file_model("preds.parquet", start_dir=tmp_path)  # a relative path
    assert moved.digest == model.digest and moved.path == str(tmp_path / "preds.parquet")
    other = load_class_file_model(write_file(tmp_path / "other.csv", seed=1))
    assert other.digest != model.digest
    assert model.dataset["columns"] == {"label": "label", **{f"score_{k}": f"score_{k}" for k in range(4)}}


def test_the_draw_takes_each_class_from_its_rows_the_same_under_any_chunking(model):
    counts = [30, 0, 17, 9]
    labels, scores = draw_file_cell(model, counts, seed=3, replicate=1)
    assert np.array_equal(labels, np.repeat(np.arange(4), counts))
    for k, count in enumerate(counts):
        pool = {row.tobytes() for row in model.class_scores(k)}
        assert all(row.tobytes() in pool for row in scores[labels == k]) and (labels == k).sum() == count
    # the rows are floor(u m_k) of one float64 uniform each, from class k's child stream
    children = file_seed_sequence(3, 1, counts, model).spawn(4)
    for k in (0, 2, 3):
        pool = model.class_scores(k)
        index = (np.random.default_rng(children[k]).random(counts[k]) * pool.shape[0]).astype(np.intp)
        assert np.array_equal(scores[labels == k], pool[index])
    for chunk_size in (1, 4, 1000):
        drawn = file_score_chunks(model, counts, seed=3, replicate=1, chunk_size=chunk_size)
        chunks = [(k, chunk.copy()) for k, chunk in drawn]
        assert all(chunk.shape[0] <= chunk_size for _, chunk in chunks)
        assert np.array_equal(np.concatenate([chunk for _, chunk in chunks]), scores)
    # another seed, replicate or size is another draw
    assert not np.array_equal(draw_file_cell(model, counts, seed=4, replicate=1)[1], scores)
    assert not np.array_equal(draw_file_cell(model, counts, seed=3)[1], scores)


def test_a_count_on_a_class_without_rows_is_one_line(tmp_path):
    labels = np.array([0, 0, 1, 1])
    scores = np.full((4, 3), 1 / 3, dtype=np.float32)
    pq.write_table(class_predictions_table(labels, scores), tmp_path / "two.parquet")
    model = load_class_file_model(tmp_path / "two.parquet")
    with pytest.raises(InvalidValue, match=r"^counts\[2\]=5: the predictions file .* has no rows of class 2"):
        list(file_score_chunks(model, [1, 1, 5], seed=0))


def test_the_exact_values_are_the_reweighting_at_the_cells_prior(model):
    counts = [300, 120, 40, 8]
    training = [900, 100, 20, 3]
    values = file_expected_values(model, counts, losses=MULTICLASS_LOSS_NAMES, training_counts=training)
    prior = np.array(counts) / sum(counts)
    expected = reweighted_values(model.labels, model.scores, prior, training_counts=training)
    assert {key: value for key, value in values.items() if not key.startswith("stderr/")} == expected
    # the standard error of resampling the cell: sqrt(sum_k n_k Var_k) / N for cce (weights 1)
    terms = sample_terms(model.labels, model.scores, ["cce"])["ce"].astype(np.float64)
    variances = np.array([terms[model.labels == k].var() for k in range(4)])
    assert values["stderr/loss/cce"] == pytest.approx(np.sqrt(counts @ variances) / sum(counts), rel=1e-12)
    # at the file's own shares, the values of the file as it is
    own = file_expected_values(model, [40, 25, 10, 5], losses=["cce"], training_counts=training)
    assert own["loss/cce"] == multiclass_losses(model.labels, model.scores, ["cce"])["cce"]


def test_the_sampled_draw_evaluates_as_any_chunked_k_class_draw(model):
    counts = [60, 20, 10, 3]
    whole = evaluate_rows(
        file_score_chunks(model, counts, seed=0, chunk_size=10**6),
        classes=4,
        training_counts=model.class_counts,
        ranked_rows=sum(counts),
    )
    labels, scores = draw_file_cell(model, counts, seed=0)
    assert whole["loss/cce"] == multiclass_losses(labels, scores, ["cce"])["cce"]
    for chunk_size in (7, 64):
        chunked = evaluate_rows(
            file_score_chunks(model, counts, seed=0, chunk_size=chunk_size),
            classes=4,
            training_counts=model.class_counts,
            ranked_rows=sum(counts),
        )
        assert chunked == whole


def test_the_class_values_give_the_reweighted_loss_at_any_prior(model):
    training = [900, 100, 20, 3]
    values = file_class_values("A", model, training_counts=training, beta=0.999, tau=0.5)
    rng = np.random.default_rng(2)
    for prior in [np.full(4, 0.25), *rng.dirichlet(np.ones(4), 5)]:
        reweighted = reweighted_losses(
            model.labels, model.scores, prior, training_counts=training, beta=0.999, tau=0.5
        )
        for loss in MULTICLASS_LOSS_NAMES:
            assert prior @ values.weighted_terms(loss) == pytest.approx(reweighted[loss], rel=1e-13)
    confusion = values.confusion
    predicted = model.scores.argmax(axis=1)
    for k in range(4):
        rows = model.labels == k
        assert confusion[k] == pytest.approx(np.bincount(predicted[rows], minlength=4) / rows.sum(), abs=0)
    # the training counts default to the file's class counts
    default = file_class_values("A", model, losses=["logit_adjusted"])
    assert prior @ default.weighted_terms("logit_adjusted") == pytest.approx(
        reweighted_losses(
            model.labels, model.scores, prior, ["logit_adjusted"], training_counts=[40, 25, 10, 5]
        )["logit_adjusted"],
        rel=1e-13,
    )


def test_class_values_of_a_file_without_rows_of_a_class_is_one_line(tmp_path):
    labels = np.array([0, 0, 1, 1])
    pq.write_table(
        class_predictions_table(labels, np.full((4, 3), 1 / 3, np.float32)), tmp_path / "f.parquet"
    )
    model = load_class_file_model(tmp_path / "f.parquet")
    with pytest.raises(InvalidValue, match=r"^B: the predictions file .* has no rows of class 2; allowed"):
        file_class_values("B", model)
