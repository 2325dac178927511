"""Score models as values: the uniform model unchanged, the Beta model's accuracies and expectations."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import integrate, special

from imbalance_sweep import LOSS_NAMES, InvalidValue, evaluate, expected, simulate
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.clipping import TRUE_CLASS_RANGE
from imbalance_sweep.core.evaluation import evaluate_cell
from imbalance_sweep.core.losses import make_terms
from imbalance_sweep.core.metrics import CONFUSION_METRIC_NAMES
from imbalance_sweep.core.score_models import from_config, names
from imbalance_sweep.core.score_models.beta import BetaModel, distance_shapes
from imbalance_sweep.core.score_models.uniform import UNIFORM, bce_moments, brier_moments, focal_moments
from imbalance_sweep.sweep.identity import sweep_key

concentrations = st.sampled_from([0.3, 1.0, 2.0, 7.5, 40.0])
inner = st.floats(0.001, 0.999)


def correct_fraction(label, scores):
    return np.mean(scores <= 0.5) if label == 0 else np.mean(scores > 0.5)


# --- the uniform model as a value: the same numbers, bit for bit --------------------------------


@pytest.mark.parametrize("cell", [Cell(1_000_000, 10_000, 0.999, 0.5), Cell(3000, 0, 0.2, 1.0)])
def test_the_uniform_value_is_the_default_bit_for_bit(cell):
    terms = make_terms("numpy", LOSS_NAMES, alpha=0.25, gamma=2.0)
    default = evaluate_cell(cell, seed=0, losses=LOSS_NAMES, term_sums=terms, chunk_size=65536)
    as_value = evaluate_cell(
        cell, seed=0, losses=LOSS_NAMES, term_sums=terms, chunk_size=65536, model=UNIFORM
    )
    assert as_value == default
    a0, a1 = cell.acc_0s, cell.acc_1s
    assert expected(cell.num_0s, a0, cell.num_1s, a1, score_model=UNIFORM) == expected(
        cell.num_0s, a0, cell.num_1s, a1
    )
    np.testing.assert_array_equal(
        simulate(cell.num_0s, a0, cell.num_1s, a1, seed=4, score_model=UNIFORM)[1],
        simulate(cell.num_0s, a0, cell.num_1s, a1, seed=4)[1],
    )


def test_the_uniform_model_keeps_its_sweep_key_and_params(make_spec):
    """The default sweep's key, computed by hand from identity.py's formula before score models."""
    spec = make_spec()
    assert spec.score_model is UNIFORM
    assert sweep_key(spec) == "5661ada66164c6d4"
    from imbalance_sweep.sweep.params import cell_params

    assert not any(key.startswith("score_model") for key in cell_params(spec.cells[0], spec))


def test_models_are_found_by_module():
    assert {"uniform", "beta"} <= set(names())
    assert from_config(None) is UNIFORM and from_config({"name": "uniform"}) is UNIFORM
    assert from_config({"name": "beta", "concentration": 3}) == BetaModel(3.0)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"name": "gamma"}, "score_model.name='gamma' is not one of: .*beta.*uniform"),
        ({"name": "beta", "concentration": 0}, r"score_model.concentration=0 is not a finite number > 0"),
        ({"name": "beta", "concentration": "x"}, r"score_model.concentration='x' is not a finite number > 0"),
        ({"name": "beta", "sharpness": 2}, "score_model.sharpness is not a key of score_model=beta"),
        (
            {"name": "uniform", "concentration": 2},
            "score_model.concentration is not a key of score_model=uniform",
        ),
    ],
)
def test_bad_score_model_configs_are_refused_in_one_line(config, message):
    with pytest.raises(InvalidValue, match=message) as error:
        from_config(config)
    assert "\n" not in str(error.value)


# --- the Beta model: shapes, accuracies -----------------------------------------------------------


@given(acc=st.floats(1e-9, 1 - 1e-9), concentration=st.floats(0.05, 500.0))
def test_beta_shapes_give_exactly_the_requested_accuracy(acc, concentration):
    a, b = distance_shapes(acc, concentration)
    assert a + b == pytest.approx(concentration, rel=1e-12)
    # P(q < 0.5) = acc; the smaller of the two sides to 1e-12 relative
    if acc >= 0.5:
        assert special.betaincc(a, b, 0.5) == pytest.approx(1 - acc, rel=1e-11)
    else:
        assert special.betainc(a, b, 0.5) == pytest.approx(acc, rel=1e-11)
    # accuracy 1 - acc is the mirror image: the shapes swap (1 - (1 - acc) need not be acc in floats)
    mirrored = distance_shapes(1 - acc, concentration)
    assert mirrored[::-1] == pytest.approx(distance_shapes(1 - (1 - acc), concentration), rel=1e-9)


def test_beta_with_concentration_two_at_one_half_is_uniform():
    """Beta(1, 1): the same per-sample moments as the uniform model at accuracy 0.5."""
    assert distance_shapes(0.5, 2.0) == (1.0, 1.0)
    model = BetaModel(2.0)
    for label in (0, 1):
        assert model.term_moments(label, 0.5, "bce", 2.0) == pytest.approx(bce_moments(label, 0.5), rel=1e-10)
        assert model.term_moments(label, 0.5, "sq", 2.0) == pytest.approx(brier_moments(0.5), rel=1e-12)
        for gamma in (0.5, 2.0, 3.0):
            assert model.term_moments(label, 0.5, "focal", gamma) == pytest.approx(
                focal_moments(label, 0.5, gamma), rel=1e-9
            )


@given(
    acc_0s=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), inner),
    acc_1s=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), inner),
    concentration=concentrations,
    seed=st.integers(0, 2**32),
)
def test_beta_draws_have_the_requested_accuracies(acc_0s, acc_1s, concentration, seed):
    """Within 5 binomial standard errors; exactly at accuracies 0 and 1."""
    n = 20_000
    y_true, y_pred = simulate(n, acc_0s, n, acc_1s, seed=seed, score_model=BetaModel(concentration))
    assert y_pred.dtype == np.float32 and ((y_pred >= 0) & (y_pred <= 1)).all()
    for label, acc in ((0, acc_0s), (1, acc_1s)):
        observed = correct_fraction(label, y_pred[y_true == label])
        assert abs(observed - acc) <= 5 * math.sqrt(acc * (1 - acc) / n) + 1e-12


def test_beta_draws_follow_the_beta_law():
    """Mean and variance of the distance q = |p - y| of a big draw: those of Beta(a, b)."""
    model, n = BetaModel(5.0), 400_000
    a, b = distance_shapes(0.9, 5.0)
    mean, variance = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    y_true, y_pred = simulate(n, 0.9, n, 0.9, seed=11, score_model=model)
    for label in (0, 1):
        distance = np.abs(y_pred[y_true == label].astype(np.float64) - label)
        assert distance.mean() == pytest.approx(mean, abs=5 * math.sqrt(variance / n))
        assert distance.var() == pytest.approx(variance, rel=0.02)


@given(chunk_size=st.integers(1, 3000), n0=st.integers(0, 2000), n1=st.integers(1, 2000))
def test_beta_chunking_does_not_change_the_draw(chunk_size, n0, n1):
    from imbalance_sweep.core.simulator import cell_score_chunks

    model = BetaModel(0.8)
    chunks = [s.copy() for _, s in cell_score_chunks(Cell(n0, n1, 0.7, 0.4), 3, chunk_size, model)]
    assert all(chunk.size <= chunk_size for chunk in chunks)
    np.testing.assert_array_equal(
        np.concatenate(chunks), simulate(n0, 0.7, n1, 0.4, seed=3, score_model=model)[1]
    )


# --- the Beta model: expectations -----------------------------------------------------------------


def quad_moment(function, a, b, q_low, q_high, power=0.0):
    """E[q^power function(q)] for q ~ Beta(a, b) by scipy's quad, an integration independent of the
    model's: QUADPACK's QAWS (algebraic end weights) on the clipped ends [0, q_low] and [q_high, 1],
    where ``function`` is smooth (q^power joins the weight at 0: it is not smooth there), and
    adaptive QAGS, which copes with the near-end singularities, between."""
    log_beta = special.betaln(a, b)

    def density(q):
        return math.exp((a - 1) * math.log(q) + (b - 1) * math.log1p(-q) - log_beta)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)  # scipy's own limits, not ours
        ends = (
            integrate.quad(
                lambda q: function(q) * math.exp((b - 1) * math.log1p(-q) - log_beta),
                0,
                q_low,
                weight="alg",
                wvar=(a - 1 + power, 0),
            )[0]
            + integrate.quad(
                lambda q: q**power * function(q) * math.exp((a - 1) * math.log(q) - log_beta),
                q_high,
                1,
                weight="alg",
                wvar=(0, b - 1),
            )[0]
        )
        middle = sum(
            integrate.quad(
                lambda q: q**power * function(q) * density(q), lo, hi, limit=500, epsabs=0, epsrel=1e-10
            )[0]
            for lo, hi in ((q_low, 0.5), (0.5, q_high))
        )
    return ends + middle


@given(
    label=st.sampled_from([0, 1]),
    acc=st.floats(0.001, 0.999),
    concentration=st.floats(0.2, 60.0),
    gamma=st.floats(0.0, 4.0),
)
@example(
    label=0, acc=0.875, concentration=0.5, gamma=0.03125
)  # q^gamma not smooth at 0: the oracle's own error once
def test_beta_expectations_agree_with_scipy_quad(label, acc, concentration, gamma):
    """First and second moments of the clipped bce and focal terms."""
    a, b = distance_shapes(acc, concentration)
    low, high = TRUE_CLASS_RANGE[label]
    model = BetaModel(concentration)

    def bce(q):
        return -math.log(min(max(1 - q, low), high))

    ends = (1 - high, 1 - low)
    for term, power in (("bce", 0.0), ("focal", gamma)):
        first, second = model.term_moments(label, acc, term, gamma)
        assert first == pytest.approx(quad_moment(bce, a, b, *ends, power=power), rel=1e-8, abs=1e-15)
        assert second == pytest.approx(
            quad_moment(lambda q: bce(q) ** 2, a, b, *ends, power=2 * power), rel=1e-8, abs=1e-15
        )


@pytest.mark.parametrize("acc, concentration", [(0.9, 10.0), (0.6, 4.0), (0.3, 6.0), (0.98, 80.0)])
def test_beta_expectations_match_the_digamma_closed_forms(acc, concentration):
    """With both shapes >= 1.5 the clip changes nothing at 1e-9, and for q ~ Beta(a, b):
    E[-log(1-q)] = psi(a+b) - psi(b); E[log(1-q)^2] = (psi(b) - psi(a+b))^2 + psi'(b) - psi'(a+b);
    E[q^2 (-log(1-q))] = B(a+2, b) / B(a, b) * (psi(a+b+2) - psi(b)); E[q^2] = a(a+1) / (k(k+1))."""
    a, b = distance_shapes(acc, concentration)
    assert min(a, b) >= 1.5
    psi, trigamma = special.digamma, lambda x: special.polygamma(1, x)
    k = a + b
    model = BetaModel(concentration)
    for label in (0, 1):
        first, second = model.term_moments(label, acc, "bce", 2.0)
        assert first == pytest.approx(psi(k) - psi(b), rel=1e-9)
        assert second == pytest.approx((psi(b) - psi(k)) ** 2 + trigamma(b) - trigamma(k), rel=1e-9)
        focal = model.term_moments(label, acc, "focal", 2.0)[0]
        ratio = a * (a + 1) / (k * (k + 1))
        assert focal == pytest.approx(ratio * (psi(k + 2) - psi(b)), rel=1e-9)
        assert model.term_moments(label, acc, "sq", 2.0)[0] == pytest.approx(ratio, rel=1e-14)


def test_beta_at_accuracies_zero_and_one_is_the_clipped_point_mass():
    """acc = 1: every score on its label, bce = -log(H); acc = 0: on the other, bce = -log(L)."""
    model = BetaModel(2.0)
    # the float32 pipeline's clip: 2**-23 (negatives) or 1e-7 (positives) up to 1 - 2**-23
    assert {0: (2.0**-23, 1 - 2.0**-23), 1: (float(np.float32(1e-7)), 1 - 2.0**-23)} == TRUE_CLASS_RANGE
    for label in (0, 1):
        low, high = TRUE_CLASS_RANGE[label]
        assert model.term_moments(label, 1.0, "bce", 2.0) == pytest.approx(
            (-math.log(high), math.log(high) ** 2)
        )
        assert model.term_moments(label, 1.0, "sq", 2.0) == (0.0, 0.0)
        assert model.term_moments(label, 0.0, "bce", 2.0) == pytest.approx(
            (-math.log(low), math.log(low) ** 2)
        )
        assert model.term_moments(label, 0.0, "focal", 2.0) == pytest.approx(
            (-math.log(low), math.log(low) ** 2)
        )
    y_true, y_pred = simulate(10, 1.0, 10, 0.0, seed=0, score_model=model)
    np.testing.assert_array_equal(y_pred, np.r_[np.zeros(10), np.zeros(10)].astype(np.float32))
    exact = expected(10, 1.0, 10, 0.0, score_model=model)
    drawn = evaluate(y_true, y_pred)
    for key in ("loss/bce", "loss/brier", "loss/focal", "recall", "specificity"):
        assert drawn[key] == pytest.approx(exact[key], rel=1e-6)


edge_or_inner = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.02, 0.98))


@given(
    n0=st.integers(5_000, 30_000),
    n1=st.integers(5_000, 30_000),
    acc_0s=edge_or_inner,
    acc_1s=edge_or_inner,
    concentration=concentrations,
    seed=st.integers(0, 1000),
)
def test_beta_sampled_cells_fall_within_five_standard_errors(n0, n1, acc_0s, acc_1s, concentration, seed):
    model = BetaModel(concentration)
    drawn = evaluate(*simulate(n0, acc_0s, n1, acc_1s, seed=seed, score_model=model))
    exact = expected(n0, acc_0s, n1, acc_1s, score_model=model)
    # the metrics with a standard error: the ranking metrics and ece have none (test_population.py)
    for key in (
        [f"loss/{name}" for name in LOSS_NAMES]
        + list(CONFUSION_METRIC_NAMES)
        + ["log_loss_skill", "brier_skill"]
    ):
        assert abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-6 * abs(exact[key]), key


# --- config, identity, runs -------------------------------------------------------------------------


def test_the_beta_model_enters_the_sweep_key_and_the_params(make_spec):
    from imbalance_sweep.sweep.params import cell_params, sweep_params

    uniform = make_spec()
    beta = make_spec("score_model=beta")
    sharper = make_spec("score_model=beta", "score_model.concentration=0.5")
    assert beta.score_model == BetaModel(2.0) and sharper.score_model == BetaModel(0.5)
    assert len({sweep_key(uniform), sweep_key(beta), sweep_key(sharper)}) == 3
    params = cell_params(beta.cells[0], beta)
    assert params["score_model"] == "beta" and params["score_model.concentration"] == 2.0
    assert sweep_params(sharper)["score_model.concentration"] == 0.5


def test_a_bad_concentration_on_the_command_line_is_one_line(make_spec):
    with pytest.raises(InvalidValue, match=r"^score_model.concentration=-1 is not a finite number > 0$"):
        make_spec("score_model=beta", "score_model.concentration=-1")


def test_a_beta_sweep_logs_its_model_and_its_expectations(make_spec, tracking_uri):
    from mlflow.tracking import MlflowClient

    from imbalance_sweep.app import run_sweep

    spec = make_spec(
        "grid=single",
        "grid.balances=[[20000,2000]]",
        "grid.models=[[0.95,0.7]]",
        "score_model=beta",
        "score_model.concentration=3",
        f"tracking_uri={tracking_uri}",
    )
    run = MlflowClient(tracking_uri).get_run(run_sweep(spec))
    assert run.data.params["score_model"] == "beta" and run.data.params["score_model.concentration"] == "3.0"
    model = BetaModel(3.0)
    exact = expected(20000, 0.95, 2000, 0.7, score_model=model)
    drawn = evaluate(*simulate(20000, 0.95, 2000, 0.7, seed=0, score_model=model))
    assert run.data.metrics["loss/bce"] == drawn["loss/bce"]
    assert run.data.metrics["expected/loss/bce"] == exact["loss/bce"]
    assert run.data.metrics["stderr/loss/bce"] == exact["stderr/loss/bce"]
