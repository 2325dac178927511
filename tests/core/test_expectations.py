"""Exact expectations: hand-derived closed forms, a second quadrature, and sampled cells."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from imbalance_sweep import LOSS_NAMES, METRIC_NAMES, InvalidValue, evaluate, expected, simulate
from imbalance_sweep.app import run_sweep
from imbalance_sweep.core.cell import Cell
from imbalance_sweep.core.clipping import TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP
from imbalance_sweep.core.metrics import CONFUSION_METRIC_NAMES
from imbalance_sweep.core.score_models.uniform import bce_moments, brier_moments, focal_moments


def hand_bce(acc):
    """E[-log(1 - q)] for q ~ U(0, w), w = 0.5 / acc (acc >= 0.5), clipping ignored:
    (1/w) * integral of -log(u) over [1 - w, 1] = (w + (1 - w) log(1 - w)) / w."""
    w = 0.5 / acc
    return (w + (1 - w) * math.log(1 - w)) / w if w < 1 else 1.0


@pytest.mark.parametrize("acc", [0.5001, 0.6, 0.9, 0.98, 0.999, 1.0])
def test_bce_matches_the_hand_derived_closed_form(acc):
    for label in (0, 1):
        assert bce_moments(label, acc)[0] == pytest.approx(hand_bce(acc), rel=2e-6)


def test_bce_at_one_half_is_one_minus_the_clip_bound():
    """q ~ U(0, 1): the integral of -log(clip(u)) over [0, 1] is exactly 1 - L, L the lower clip bound."""
    for label in (0, 1):
        low = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label][0]
        assert bce_moments(label, 0.5)[0] == pytest.approx(1 - low, rel=1e-14)


def test_bce_below_one_half_mirrors_the_interval():
    """acc < 0.5: q ~ U(1 - w, 1), so E[-log(1 - q)] = (1/w) * integral of -log(u) over [0, w], clipped at L."""
    for label, acc in ((0, 0.3), (1, 0.1), (1, 0.0)):
        w = 0.5 / (1 - acc)
        low = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label][0]
        by_hand = (low * -math.log(low) + (w - w * math.log(w)) - (low - low * math.log(low))) / w
        assert bce_moments(label, acc)[0] == pytest.approx(by_hand, rel=1e-12)


def test_brier_closed_form():
    assert brier_moments(1.0) == pytest.approx((0.25 / 3, 0.0625 / 5))  # q ~ U(0, 0.5)
    assert brier_moments(0.0)[0] == pytest.approx(7 / 12)  # q ~ U(0.5, 1): (1 - 1/8) / (3 * 0.5)


def focal_by_hand(label, acc, gamma):
    """E[q^gamma * bce_i] for a whole gamma, from the binomial expansion of (1 - u)^gamma and the
    antiderivative of -u^k log u, which is u^(k+1) / (k+1)^2 - u^(k+1) log(u) / (k+1)."""
    width = 0.5 / max(acc, 1 - acc)
    u_a, u_b = (1 - width, 1.0) if acc >= 0.5 else (0.0, width)
    low, high = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label]

    def power_integral(a, b):  # integral of (1 - u)^gamma over [a, b]
        return ((1 - a) ** (gamma + 1) - (1 - b) ** (gamma + 1)) / (gamma + 1)

    def log_moment(k, u):
        return u ** (k + 1) / (k + 1) ** 2 - (u ** (k + 1) * math.log(u) / (k + 1) if u > 0 else 0.0)

    total = 0.0
    if u_a < low:
        total += -math.log(low) * power_integral(u_a, min(u_b, low))
    if u_b > high:
        total += -math.log(high) * power_integral(max(u_a, high), u_b)
    a, b = max(u_a, low), min(u_b, high)
    for k in range(gamma + 1):
        total += math.comb(gamma, k) * (-1) ** k * (log_moment(k, b) - log_moment(k, a))
    return total / width


@pytest.mark.parametrize("gamma", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("acc", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0])
def test_focal_quadrature_matches_the_closed_form_for_whole_gammas(acc, gamma):
    for label in (0, 1):
        assert focal_moments(label, acc, float(gamma))[0] == pytest.approx(
            focal_by_hand(label, acc, gamma), rel=1e-10
        )


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # scipy at the cusp, not ours
@given(label=st.sampled_from([0, 1]), acc=st.floats(0, 1), gamma=st.floats(0, 5))
def test_focal_quadrature_agrees_with_scipy(label, acc, gamma):
    """The panel quadrature against scipy's adaptive quad, first and second moments (scipy's own
    accuracy at the log's cusp is about 1e-6, hence the tolerance)."""
    width = 0.5 / max(acc, 1 - acc)
    lo, hi = (0.0, width) if acc >= 0.5 else (1 - width, 1.0)
    low, high = TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP[label]

    def focal(q):
        return q**gamma * -math.log(min(max(1 - q, low), high))

    points = [p for p in (1 - high, 1 - low) if lo < p < hi] or None
    first = integrate.quad(focal, lo, hi, points=points, limit=500)[0]
    second = integrate.quad(lambda q: focal(q) ** 2, lo, hi, points=points, limit=500)[0]
    ours = focal_moments(label, acc, gamma)
    assert ours[0] == pytest.approx(first / width, rel=1e-5, abs=1e-12)
    assert ours[1] == pytest.approx(second / width, rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("acc", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_focal_with_gamma_zero_is_bce(acc):
    for label in (0, 1):
        assert focal_moments(label, acc, 0.0) == pytest.approx(bce_moments(label, acc), rel=1e-10)


edge_or_inner = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.02, 0.98))


