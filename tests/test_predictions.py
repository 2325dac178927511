"""Your own predictions: loading and validating a file, and the empirical score model built on it."""

import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from imbalance_sweep import LOSS_NAMES, METRIC_NAMES, InvalidValue, evaluate, expected, simulate
from imbalance_sweep.identity import sweep_key
from imbalance_sweep.losses import NumpyTerms
from imbalance_sweep.predictions import load_predictions
from imbalance_sweep.score_models.empirical import EmpiricalModel, per_sample_terms

FORMATS = ("csv", "parquet", "npy", "npz")


def write(path, columns: dict):
    """Write ``columns`` in the format of ``path``'s extension."""
    suffix = path.suffix
    if suffix == ".csv":
        pcsv.write_csv(pa.table(columns), path)
    elif suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
    elif suffix == ".npz":
        np.savez(path, **columns)
    else:
        names = list(columns)
        array = np.zeros(
            len(columns[names[0]]), dtype=[(name, np.asarray(columns[name]).dtype) for name in names]
        )
        for name in names:
            array[name] = columns[name]
        np.save(path, array)
    return path


def sample_file(rng, n=4000, prevalence=0.3):
    labels = (rng.random(n) < prevalence).astype(np.int64)
    scores = np.where(labels == 1, rng.beta(4, 2, n), rng.beta(2, 5, n))
    return labels, scores


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_loads_the_columns_it_holds(tmp_path, fmt):
    labels, scores = sample_file(np.random.default_rng(0), n=500)
    path = write(tmp_path / f"p.{fmt}", {"y": labels, "p": scores, "other": scores * 0})
    loaded = load_predictions(path, label="y", score="p")
    np.testing.assert_array_equal(loaded.labels, labels == 1)
    np.testing.assert_array_equal(loaded.scores, scores.astype(np.float32))
    assert loaded.scores.dtype == np.float32 and loaded.rows == 500
    assert loaded.path == str(path) and len(loaded.digest) == 16


def test_a_relative_path_starts_in_start_dir_and_the_digest_is_the_content(tmp_path):
    labels, scores = sample_file(np.random.default_rng(1), n=50)
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "p.npz", {"label": labels, "score": scores})
    write(tmp_path / "q.npz", {"label": labels, "score": scores})
    here = load_predictions("a/p.npz", start_dir=tmp_path)
    assert here.path == str(tmp_path / "a" / "p.npz")
    assert here.digest == load_predictions(tmp_path / "q.npz").digest  # same bytes, same digest
    write(tmp_path / "q.npz", {"label": labels, "score": scores * 0.5})
    assert here.digest != load_predictions(tmp_path / "q.npz").digest


def test_logits_go_through_the_logistic_function(tmp_path):
    logits = np.array([-800.0, -3.0, 0.0, 0.25, 40.0])
    path = write(tmp_path / "l.parquet", {"label": np.array([0, 0, 1, 1, 1]), "score": logits})
    loaded = load_predictions(path, from_logits=True)
    np.testing.assert_array_equal(loaded.scores, special.expit(logits).astype(np.float32))
    assert loaded.scores[0] == 0.0 and loaded.scores[2] == 0.5


def test_booleans_and_float_labels_are_labels(tmp_path):
    path = write(
        tmp_path / "b.csv", {"label": np.array([True, False, True]), "score": np.array([0.9, 0.1, 0.4])}
    )
    np.testing.assert_array_equal(load_predictions(path).labels, [True, False, True])
    path = write(tmp_path / "f.npz", {"label": np.array([1.0, 0.0]), "score": np.array([0.9, 0.1])})
    np.testing.assert_array_equal(load_predictions(path).labels, [True, False])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "column, value, message",
    [
        ("label", 2, "row 4: label=2 is not 0 or 1"),
        ("label", -1, "row 4: label=-1 is not 0 or 1"),
        ("score", 1.5, r"row 4: score=1.5 is not a probability in \[0, 1\] \(from_logits=true for logits\)"),
        (
            "score",
            -0.25,
            r"row 4: score=-0.25 is not a probability in \[0, 1\] \(from_logits=true for logits\)",
        ),
        (
            "score",
            float("nan"),
            r"row 4: score=nan is not a probability in \[0, 1\] \(from_logits=true for logits\)",
        ),
    ],
)
def test_a_bad_value_names_the_file_the_row_and_the_value(tmp_path, fmt, column, value, message):
    labels, scores = np.array([0, 1, 1, 0, 0, 1]), np.array([0.1, 0.9, 0.8, 0.3, 0.2, 0.7])
    values = {"label": labels, "score": scores}
    values[column] = values[column].astype(type(value) if column == "score" else np.int64)
    values[column][3] = value
    values[column][5] = value  # a later bad row: the first is reported
    path = write(tmp_path / f"bad.{fmt}", values)
    if fmt == "csv" and value != value:
        message = "row 4: score is missing"  # pyarrow writes NaN as an empty field, and reads it as null
    with pytest.raises(InvalidValue, match=rf"^predictions file '{path}', {message}$") as error:
        load_predictions(path)
    assert "\n" not in str(error.value)


