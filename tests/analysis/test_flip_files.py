"""Flip points of two predictions files: exact (polynomial) flips against brute-force re-weighting."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score

from imbalance_sweep import InvalidValue
from imbalance_sweep.analysis.flip import flip_spec, run_flip
from imbalance_sweep.analysis.preference import SCAN, Model, crossings, metric_curve, preferences
from imbalance_sweep.core.vocabulary import metric_names

LOSSES = ["bce", "focal_tfa", "focal_balanced", "focal", "balanced_bce", "brier"]
METRICS = ["f1", "recall", "balanced_accuracy", "precision", "mcc", "accuracy", "specificity"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two models on one validation set: A is sure of its negatives and misses positives, B finds
    more positives with vaguer scores, so most losses and metrics flip somewhere."""
    rng = np.random.default_rng(3)
    labels = (rng.random(4000) < 0.2).astype(np.int64)
    a = np.where(labels == 1, rng.beta(2.0, 1.6, labels.size), rng.beta(0.6, 9.0, labels.size))
    b = np.where(labels == 1, rng.beta(5.0, 1.0, labels.size), rng.beta(2.0, 5.0, labels.size))
    folder = tmp_path_factory.mktemp("flip")
    paths = folder / "sharp.parquet", folder / "broad.parquet"
    for path, scores in zip(paths, (a, b), strict=True):
        pq.write_table(pa.table({"y": labels, "p": scores}), path)
    return paths


def spec_of(files, tracking_uri="sqlite:///unused.db", **extra):
    config = {
        "model_a": {"path": str(files[0]), "label": "y", "score": "p"},
        "model_b": {"path": str(files[1]), "label": "y", "score": "p", "name": "broad"},
        "losses": LOSSES,
        "metrics": METRICS,
        "focal": {"alpha": 0.25, "gamma": 2.0},
        "experiment": "flip",
        "tracking_uri": tracking_uri,
    }
    return flip_spec({**config, **extra})


def brute_force(labels, scores, prevalences):
    """Every loss and metric of the file re-weighted to each prevalence, row by row in float64:
    positives weigh pi / n1 each, negatives (1 - pi) / n0."""
    labels = labels.astype(bool)
    n1, n0 = labels.sum(), (~labels).sum()
    pi = prevalences[:, None]
    weights = np.where(labels, pi / n1, (1 - pi) / n0)  # (prevalence, row), each row sums to 1
    clipped = np.clip(scores.astype(np.float32), np.float32(1e-7), np.float32(1) - np.float32(1e-7))
    clipped = clipped.astype(np.float64)
    p_true = np.where(labels, clipped, 1 - clipped)
    distance = np.where(labels, 1 - scores, scores).astype(np.float64)
    bce = -np.log(p_true)
    focal = distance**2 * bce
    alpha = np.where(labels, 0.25, 0.75)
    values = {
        "bce": weights @ bce,
        "brier": weights @ distance**2,
        "focal": weights @ focal,
        "focal_balanced": weights @ (alpha * focal),
        "balanced_bce": np.full(pi.size, (bce[labels].mean() + bce[~labels].mean()) / 2),
    }
    values["focal_tfa"] = values["focal_balanced"]  # a sum: N times the mean, whatever N
    positive = scores.astype(np.float32) > np.float32(0.5)
    tp, fn = weights @ (labels & positive), weights @ (labels & ~positive)
    tn, fp = weights @ (~labels & ~positive), weights @ (~labels & positive)
    values["recall"], values["specificity"] = tp / (tp + fn), tn / (tn + fp)
    values["precision"] = tp / (tp + fp)
    values["f1"] = 2 * tp / (2 * tp + fp + fn)
    values["accuracy"] = tp + tn
    values["balanced_accuracy"] = (values["recall"] + values["specificity"]) / 2
    values["mcc"] = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return values


def test_brute_force_formulas_are_scikit_learns(files):
    """The test's own re-weighting agrees with scikit-learn's weighted metrics."""
    table = pq.read_table(files[1])
    labels, scores = table["y"].to_numpy(), table["p"].to_numpy()
    for pi in (0.003, 0.4):
        values = brute_force(labels, scores, np.array([pi]))
        weights = np.where(labels == 1, pi / labels.sum(), (1 - pi) / (labels == 0).sum())
        predicted = scores > 0.5
        for name, function in (
            ("f1", f1_score),
            ("precision", precision_score),
            ("mcc", matthews_corrcoef),
            ("accuracy", accuracy_score),
        ):
            assert values[name][0] == pytest.approx(
                function(labels, predicted, sample_weight=weights), rel=1e-9
            )


