"""Your own predictions: loading and validating a file, and the empirical score model built on it."""

import gzip
import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from helpers import assert_likelihood_ratios_within_their_rates
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import special
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from imbalance_sweep import LOSS_NAMES, InvalidValue, evaluate, expected, simulate
from imbalance_sweep.core.losses import NumpyTerms, per_sample_terms
from imbalance_sweep.core.metrics import CONFUSION_METRIC_NAMES
from imbalance_sweep.core.predictions import load_predictions
from imbalance_sweep.core.score_models.empirical import EmpiricalModel
from imbalance_sweep.sweep.identity import sweep_key

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


# --- files that cannot be read: one line each, naming the file, showing none of its bytes ----------

GOOD = {"label": np.array([0, 1, 1, 0]), "score": np.array([0.1, 0.9, 0.8, 0.3])}
PARQUET_DAMAGED = " is not a readable Parquet file ("
NPZ_DAMAGED = " is not a readable .npz file ("
NPY_DAMAGED = " is not a readable .npy file ("
DUPLICATE_SCORE = (
    "has 2 columns named 'score': which one is meant is ambiguous; give each column its own name"
)


def good_bytes(made, suffix):
    """The bytes of a good file of the format of ``suffix`` (written in the folder ``made``)."""
    return write(made / f"good{suffix}", GOOD).read_bytes()


def raw(data):
    """Write ``data``, or what ``data(made)`` returns (``made``: a scratch folder beside the file)."""

    def make(path):
        made = path.parent / "made"
        made.mkdir(exist_ok=True)
        path.write_bytes(data(made) if callable(data) else data)

    return make