def test_a_non_finite_logit_and_a_missing_csv_value_are_refused(tmp_path):
    path = write(tmp_path / "l.npz", {"label": np.array([0, 1, 1]), "score": np.array([0.0, np.inf, 1.0])})
    with pytest.raises(
        InvalidValue, match=rf"^predictions file '{path}', row 2: score=inf is not a finite logit$"
    ):
        load_predictions(path, from_logits=True)
    missing = tmp_path / "m.csv"
    missing.write_text("label,score\n0,0.1\n1,\n1,0.7\n")
    with pytest.raises(InvalidValue, match=rf"^predictions file '{missing}', row 2: score is missing$"):
        load_predictions(missing)
    text = tmp_path / "t.csv"
    text.write_text("label,score\nno,0.1\nyes,0.9\n")
    with pytest.raises(
        InvalidValue, match=rf"^predictions file '{text}', row 1: label='no' is not a number$"
    ):
        load_predictions(text)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("p.csv", {"score": "prob"}, "has no column 'prob'; its columns are: label, score"),
        ("p.parquet", {"label": "y"}, "has no column 'y'; its columns are: label, score"),
        ("p.npz", {"score": "prob"}, "has no column 'prob'; its columns are: label, score"),
        ("p.npy", {"label": "y"}, "has no column 'y'; its columns are: label, score"),
        ("p.txt", {}, r"the extension '.txt' is not one of: .csv, .parquet, .npy, .npz"),
    ],
)
def test_missing_columns_and_unknown_formats_are_one_line(tmp_path, name, kwargs, message):
    path = tmp_path / name
    if path.suffix == ".txt":
        path.write_text("label,score\n")
    else:
        write(path, {"label": np.array([0, 1]), "score": np.array([0.2, 0.6])})
    with pytest.raises(InvalidValue, match=message):
        load_predictions(path, **kwargs)


def test_a_plain_npy_array_is_refused_with_what_it_holds(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros((3, 2)))
    with pytest.raises(
        InvalidValue, match=r"holds a float64 array of shape \(3, 2\), not a structured array"
    ):
        load_predictions(tmp_path / "plain.npy")
    with pytest.raises(InvalidValue, match="does not exist"):
        load_predictions(tmp_path / "none.csv")


# --- the empirical score model --------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    labels, scores = sample_file(np.random.default_rng(7))
    path = write(tmp_path_factory.mktemp("preds") / "p.parquet", {"label": labels, "score": scores})
    return EmpiricalModel(load_predictions(path))


def test_the_empirical_accuracies_are_the_files(model):
    labels, scores = model.predictions.labels, model.predictions.scores
    predicted = scores > 0.5
    assert model.grid_accuracies == (
        accuracy_score(predicted[~labels], np.zeros((~labels).sum(), bool)),
        accuracy_score(predicted[labels], np.ones(labels.sum(), bool)),
    )


def test_a_file_without_one_class_is_refused(tmp_path):
    path = write(tmp_path / "neg.npz", {"label": np.array([0, 0]), "score": np.array([0.2, 0.6])})
    with pytest.raises(
        InvalidValue, match="has no rows of label 1: score_model=empirical resamples each class"
    ):
        EmpiricalModel(load_predictions(path))