@given(
    n0=st.integers(5_000, 40_000),
    n1=st.integers(5_000, 40_000),
    acc_0s=edge_or_inner,
    acc_1s=edge_or_inner,
    seed=st.integers(0, 1000),
)
def test_sampled_cells_fall_within_five_standard_errors(n0, n1, acc_0s, acc_1s, seed):
    drawn = evaluate(*simulate(n0, acc_0s, n1, acc_1s, seed=seed))
    exact = expected(n0, acc_0s, n1, acc_1s)
    # the metrics with a standard error: the ranking metrics and ece have none (test_population.py)
    for key in (
        [f"loss/{name}" for name in LOSS_NAMES]
        + list(CONFUSION_METRIC_NAMES)
        + ["log_loss_skill", "brier_skill"]
    ):
        assert abs(drawn[key] - exact[key]) <= 5 * exact[f"stderr/{key}"] + 1e-9 * abs(exact[key]), key


def test_standard_errors_match_replicates():
    """The stated standard error is the spread of replicate draws (60 of them, so within 25 %)."""
    exact = expected(100_000, 0.98, 1_000, 0.9)
    draws = [evaluate(*simulate(100_000, 0.98, 1_000, 0.9, seed=s)) for s in range(60)]
    for key in ("loss/bce", "loss/focal_tfa", "loss/balanced_bce", "loss/brier", "recall", "precision", "f1"):
        spread = np.std([d[key] for d in draws], ddof=1)
        assert spread == pytest.approx(exact[f"stderr/{key}"], rel=0.25), key


def test_expected_counts_and_metrics_of_the_posts_cell():
    exact = expected(1_000_000, 0.999, 10_000, 0.5)
    assert (exact["tp"], exact["fn"], exact["tn"], exact["fp"]) == (5000, 5000, 999_000, 1000)
    assert exact["precision"] == pytest.approx(5000 / 6000) and exact["recall"] == 0.5
    assert exact["stderr/recall"] == pytest.approx(math.sqrt(0.25 / 10_000), rel=1e-6)


def test_a_billion_samples_costs_the_same_as_a_thousand():
    small, large = expected(990, 0.9, 10, 0.6), expected(990_000_000, 0.9, 10_000_000, 0.6)
    for name in LOSS_NAMES:
        if name != "focal_tfa":  # a sum, which scales with the cell
            assert large[f"loss/{name}"] == pytest.approx(small[f"loss/{name}"], rel=1e-12)
            assert large[f"stderr/loss/{name}"] == pytest.approx(
                small[f"stderr/loss/{name}"] / 1000, rel=1e-9
            )


def test_bad_input_is_refused():
    with pytest.raises(InvalidValue, match=r"acc_1s=1.5 is outside \[0, 1\]"):
        expected(10, 0.9, 10, 1.5)


def test_expected_mode_logs_the_same_names_without_drawing(make_spec, tracking_uri):
    from mlflow.tracking import MlflowClient

    spec = make_spec(
        "grid=single", "grid.balances=[[1e9,1e7]]", "mode=expected", f"tracking_uri={tracking_uri}"
    )
    run_id = run_sweep(spec)
    run = MlflowClient(tracking_uri).get_run(run_id)
    assert run.data.params["mode"] == "expected"
    assert run.data.metrics == expected(1e9, 0.999, 1e7, 0.5)
    assert {f"loss/{name}" for name in LOSS_NAMES} | set(METRIC_NAMES) <= set(run.data.metrics)
    assert not any(key.startswith("expected/") for key in run.data.metrics)
    assert Cell(10**9, 10**7, 0.999, 0.5).size == 1_010_000_000


@given(
    st.floats(1e-320, 1e-150),
    st.floats(0.01, 0.99),
    st.integers(1, 10**6),
    st.integers(1, 10**6),
)
def test_an_accuracy_next_to_zero_gets_its_standard_errors_not_an_overflow(acc_0s, acc_1s, num_0s, num_1s):
    """lr_plus's slope is enormous there and its variance tiny: the square of the one overflowed. A
    metric that is itself infinite there (lr_minus, past a subnormal specificity) has no error: NaN."""
    values = expected(num_0s, acc_0s, num_1s, acc_1s)
    errors = {
        key.removeprefix("stderr/"): value for key, value in values.items() if key.startswith("stderr/")
    }
    assert errors
    for name, error in errors.items():
        assert error >= 0 or (math.isnan(error) and not math.isfinite(values[name])), (name, error)


def test_the_delta_method_error_without_overflow_is_the_plain_formula_and_with_it_the_exact_value():
    from decimal import Decimal, localcontext

    from imbalance_sweep.core.expectations import delta_method_error

    assert delta_method_error(3.0, 2.0, 0.5, 7.0) == math.sqrt(3.0**2 * 2.0 + 0.5**2 * 7.0)
    slope, variance = 3.1e213, 2.7e-213
    with localcontext() as context:
        context.prec = 50
        exact = (Decimal(slope) ** 2 * Decimal(variance) + Decimal("1.5") ** 2 * Decimal("0.25")).sqrt()
    assert delta_method_error(slope, variance, 1.5, 0.25) == pytest.approx(float(exact), rel=1e-15)