def test_exact_flips_are_where_brute_force_reweighting_changes_its_mind(files):
    spec = spec_of(files)
    found = {
        p.name: p
        for p in preferences(
            spec.model_a, spec.model_b, losses=LOSSES, metrics=METRICS, alpha=0.25, gamma=2.0
        )
    }
    prevalences = 1 / (1 + np.exp(-np.linspace(-15, 15, 3001)))
    per_file = []
    for path in files:
        table = pq.read_table(path)
        per_file.append(brute_force(table["y"].to_numpy(), table["p"].to_numpy(), prevalences))
    a, b = per_file
    for name in LOSSES + METRICS:
        margin = (b[name] - a[name]) if name in LOSSES else (a[name] - b[name])  # > 0: A preferred
        signs = np.sign(margin)
        changes = np.flatnonzero(signs[:-1] * signs[1:] < 0)
        flips = found[name].flips
        assert len(flips) == len(changes), (name, flips, prevalences[changes])
        for flip, index in zip(flips, changes, strict=True):
            assert prevalences[index] <= flip <= prevalences[index + 1], name
        # between the flips, the exact preference is brute force's
        assert found[name].prefers_a_at(float(prevalences[5])) == (margin[5] > 0), name
    # this pair of real models: every loss but balanced_bce flips, and F1, MCC and accuracy do
    assert {name for name, p in found.items() if p.flips} == {
        "bce",
        "focal_tfa",
        "focal_balanced",
        "focal",
        "brier",
        "f1",
        "mcc",
        "accuracy",
    }


@given(
    a=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    b=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    metric=st.sampled_from(metric_names(lambda metric: metric.flip == "polynomial")),
)
def test_exact_flips_hold_every_flip_a_scan_finds(a, b, metric):
    """The scan and bisection of ``crossings`` finds a subset (two flips in one scan step escape it).
    Every metric with a closed form (the registry's ``flip="polynomial"``). Two models that tie at
    every prevalence (mirrored models' balanced accuracies) have no flip: a scan's signs there are
    rounding's, between values equal to 1e-15."""
    (found,) = preferences(Model(*a), Model(*b), losses=[], metrics=[metric], alpha=0.25, gamma=2.0)
    curve_a, curve_b = metric_curve(Model(*a), metric), metric_curve(Model(*b), metric)
    scanned = crossings(lambda pi: curve_a(pi) - curve_b(pi))
    if scanned and not found.flips:  # a tie everywhere, or a flip the closed form missed
        assert np.max(np.abs(curve_a(SCAN) - curve_b(SCAN))) <= 1e-15
        return
    for flip in scanned:
        assert min(abs(flip - exact) for exact in found.flips) <= 1e-9 * max(flip, 1e-3)
    assert len(found.flips) <= 1  # equal values where a line crosses zero (MCC: see below)


@given(a0=st.floats(0.01, 0.99), a1=st.floats(0.01, 0.99), b0=st.floats(0.01, 0.99), b1=st.floats(0.01, 0.99))
def test_mcc_flip_matches_the_closed_form(a0, a1, b0, b1):
    """MCC = J sqrt(pi (1 - pi) / (P N)), J = a0 + a1 - 1, P = (1 - a0) + pi J, N = a0 - pi J. Equal
    squares: the pi^2 terms (-Ja^2 Jb^2 on each side) cancel, leaving a line with its root at
    pi* = (Jb^2 a0 (1 - a0) - Ja^2 b0 (1 - b0)) / (Ja Jb (Ja (2 b0 - 1) - Jb (2 a0 - 1))),
    a flip where Ja and Jb have one sign (MCCs of opposite signs are never equal)."""
    ja, jb = a0 + a1 - 1, b0 + b1 - 1
    denominator = ja * jb * (ja * (2 * b0 - 1) - jb * (2 * a0 - 1))
    (found,) = preferences(Model(a0, a1), Model(b0, b1), losses=[], metrics=["mcc"], alpha=0.25, gamma=2.0)
    closed = (jb**2 * a0 * (1 - a0) - ja**2 * b0 * (1 - b0)) / denominator if denominator else np.nan
    if 1e-5 < closed < 1 - 1e-5 and abs(denominator) > 1e-6 and ja * jb > 0:
        assert len(found.flips) == 1 and found.flips[0] == pytest.approx(closed, rel=1e-7)
    elif not (1e-8 < closed < 1 - 1e-8) or ja * jb < 0:
        assert found.flips == ()
    assert len(found.flips) <= 1