def npy_with_header(path, descr, rows: bytes, shape):
    """A .npy file with a hand-written header (numpy itself refuses to write some of these)."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + rows)
    return path


def npz_with_two_score_members(path):
    import warnings
    import zipfile

    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: that is the point
        for name, values in (("label", GOOD["label"]), ("score", GOOD["score"]), ("score", GOOD["score"])):
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, values)
    return path


def damaged_npz_member(made):
    data = bytearray(good_bytes(made, ".npz"))  # np.savez stores members as they are: a CRC catches it
    data[data.index(b"\x93NUMPY", data.index(b"score.npy")) + 140] ^= 0xFF
    return data


def wide_header(made):
    names = ",".join(f"feature_{i:03d}_with_a_long_name" for i in range(60))
    return f"{names}\n{','.join('0' * 60)}\n".encode()


BAD_FILES = {
    # case: (file name, how to write it, the message after the path; a tail ending in "(" or ", " is
    # a stable prefix, the rest being the reading library's own words)
    "parquet of junk": ("p.parquet", raw(b"no parquet here\n" * 4), PARQUET_DAMAGED),
    "truncated parquet": (
        "p.parquet",
        raw(lambda made: good_bytes(made, ".parquet")[:-300]),
        PARQUET_DAMAGED,
    ),
    "truncated npz": (
        "p.npz",
        raw(lambda made: good_bytes(made, ".npz")[:-40]),
        " is not a readable .npz file (File is not a zip file)",
    ),
    "zip magic then junk under .npz": ("p.npz", raw(b"PK\x03\x04" + b"\0" * 60), NPZ_DAMAGED),
    "text under .npz": ("p.npz", raw(b"label,score\n0,0.1\n"), " is not an .npz file (not a zip archive)"),
    ".npy under .npz": (
        "p.npz",
        raw(lambda made: good_bytes(made, ".npy")),
        " holds a .npy array, not an .npz archive of columns",
    ),
    "npz member damaged": ("p.npz", raw(damaged_npz_member), NPZ_DAMAGED),
    "npz columns of different lengths": (
        "p.npz",
        lambda path: np.savez(path, label=np.array([0, 1, 1]), score=np.array([0.1, 0.9])),
        ": columns 'label' and 'score' differ in length (3 and 2 rows)",
    ),
    "complex scores in npz": (
        "p.npz",
        lambda path: np.savez(path, label=GOOD["label"], score=GOOD["score"] + 0.5j),
        ": column 'score' holds complex numbers, not real ones",
    ),
    "complex scores in npy": (
        "p.npy",
        lambda path: write(path, {"label": GOOD["label"], "score": GOOD["score"] + 0j}),
        ": column 'score' holds complex numbers, not real ones",
    ),
    "two score columns in csv": (
        "p.csv",
        raw(b"label,score,score\n0,0.1,0.5\n1,0.9,0.6\n"),
        " " + DUPLICATE_SCORE,
    ),
    "two score columns in parquet": (
        "p.parquet",
        lambda path: pq.write_table(
            pa.Table.from_arrays(
                [pa.array([0, 1]), pa.array([0.1, 0.9]), pa.array([0.5, 0.6])], ["label", "score", "score"]
            ),
            path,
        ),
        " " + DUPLICATE_SCORE,
    ),
    "two score fields in npy": (
        "p.npy",
        lambda path: npy_with_header(
            path, [("label", "<i8"), ("score", "<f8"), ("score", "<f8")], np.zeros(6).tobytes(), (2,)
        ),
        " " + DUPLICATE_SCORE,
    ),
    "two score members in npz": ("p.npz", npz_with_two_score_members, " " + DUPLICATE_SCORE),
    "a directory": ("p.csv", lambda path: path.mkdir(), " is a directory, not a file"),
    "gzip under .csv": (
        "p.csv",
        raw(gzip.compress(b"label,score\n0,0.1\n1,0.9\n" * 100)),
        " holds gzip-compressed data, not CSV text",
    ),
    "binary junk under .csv": ("p.csv", raw(bytes(range(256)) * 8), " holds binary data, not CSV text"),
    "parquet under .csv": (
        "p.csv",
        raw(lambda made: good_bytes(made, ".parquet")),
        " holds Parquet data, not CSV text",
    ),
    "csv row of the wrong width": (
        "p.csv",
        raw(b"label,score\n0,0.1\n1,0.9,secret,row,content\n0,0.2\n"),
        ", row 2 has 5 fields where the header has 2",
    ),
    "truncated npy": ("p.npy", raw(lambda made: good_bytes(made, ".npy")[:-12]), NPY_DAMAGED),
    "npy truncated in its header": ("p.npy", raw(lambda made: good_bytes(made, ".npy")[:40]), NPY_DAMAGED),
    "npy header declaring 10^14 rows": (
        "p.npy",
        lambda path: npy_with_header(path, [("label", "<i8"), ("score", "<f8")], bytes(64), (10**14,)),
        NPY_DAMAGED,
    ),
    "text under .npy": ("p.npy", raw(b"label,score\n0,0.1\n"), " is not a .npy file (no .npy header)"),
    "empty csv": ("p.csv", raw(b""), " is empty"),
    "empty parquet": ("p.parquet", raw(b""), " is empty"),
    "empty npz": ("p.npz", raw(b""), " is empty"),
    "empty npy": ("p.npy", raw(b""), " is empty"),
    "a long text value, cut": (
        "p.csv",
        raw(b"label,score\n0,0.1\n1," + b"9" * 5000 + b"x\n"),
        ", row 2: score='" + "9" * 36 + "... is not a number",
    ),
    "the first text value, not the first row": (
        "p.csv",
        raw(b"label,score\n0,0.1\n1,0.9\n0,oops\n"),
        ", row 3: score='oops' is not a number",
    ),
    "many columns, listed in part": (
        "p.csv",
        raw(wide_header),
        " has no column 'label'; its columns are: feature_000_with_a_long_name, ",
    ),
}


def make_bad_file(tmp_path, case):
    name, make, tail = BAD_FILES[case]
    path = tmp_path / name
    make(path)
    return path, tail


def stable_prefix(tail):
    return tail.endswith("(") or tail.endswith(", ")


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_stops_with_one_short_line_naming_it(tmp_path, case):
    path, tail = make_bad_file(tmp_path, case)
    with pytest.raises(InvalidValue) as error:
        load_predictions(path)
    message = str(error.value)
    expected = f"predictions file '{path}'{tail}"
    if stable_prefix(tail):
        assert message.startswith(expected)
    else:
        assert message == expected
    assert "\n" not in message and "\r" not in message and len(message) < 300, message
    assert message.isprintable() and "secret" not in message


@pytest.mark.slow
@pytest.mark.parametrize("case", ["gzip under .csv", "truncated npz"])
def test_the_command_prints_one_line_for_a_bad_file(tmp_path, case):
    import subprocess
    import sys

    from helpers import environment_without_mlflow_launch

    path, tail = make_bad_file(tmp_path, case)
    store = tmp_path / "m.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imbalance_sweep",
            "score_model=empirical",
            f"score_model.path={path}",
            f"tracking_uri=sqlite:///{store}",
        ],
        cwd=tmp_path,
        env=environment_without_mlflow_launch(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"imbalance-sweep: error: predictions file '{path}'{tail}"]
    assert "Traceback" not in done.stderr + done.stdout
    if store.exists():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{store}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        finished = client.search_runs(experiments, "attributes.status = 'FINISHED'") if experiments else []
        assert not finished


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


def test_per_sample_terms_and_the_numpy_backends_sums_follow_the_formulas(model):
    """Written out by hand in float64: bce = -log(clip(p_true, 1e-7, 1 - 1e-7)), sq = (p - y)^2 and
    focal = |p - y|^gamma bce; the project's are float32, as Keras computes them."""
    for gamma in (2.0, 0.5):
        numpy_terms = NumpyTerms({"bce", "sq", "focal"}, alpha=0.25, gamma=gamma)
        for label in (0, 1):
            pool = model.predictions.scores[model.predictions.labels == bool(label)]
            p = pool.astype(np.float64)
            p_true = np.clip(p if label else 1 - p, 1e-7, 1 - 1e-7)
            distance = np.abs(p - label)
            by_hand = {"bce": -np.log(p_true), "sq": distance**2}
            by_hand["focal"] = distance**gamma * by_hand["bce"]
            terms = per_sample_terms(label, pool, ["bce", "sq", "focal"], gamma=gamma)
            sums = numpy_terms(label, pool)
            for term, values in by_hand.items():
                np.testing.assert_allclose(terms[term], values, rtol=1e-5, atol=1e-7)
                assert sums[term] == pytest.approx(values.sum(), rel=1e-5)


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
    _, y_pred = simulate(600, 0.1, 600, 0.1, seed=0, score_model=model)
    assert set(y_pred[:600].tolist()) <= {np.float32(v) for v in (0.1, 0.2, 0.7)}
    assert set(y_pred[600:].tolist()) <= {np.float32(v) for v in (0.9, 0.4)}


