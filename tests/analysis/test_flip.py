"""Flip points: hand-derived closed forms, properties, sampled cells on both sides, the logged run."""

import math
import subprocess
import sys

import numpy as np
import pytest
from helpers import environment_without_mlflow_launch
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient

from imbalance_sweep import InvalidValue, evaluate, simulate
from imbalance_sweep.analysis.flip import flip_spec, run_flip
from imbalance_sweep.analysis.preference import Model, crossings, preferences
from imbalance_sweep.tracking import where
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

HIGH_PRECISION, HIGH_RECALL = Model(0.999, 0.5), Model(0.98, 0.9)
ALL_LOSSES = ["bce", "focal_tfa", "focal_balanced", "focal", "balanced_bce", "brier"]


def flips(a, b, *, losses=(), metrics=(), alpha=0.25, gamma=2.0):
    return {
        p.name: p.flips for p in preferences(a, b, losses=losses, metrics=metrics, alpha=alpha, gamma=gamma)
    }


def bce_negatives(acc):
    """E[-log(1 - q)], q ~ U(0, w), w = 0.5/acc (acc >= 0.5): (w + (1 - w) log(1 - w)) / w."""
    w = 0.5 / acc
    return (w + (1 - w) * math.log(1 - w)) / w if w < 1 else 1.0


def test_bce_flip_matches_the_closed_form():
    """Per-sample BCE is (1 - pi) m0 + pi m1, so A and B tie at pi = d0 / (d0 - d1), d_c = m_c(A) - m_c(B)."""
    d0 = bce_negatives(0.999) - bce_negatives(0.98)
    d1 = bce_negatives(0.5) - bce_negatives(0.9)  # positives: the same integral by symmetry
    (found,) = flips(HIGH_PRECISION, HIGH_RECALL, losses=["bce"])["bce"]
    assert found == pytest.approx(d0 / (d0 - d1), rel=1e-5)
    assert 0.0114 < found < 0.0116  # the post's 1:100 set (0.99 %) sits just below it


def test_brier_flip_matches_the_closed_form():
    """E[q^2] = w^2 / 3 for q ~ U(0, w)."""

    def m(acc):
        return (0.5 / acc) ** 2 / 3

    d0, d1 = m(0.999) - m(0.98), m(0.5) - m(0.9)
    (found,) = flips(HIGH_PRECISION, HIGH_RECALL, losses=["brier"])["brier"]
    assert found == pytest.approx(d0 / (d0 - d1), rel=1e-9)


@given(
    a0=st.floats(0.05, 1),
    a1=st.floats(0.05, 1),
    b0=st.floats(0.05, 1),
    b1=st.floats(0.05, 1),
)
def test_f1_flip_matches_the_closed_form(a0, a1, b0, b1):
    """F1 = 2 pi a1 / (pi (1 + a1) + (1 - pi)(1 - a0)); equal F1 is linear in pi:
    pi* = (b1 (1 - a0) - a1 (1 - b0)) / (a1 b0 - b1 a0)."""
    denominator = a1 * b0 - b1 * a0
    found = flips(Model(a0, a1), Model(b0, b1), metrics=["f1"])["f1"]
    closed = (b1 * (1 - a0) - a1 * (1 - b0)) / denominator if denominator else math.nan
    if 1e-6 < closed < 1 - 1e-6 and abs(denominator) > 1e-9:
        assert len(found) == 1 and found[0] == pytest.approx(closed, rel=1e-6, abs=1e-12)
    elif not (1e-8 < closed < 1 - 1e-8):
        assert found == ()


def test_what_never_flips():
    """balanced_bce averages the classes and recall ignores negatives: neither depends on prevalence."""
    found = flips(
        HIGH_PRECISION, HIGH_RECALL, losses=["balanced_bce"], metrics=["recall", "balanced_accuracy"]
    )
    assert found == {"balanced_bce": (), "recall": (), "balanced_accuracy": ()}


def test_focal_tfa_flips_where_focal_balanced_does():
    found = flips(HIGH_PRECISION, HIGH_RECALL, losses=["focal_tfa", "focal_balanced"])
    assert found["focal_tfa"] == found["focal_balanced"] and len(found["focal_tfa"]) == 1


@given(
    a=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    b=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    name=st.sampled_from([*ALL_LOSSES, "f1", "mcc", "precision", "accuracy"]),
)
def test_the_preference_changes_sides_at_each_flip(a, b, name):
    is_loss = name in ALL_LOSSES
    (found,) = preferences(
        Model(*a),
        Model(*b),
        losses=[name] if is_loss else [],
        metrics=[] if is_loss else [name],
        alpha=0.25,
        gamma=2.0,
    )
    if is_loss:
        assert len(found.flips) <= 1  # per-sample losses are linear in prevalence
    for flip in found.flips:
        below, above = flip * (1 - 1e-6), min(flip * (1 + 1e-6), 1 - 1e-12)
        assert found.prefers_a_at(below) != found.prefers_a_at(above)