def test_per_sample_terms_are_the_numpy_backends(model):
    """Their sums are the numpy backend's term sums of the same scores (float32, Keras's clipping)."""
    for gamma in (2.0, 0.5):
        numpy_terms = NumpyTerms({"bce", "sq", "focal"}, alpha=0.25, gamma=gamma)
        for label in (0, 1):
            pool = model.predictions.scores[model.predictions.labels == bool(label)]
            sums = numpy_terms(label, pool)
            for term in ("bce", "sq", "focal"):
                ours = per_sample_terms(label, pool, term, gamma).sum(dtype=np.float64)
                assert ours == pytest.approx(sums[term], rel=1e-12)


@pytest.mark.parametrize("num_0s, num_1s", [(1000, 1000), (99_000, 1000), (10, 1_000_000)])
def test_expected_mode_reweights_the_file_exactly(model, num_0s, num_1s):
    """Against scikit-learn on the file itself, each class weighted to the cell's prevalence."""
    labels, scores = model.predictions.labels, model.predictions.scores.astype(np.float64)
    weights = np.where(labels, num_1s / labels.sum(), num_0s / (~labels).sum())
    exact = expected(num_0s, 0.5, num_1s, 0.5, score_model=model)  # the accuracies given do not apply
    assert exact["loss/bce"] == pytest.approx(log_loss(labels, scores, sample_weight=weights), rel=1e-6)
    assert exact["loss/brier"] == pytest.approx(
        brier_score_loss(labels, scores, sample_weight=weights), rel=1e-6
    )
    bce = -np.log(np.where(labels, scores, 1 - scores))
    assert exact["loss/balanced_bce"] == pytest.approx(
        (bce[labels].mean() + bce[~labels].mean()) / 2, rel=1e-6
    )
    acc_0s, acc_1s = model.grid_accuracies
    assert exact["recall"] == pytest.approx(acc_1s, rel=1e-12)
    assert exact["tp"] == pytest.approx(num_1s * acc_1s) and exact["tn"] == pytest.approx(num_0s * acc_0s)
    assert exact["stderr/loss/bce"] == pytest.approx(
        math.sqrt(num_0s * bce[~labels].var() + num_1s * bce[labels].var()) / (num_0s + num_1s), rel=1e-5
    )


def test_a_tiny_file_by_hand(tmp_path):
    """Negatives 0.1, 0.2, 0.7 and positives 0.9, 0.4: at 1:1, bce = (mean of -log(1 - p) over the
    negatives + mean of -log(p) over the positives) / 2; recall 1/2, specificity 2/3."""
    path = write(
        tmp_path / "t.csv", {"label": np.array([0, 0, 0, 1, 1]), "score": np.array([0.1, 0.2, 0.7, 0.9, 0.4])}
    )
    model = EmpiricalModel(load_predictions(path))
    negatives = -(math.log(0.9) + math.log(0.8) + math.log(0.3)) / 3
    positives = -(math.log(0.9) + math.log(0.4)) / 2
    exact = expected(600, 0.1, 600, 0.1, score_model=model)
    assert exact["loss/bce"] == pytest.approx((negatives + positives) / 2, rel=1e-6)
    assert exact["recall"] == 0.5 and exact["specificity"] == pytest.approx(2 / 3)
    y_true, y_pred = simulate(600, 0.1, 600, 0.1, seed=0, score_model=model)
    assert set(y_pred[:600].tolist()) <= {np.float32(v) for v in (0.1, 0.2, 0.7)}
    assert set(y_pred[600:].tolist()) <= {np.float32(v) for v in (0.9, 0.4)}


@given(n0=st.integers(2_000, 40_000), n1=st.integers(200, 40_000), seed=st.integers(0, 10_000))
def test_resampled_cells_fall_within_five_standard_errors(model, n0, n1, seed):
    drawn = evaluate(*simulate(n0, 0.9, n1, 0.9, seed=seed, score_model=model))
    exact = expected(n0, 0.9, n1, 0.9, score_model=model)
    for key in [f"loss/{name}" for name in LOSS_NAMES] + list(METRIC_NAMES):
        assert abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-9 * abs(exact[key]), key


