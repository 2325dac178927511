"""K-class predictions files (core.multiclass.predictions): Parquet and CSV read back as written,
and one line per mistake."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.predictions import class_predictions_table, load_class_predictions


def predictions(rows=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % classes
    scores = rng.dirichlet(np.ones(classes), rows).astype(np.float32)
    return labels, scores


def test_parquet_and_csv_read_back_as_written(tmp_path):
    labels, scores = predictions()
    pq.write_table(class_predictions_table(labels, scores), tmp_path / "epoch.parquet")
    read_labels, read_scores = load_class_predictions(tmp_path / "epoch.parquet")
    assert np.array_equal(read_labels, labels) and np.array_equal(read_scores, scores)
    assert read_scores.dtype == np.float32
    text = "label,score_0,score_1,score_2\n2,0.1,0.2,0.7\n0,1,0,0\n"
    (tmp_path / "p.csv").write_text(text)
    read_labels, read_scores = load_class_predictions("p.csv", start_dir=tmp_path)
    assert read_labels.tolist() == [2, 0]
    assert np.array_equal(read_scores, np.array([[0.1, 0.2, 0.7], [1, 0, 0]], dtype=np.float32))


@pytest.mark.parametrize(
    "text, line",
    [
        (
            "label,score_0,score_2\n0,0.5,0.5\n",
            "has no column 'score_1'; its columns are: label, score_0, score_2",
        ),
        ("label,score_0\n0,1\n", "has 1 score column(s); allowed: K >= 2 columns score_0 .. score_<K-1>"),
        ("y,score_0,score_1\n0,0.5,0.5\n", "has no column 'label'; its columns are: y, score_0, score_1"),
        (
            "label,score_0,score_1\n0,0.5,0.5\n3,0.5,0.5\n",
            ", row 2: label=3 is not a class index in 0..1 (K=2)",
        ),
        ("label,score_0,score_1\n0,0.5,0.5\n-1,0.5,0.5\n", ", row 2: label=-1 is not a class index in 0..1"),
        ("label,score_0,score_1\n0.5,0.5,0.5\n", ", row 1: label=0.5 is not a class index in 0..1"),
        (
            "label,score_0,score_1\n0,0.6,0.5\n",
            ", row 1: the scores sum to 1.1; allowed: rows summing to 1 within 0.0001",
        ),
        ("label,score_0,score_1\n0,1.5,-0.5\n", ", row 1: score_0=1.5 is not a probability in [0, 1]"),
        ("label,score_0,score_1\n1,0.5,0.5\n0,,1\n", ", row 2: score_0 is missing"),
        ("label,score_0,score_1\n1,0.5,a\n", ", row 1: score_1='a' is not a number"),
        ("label,score_0,score_1,score_1\n1,0.5,0.5,0.5\n", "has 2 columns named 'score_1'"),
    ],
)
def test_a_mistake_gets_one_line(tmp_path, text, line):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InvalidValue) as refused:
        load_class_predictions(path)
    message = str(refused.value)
    assert message.startswith(f"predictions file {str(path)!r}") and line in message and "\n" not in message


def test_a_file_of_another_format_or_kind_gets_one_line(tmp_path):
    (tmp_path / "p.npy").write_bytes(b"x")
    with pytest.raises(InvalidValue, match=r"the extension '.npy' is not one of: .csv, .parquet"):
        load_class_predictions(tmp_path / "p.npy")
    pq.write_table(pa.table({"label": [0], "score": [0.5]}), tmp_path / "binary.parquet")
    with pytest.raises(InvalidValue, match=r"has 0 score column\(s\); allowed: K >= 2"):
        load_class_predictions(tmp_path / "binary.parquet")
    pq.write_table(
        pa.table({"label": [0, 1], "score_0": [0.5, np.nan], "score_1": [0.5, 0.5]}), tmp_path / "n.parquet"
    )
    with pytest.raises(InvalidValue, match=r", row 2: score_0=nan is not a probability in \[0, 1\]$"):
        load_class_predictions(tmp_path / "n.parquet")
    with pytest.raises(InvalidValue, match=r"does not exist$"):
        load_class_predictions(tmp_path / "none.csv")