def test_crossings_finds_every_root_of_a_wiggly_function():
    roots = crossings(lambda pi: np.sin(20 * np.asarray(pi)))
    assert roots == pytest.approx([k * np.pi / 20 for k in range(1, 7)], rel=1e-12)


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_sampled_cells_confirm_the_bce_flip():
    """Large sampled validation sets on either side of the flip prefer the predicted model."""
    (flip,) = flips(HIGH_PRECISION, HIGH_RECALL, losses=["bce"])["bce"]
    for prevalence, winner in ((flip / 3, "A"), (flip * 3, "B")):
        n1 = 20_000
        n0 = round(n1 * (1 - prevalence) / prevalence)
        a = evaluate(*simulate(n0, 0.999, n1, 0.5, seed=1), losses=["bce"])["loss/bce"]
        b = evaluate(*simulate(n0, 0.98, n1, 0.9, seed=1), losses=["bce"])["loss/bce"]
        assert (a < b) == (winner == "A")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"model_a": [0.9, 1.5]}, "model_a: acc_1s=1.5 is outside [0, 1]"),
        ({"model_b": [0.9]}, "model_b=[0.9] must be a pair [acc_0s, acc_1s]"),
        ({"metrics": ["tp"]}, "metrics[0]='tp' is not one of: precision, recall"),
        ({"losses": ["hinge"]}, "losses[0]='hinge' is not one of: bce"),
    ],
)
def test_bad_flip_config_is_one_line(config, message):
    base = {"model_a": [0.999, 0.5], "model_b": [0.98, 0.9], "losses": ["bce"], "metrics": ["f1"]}
    base["focal"] = {"alpha": 0.25, "gamma": 2.0}
    with pytest.raises(InvalidValue) as error:
        flip_spec({**base, **config})
    assert message in str(error.value)


def test_the_flip_run_holds_the_flip_points_and_the_chart(tracking_uri, tmp_path, capsys):
    spec = flip_spec(
        {
            "model_a": [0.999, 0.5],
            "model_b": [0.98, 0.9],
            "losses": ALL_LOSSES,
            "metrics": ["f1", "recall"],
            "focal": {"alpha": 0.25, "gamma": 2.0},
            "experiment": "flip",
            "tracking_uri": tracking_uri,
        }
    )
    run_id = run_flip(spec)
    printed = capsys.readouterr().out
    assert "loss/bce               prefers A below 1.15 % prevalence, B above" in printed
    assert "loss/balanced_bce      prefers B at every prevalence" in printed
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[ROLE_TAG] == Role.FLIP
    expected = flips(HIGH_PRECISION, HIGH_RECALL, losses=ALL_LOSSES, metrics=["f1", "recall"])
    assert run.data.metrics == {
        f"flip/{'loss/' if name in ALL_LOSSES else ''}{name}": points[0]
        for name, points in expected.items()
        if points
    }
    assert set(run.data.metrics) == {f"flip/loss/{n}" for n in ALL_LOSSES if n != "balanced_bce"} | {
        "flip/f1"
    }
    with open(client.download_artifacts(run_id, "flip.png", str(tmp_path)), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert [a.path for a in client.list_artifacts(run_id)] == ["flip.png", "flip.txt"]
    # It ends by saying where the run is.
    experiment_id = run.info.experiment_id
    assert printed.splitlines()[-5:] == [
        f"store:      {tracking_uri.removeprefix('sqlite:///')}",
        f"experiment: flip (id {experiment_id})",
        f"run:        {run_id} (flip points, chart flip.png)",
        f"look:       mlflow ui --backend-store-uri {tracking_uri}",
        f"            {where.run_url(tracking_uri, experiment_id, run_id)}",
    ]


@pytest.mark.slow  # seconds of work: the full suite runs it, the fast one (-m "not slow") need not
def test_python_m_flip_states_two_flips_and_leaves_no_hydra_folders(tracking_uri, tmp_path):
    """The door as a person uses it: the ECE of these two models flips twice, and the line names the
    model preferred in each of the three regions; the folder it ran in gains only MLflow's artifacts."""
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-m", "imbalance_sweep.flip", "model_a=[.758, .602]", "model_b=[.907,.742]"]
    done = subprocess.run(
        [*command, "losses=[bce]", "metrics=[ece]", f"tracking_uri={tracking_uri}"],
        cwd=work,
        env=environment_without_mlflow_launch(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "ece                    prefers B below 22.9 % prevalence, A between 22.9 % and 71.2 %, B above 71.2 %"
        in (done.stdout.splitlines())
    )
    assert [path.name for path in work.iterdir()] == ["mlruns"]  # no outputs/, .hydra/ or flip.log