def test_the_hand_worked_mcc_flip():
    """A = (0.99, 0.3), B = (0.6, 0.9): Ja = 0.29, Jb = 0.5,
    pi* = (0.25 * 0.99 * 0.01 - 0.0841 * 0.6 * 0.4) / (0.145 * (0.29 * 0.2 - 0.5 * 0.98))
        = -0.017709 / -0.06264."""
    (found,) = preferences(
        Model(0.99, 0.3), Model(0.6, 0.9), losses=[], metrics=["mcc"], alpha=0.25, gamma=2.0
    )
    assert found.flips == (pytest.approx(0.017709 / 0.06264, rel=1e-12),)
    assert found.prefers_a_at(0.1) and not found.prefers_a_at(0.5)


@pytest.mark.parametrize(
    "value",
    ["{path}", ["{path}"], {"path": "{path}", "name": "sharp"}, [{"path": "{path}"}]],
    ids=["path", "one-element list (mlflow run -P)", "mapping", "mapping in a list (Hydra's command line)"],
)
def test_a_model_may_be_a_file_in_any_form(files, tmp_path, value):
    path = str(files[0])
    pq.write_table(pq.read_table(path).rename_columns(["label", "score"]), tmp_path / "sharp.parquet")
    fill = {"path": str(tmp_path / "sharp.parquet")}
    if isinstance(value, str):
        value = value.format(**fill)
    elif isinstance(value, list) and isinstance(value[0], str):
        value = [value[0].format(**fill)]
    elif isinstance(value, list):
        value = [fill]
    else:
        value = {**value, "path": fill["path"]}
    spec = spec_of(files, model_a=value)
    assert spec.model_a.name == "sharp" and spec.model_a.score_model.predictions.rows == 4000
    assert (spec.model_a.acc_0s, spec.model_a.acc_1s) == spec.model_a.score_model.grid_accuracies


@pytest.mark.parametrize(
    "value, message",
    [
        ({"path": "nope.csv"}, r"^predictions file '.*nope.csv' does not exist$"),
        (
            {"file": "a.csv"},
            r"^model_a.file is not a key of a predictions file entry; its keys are: path, name",
        ),
        (
            [0.9, 0.5, 0.1],
            r"^model_a=\[0.9, 0.5, 0.1\] must be a pair \[acc_0s, acc_1s\] or a predictions file$",
        ),
    ],
)
def test_bad_file_models_are_one_line(files, value, message):
    with pytest.raises(InvalidValue, match=message):
        spec_of(files, model_a=value)


def test_the_flip_run_of_two_files(files, tracking_uri, capsys, tmp_path):
    spec = spec_of(files, tracking_uri)
    run_id = run_flip(spec)
    printed = capsys.readouterr().out
    assert printed.startswith(f"A = sharp ({files[0]}: a0=")
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    found = preferences(spec.model_a, spec.model_b, losses=LOSSES, metrics=METRICS, alpha=0.25, gamma=2.0)
    assert run.data.metrics == {f"flip/{p.key}": p.flips[0] for p in found if p.flips}
    assert run.info.run_name == "flip sharp vs broad"
    params = run.data.params
    assert params["model_a"] == "sharp" and params["model_b"] == "broad"
    assert params["model_a.digest"] == spec.model_a.score_model.predictions.digest
    assert float(params["model_b.acc_1s"]) == spec.model_b.acc_1s
    assert sorted(entry.dataset.name for entry in run.inputs.dataset_inputs) == [
        "broad.parquet",
        "sharp.parquet",
    ]
    assert [a.path for a in client.list_artifacts(run_id)] == ["flip.png", "flip.txt"]
    text = Path(client.download_artifacts(run_id, "flip.txt", str(tmp_path))).read_text()
    assert printed.startswith(text) and printed[len(text) :].startswith("\nstore:      ")  # then where it is