@given(chunk_size=st.integers(1, 3000), n0=st.integers(0, 2000), n1=st.integers(1, 2000))
def test_resampling_does_not_depend_on_the_chunk_size(model, chunk_size, n0, n1):
    from imbalance_sweep.grid import Cell
    from imbalance_sweep.simulator import cell_score_chunks

    cell = Cell(n0, n1, *model.grid_accuracies)
    chunks = [s.copy() for _, s in cell_score_chunks(cell, 5, chunk_size, model)]
    assert all(chunk.size <= chunk_size for chunk in chunks)
    np.testing.assert_array_equal(
        np.concatenate(chunks), simulate(n0, 0, n1, 0, seed=5, score_model=model)[1]
    )


# --- config, identity and the run's input dataset ---------------------------------------------------


def test_the_empirical_config_takes_the_files_accuracies(make_spec, model, caplog):
    path = model.predictions.path
    with caplog.at_level("INFO", logger="imbalance_sweep.config"):
        spec = make_spec("grid=seed_blog", "score_model=empirical", f"score_model.path={path}")
    assert "the grid's accuracies do not apply" in caplog.text
    # seed_blog: 2 balances x 2 models -> 2 cells, each with the file's accuracies
    assert [(c.num_0s, c.num_1s) for c in spec.cells] == [(1_000_000, 10_000), (10_000, 10_000)]
    assert {(c.acc_0s, c.acc_1s) for c in spec.cells} == {model.grid_accuracies}


def test_the_file_enters_the_sweep_key_by_content(make_spec, model, tmp_path):
    import shutil

    copy = shutil.copy(model.predictions.path, tmp_path / "moved.parquet")
    one = make_spec("score_model=empirical", f"score_model.path={model.predictions.path}")
    moved = make_spec("score_model=empirical", f"score_model.path={copy}")
    logits = make_spec("score_model=empirical", f"score_model.path={copy}", "score_model.from_logits=true")
    assert sweep_key(one) == sweep_key(moved) != sweep_key(logits)
    assert sweep_key(one) != sweep_key(make_spec())


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([], r"score_model.path=None: score_model=empirical needs a predictions file"),
        (["score_model.path=nope.csv"], r"predictions file '.*nope.csv' does not exist"),
        (
            ["score_model.path=x.csv", "score_model.from_logits=2"],
            r"score_model.from_logits=2 must be true or false",
        ),
    ],
)
def test_bad_empirical_configs_are_one_line(make_spec, overrides, message):
    with pytest.raises(InvalidValue, match=message):
        make_spec("score_model=empirical", *overrides)


def test_a_sweep_logs_the_file_as_its_input_dataset(make_spec, model, tracking_uri):
    from mlflow.tracking import MlflowClient

    from imbalance_sweep.app import run_sweep

    spec = make_spec(
        "grid=single",
        "grid.balances=[[5000,50],[500,500]]",
        "score_model=empirical",
        f"score_model.path={model.predictions.path}",
        f"tracking_uri={tracking_uri}",
    )
    client = MlflowClient(tracking_uri)
    parent = client.get_run(run_sweep(spec))
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == 2
    for run in [parent, *children]:
        (entry,) = run.inputs.dataset_inputs
        assert entry.dataset.digest == model.predictions.digest
        assert entry.dataset.name == "p.parquet" and model.predictions.path in entry.dataset.source
        assert {tag.key: tag.value for tag in entry.tags}["mlflow.data.context"] == "validation"
    params = children[0].data.params
    assert params["score_model"] == "empirical" and params["score_model.digest"] == model.predictions.digest
    assert params["score_model.accuracies"] == "the file's; the grid's do not apply"
    assert float(params["acc_1s"]) == model.grid_accuracies[1]
    cell = next(run for run in children if run.data.params["num_1s"] == "50")
    drawn = evaluate(*simulate(5000, 0, 50, 0, seed=0, score_model=model))
    assert cell.data.metrics["loss/bce"] == drawn["loss/bce"]
    assert cell.data.metrics["expected/loss/bce"] == expected(5000, 0, 50, 0, score_model=model)["loss/bce"]