@given(n0=st.integers(2_000, 40_000), n1=st.integers(200, 40_000), seed=st.integers(0, 10_000))
@example(n0=2000, n1=9999, seed=9999)  # a specificity 4 standard errors off: lr_plus 5.6
def test_resampled_cells_fall_within_five_standard_errors(model, n0, n1, seed):
    drawn = evaluate(*simulate(n0, 0.9, n1, 0.9, seed=seed, score_model=model))
    exact = expected(n0, 0.9, n1, 0.9, score_model=model)
    # the metrics with a standard error: the ranking metrics and ece have none (test_population.py)
    ratios = ("lr_plus", "lr_minus")
    for key in (
        [f"loss/{name}" for name in LOSS_NAMES]
        + [name for name in CONFUSION_METRIC_NAMES if name not in ratios]
        + ["log_loss_skill", "brier_skill"]
    ):
        assert abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-9 * abs(exact[key]), key
    assert_likelihood_ratios_within_their_rates(drawn, exact)


@given(chunk_size=st.integers(1, 3000), n0=st.integers(0, 2000), n1=st.integers(1, 2000))
def test_resampling_does_not_depend_on_the_chunk_size(model, chunk_size, n0, n1):
    from imbalance_sweep.core.cell import Cell
    from imbalance_sweep.core.simulator import cell_score_chunks

    cell = Cell(n0, n1, *model.grid_accuracies)
    chunks = [s.copy() for _, s in cell_score_chunks(cell, 5, chunk_size, model)]
    assert all(chunk.size <= chunk_size for chunk in chunks)
    np.testing.assert_array_equal(
        np.concatenate(chunks), simulate(n0, 0, n1, 0, seed=5, score_model=model)[1]
    )


# --- config, identity and the run's input dataset ---------------------------------------------------


def test_the_empirical_config_takes_the_files_accuracies(make_spec, model, caplog):
    path = model.predictions.path
    with caplog.at_level("INFO", logger="imbalance_sweep"):
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
