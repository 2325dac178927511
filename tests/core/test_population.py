"""Population ranking metrics and ECE: hand-derived values, a second quadrature on another formulation,
large sampled cells scored by scikit-learn, and invariances."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from imbalance_sweep import InvalidValue
from imbalance_sweep.core import population
from imbalance_sweep.core.population import population_ece, population_ranking
from imbalance_sweep.core.score_models.beta import BetaModel, BetaScores, distance_shapes
from imbalance_sweep.core.score_models.uniform import UNIFORM, score_interval

MODELS = {
    "uniform": UNIFORM,
    "beta-0.5": BetaModel(0.5),
    "beta-2": BetaModel(2.0),
    "beta-50": BetaModel(50.0),
}
models = st.sampled_from(sorted(MODELS)).map(MODELS.get)
accuracies = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(1e-6, 1 - 1e-6))
inner_prevalences = st.floats(1e-4, 1 - 1e-4)
# tolerances: closed forms (uniform) against the second quadrature; tanh-sinh (Beta) against it
CLOSED_FORM_TOLERANCE, QUADRATURE_TOLERANCE = 1e-9, 1e-7


# --- hand-derived values ----------------------------------------------------------------------------------


def test_uniform_golden_values():
    """acc_0s = 1, acc_1s = 0.75, pi = 1/2: S0 ~ U[0, 1/2] (width 0.5 / 1), S1 ~ U[1/3, 1] (width 2/3).

    roc_auc: P(S1 < S0) = 2 * integral over [1/3, 1/2] of (t - 1/3) / (2/3) dt = 3 (1/6)^2 / 2 = 1/24,
    so 23/24.
    average precision: with s = A1(t) = 3 (1 - t) / 2 the recall, A0 = 1 - 2t = 4s/3 - 1 for t in
    [1/3, 1/2] and 0 above; precision 1 for s <= 3/4, else s / (s + 4s/3 - 1) = 3s / (7s - 3), so
    AP = 3/4 + integral over [3/4, 1] of 3s / (7s - 3) ds = 3/4 + 3/28 + (9/49) log(16/9).
    precision at recall 0.9: 3s / (7s - 3) falls with s, and below t = 1/3 (s = 1) precision is
    1 / (1 + (1 - 2t)) <= 3/4; so the sup is at s = 0.9: 2.7 / 3.3 = 9/11.
    ECE, 15 bins (i/15, (i+1)/15]: each term is |E[1 - S1; bin] - E[S0; bin]| / 2, with
    E[S0; bin] = b^2 - a^2 on [0, 1/2] and E[1 - S1; bin] = (3/2)((b - a) - (b^2 - a^2)/2) on [1/3, 1]:
    bins 0-4 give (1/3)^2 = 100/900 in all; bins 5, 6, 7 give 13/900, 1/900 and 16/900; bins 8-14
    give (3/4)(7/15)^2 = 147/900; ECE = (100 + 177) / 1800 = 277/1800.
    """
    values = population_ranking(UNIFORM, acc_0s=1.0, acc_1s=0.75, prevalence=0.5, recall=0.9)
    assert values["roc_auc"] == pytest.approx(23 / 24, abs=1e-15)
    assert values["average_precision"] == pytest.approx(3 / 4 + 3 / 28 + 9 / 49 * math.log(16 / 9), abs=1e-15)
    assert values["precision_at_recall"] == pytest.approx(9 / 11, abs=1e-15)
    assert population_ece(UNIFORM, acc_0s=1.0, acc_1s=0.75, prevalence=0.5) == pytest.approx(
        277 / 1800, abs=1e-15
    )


def test_a_random_scorer_has_ece_of_its_bins_midpoints():
    """Both classes U[0, 1]: each bin holds 1/15 of each, E[S; bin] = m/15 for its midpoint m, so
    ECE = (1/15) sum |pi - m_i|; at pi = 1/2 that is (1/450) sum |14 - 2i| = 112/450."""
    assert population_ece(UNIFORM, acc_0s=0.5, acc_1s=0.5, prevalence=0.5) == pytest.approx(
        112 / 450, abs=1e-15
    )


@pytest.mark.parametrize("model", [MODELS["beta-0.5"], MODELS["beta-50"]], ids=["beta-0.5", "beta-50"])
@pytest.mark.parametrize("prevalence", [0.01, 0.3])
def test_point_masses(model, prevalence):
    """The Beta model at accuracy 0 or 1: every score of the class on one label.

    A negative point mass at 1 under continuous positives: every threshold in (0, 1) keeps all
    negatives, so precision at recall s is pi s / (pi s + 1 - pi) and, integrating s over [0, 1],
    AP = 1 + ((1 - pi) / pi) log(1 - pi); that precision rises with s, so its sup over s >= r is pi,
    at s = 1. Two point masses on one
    score are one tie group: precision pi there, roc_auc 1/2.
    """
    pi, r = prevalence, 0.9
    chance = {"roc_auc": 0.5, "average_precision": pi, "precision_at_recall": pi}
    perfect = {"roc_auc": 1.0, "average_precision": 1.0, "precision_at_recall": 1.0}
    expected = {
        (1.0, 0.7): perfect,  # negatives all at 0, positives above it
        (0.8, 1.0): perfect,  # positives all at 1, negatives below it
        (1.0, 1.0): perfect,
        (0.0, 1.0): chance,  # both at 1
        (1.0, 0.0): chance,  # both at 0
        (0.0, 0.0): {"roc_auc": 0.0, "average_precision": pi, "precision_at_recall": pi},
        (0.3, 0.0): {"roc_auc": 0.0, "average_precision": pi, "precision_at_recall": pi},
        (0.0, 0.6): {
            "roc_auc": 0.0,
            "average_precision": 1 + (1 - pi) / pi * math.log1p(-pi),
            "precision_at_recall": pi,
        },
    }
    for (acc_0s, acc_1s), values in expected.items():
        got = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi, recall=r)
        assert got == pytest.approx(values, abs=1e-9), (acc_0s, acc_1s)


def test_a_class_absent_follows_the_zero_rule():
    for model in MODELS.values():
        none_positive = population_ranking(model, acc_0s=0.9, acc_1s=0.7, prevalence=0.0)
        assert none_positive == {"roc_auc": 0.0, "average_precision": 0.0, "precision_at_recall": 0.0}
        none_negative = population_ranking(model, acc_0s=0.9, acc_1s=0.7, prevalence=1.0)
        assert none_negative == {"roc_auc": 0.0, "average_precision": 1.0, "precision_at_recall": 1.0}
        # ECE is defined with one class: the mean score of the negatives, or mean distance of the positives
        assert population_ece(model, acc_0s=0.9, acc_1s=0.7, prevalence=0.0) == pytest.approx(
            mean_score(model, 0, 0.9), abs=1e-12
        )
        assert population_ece(model, acc_0s=0.9, acc_1s=0.7, prevalence=1.0) == pytest.approx(
            1 - mean_score(model, 1, 0.7), abs=1e-12
        )


def mean_score(model, label, acc):
    if model is UNIFORM:
        anchored_at_zero, width = score_interval(label, acc)
        return width / 2 if anchored_at_zero else 1 - width / 2
    a, b = distance_shapes(acc, model.concentration)
    return a / (a + b) if label == 0 else b / (a + b)


def test_bad_values_are_refused():
    with pytest.raises(InvalidValue, match="prevalence"):
        population_ranking(UNIFORM, acc_0s=0.9, acc_1s=0.7, prevalence=1.5)
    with pytest.raises(InvalidValue, match="recall"):
        population_ranking(UNIFORM, acc_0s=0.9, acc_1s=0.7, prevalence=0.5, recall=0.0)
    with pytest.raises(InvalidValue, match="bins"):
        population_ece(UNIFORM, acc_0s=0.9, acc_1s=0.7, prevalence=0.5, bins=0)


# --- a second quadrature: over the positives' score density, in t and 1 - t ----------------------------
#
# The module integrates over a class's quantile in logits (tanh-sinh). Here, from scipy's special functions
# and the models' own parameters only: E[h(S1)] as the integral of S1's density times h, over (0, 1/2] in
# t and over [1/2, 1) in c = 1 - t (so tails at 1 keep their digits), each after x = -log(.) with
# scipy's quad; the precision's sup on a dense grid of thresholds; the ECE bin by bin (QAWS where a
# Beta density is singular at an end). This reference stops at t or 1 - t = e^-700: the cases are those
# whose mass beyond is under 1e-8 (at concentration 0.5 and accuracy 0.95, 3.4e-9 of the positives: the
# largest difference seen, the others are under 1e-12).


class ReferenceBeta:
    """Beta(a, b) from scipy.special."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def log_pdf(self, t):
        return special.xlogy(self.a - 1, t) + special.xlog1py(self.b - 1, -t) - special.betaln(self.a, self.b)

    def below(self, t):  # P(S <= t)
        return special.betainc(self.a, self.b, t)

    def at_least(self, t):  # P(S >= t)
        return special.betaincc(self.a, self.b, t)

    def ppf(self, q):
        return special.betaincinv(self.a, self.b, q)

    def mirror(self):  # the law of 1 - S
        return ReferenceBeta(self.b, self.a)

    def kinks(self):
        return self.ppf(
            np.array([1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 0.999])
        )

    def bin_moments(self, low, high):
        """(P(low < S <= high), E[S; low < S <= high]) by quad, QAWS at a singular end."""
        a, b, log_beta = self.a, self.b, special.betaln(self.a, self.b)
        if low == 0.0:
            rest = lambda t, k: t**k * math.exp(special.xlog1py(b - 1, -t) - log_beta)  # noqa: E731
            options = {"weight": "alg", "wvar": (a - 1, 0.0)}
        elif high == 1.0:
            rest = lambda t, k: t**k * math.exp(special.xlogy(a - 1, t) - log_beta)  # noqa: E731
            options = {"weight": "alg", "wvar": (0.0, b - 1)}
        else:
            rest = lambda t, k: t**k * math.exp(self.log_pdf(t))  # noqa: E731
            options = {}
        return tuple(
            integrate.quad(rest, low, high, args=(k,), epsabs=1e-15, epsrel=1e-12, limit=200, **options)[0]
            for k in (0, 1)
        )


class ReferenceUniform:
    """Uniform on [low, high]."""

    def __init__(self, low, high):
        self.low, self.high, self.width = low, high, high - low

    def log_pdf(self, t):
        return -math.log(self.width) if self.low <= t <= self.high else -math.inf

    def below(self, t):
        return np.clip((t - self.low) / self.width, 0.0, 1.0)

    def at_least(self, t):
        return np.clip((self.high - t) / self.width, 0.0, 1.0)

    def ppf(self, q):
        return self.low + q * self.width

    def mirror(self):
        return ReferenceUniform(1.0 - self.high, 1.0 - self.low)

    def kinks(self):
        return np.array([self.low, self.high])

    def bin_moments(self, low, high):
        a, b = max(low, self.low), min(high, self.high)
        return ((b - a) / self.width, (b * b - a * a) / (2 * self.width)) if b > a else (0.0, 0.0)


def reference_laws(model, acc_0s, acc_1s):
    """(negatives, positives) from the model's parameters: score_interval or distance_shapes."""
    if model is UNIFORM:
        laws = []
        for label, acc in ((0, acc_0s), (1, acc_1s)):
            anchored_at_zero, width = score_interval(label, acc)
            laws.append(
                ReferenceUniform(0.0, width) if anchored_at_zero else ReferenceUniform(1.0 - width, 1.0)
            )
        return tuple(laws)
    a0, b0 = distance_shapes(acc_0s, model.concentration)
    a1, b1 = distance_shapes(acc_1s, model.concentration)
    return ReferenceBeta(a0, b0), ReferenceBeta(b1, a1)  # a positive's score is 1 - q


def half_integral(law, function, kinks):
    """Integral over (0, 1/2] of law's density times ``function``, in x = -log t, to t = e^-700."""

    def integrand(x):
        t = math.exp(-x)
        density = math.exp(law.log_pdf(t) - x)
        return density * function(t) if density else 0.0

    # the kinks, and a ladder in x so that no piece is long enough for quad to miss a tail's mass
    points = sorted(
        {-math.log(k) for k in kinks if 1e-300 < k < 0.5 - 1e-12} | {2.0**k for k in range(1, 10)}
    )
    value, _ = integrate.quad(
        integrand, math.log(2.0), 700.0, points=points, limit=2000, epsabs=1e-14, epsrel=1e-12
    )
    return value


def over_positive_scores(negatives, positives, h):
    """E[h(A1(S1), A0(S1))], A_c(t) = P(S_c >= t): t's half, then 1 - t's, where A_c(1 - c) = P(1 - S_c <= c)."""
    kinks = np.concatenate([negatives.kinks(), positives.kinks()])
    mirror_kinks = np.concatenate([negatives.mirror().kinks(), positives.mirror().kinks()])
    low = half_integral(positives, lambda t: h(positives.at_least(t), negatives.at_least(t)), kinks)
    high = half_integral(
        positives.mirror(),
        lambda c: h(positives.mirror().below(c), negatives.mirror().below(c)),
        mirror_kinks,
    )
    return low + high


def reference_precision(pi, tpr, fpr):
    predicted = pi * tpr + (1 - pi) * fpr
    return np.where(predicted > 0, pi * tpr / np.where(predicted > 0, predicted, 1.0), 0.0)


def reference_roc_auc(negatives, positives):
    return over_positive_scores(negatives, positives, lambda tpr, fpr: 1.0 - fpr)  # P(S0 < S1)


def reference_average_precision(negatives, positives, pi):
    return over_positive_scores(negatives, positives, lambda tpr, fpr: reference_precision(pi, tpr, fpr))


def dense(start, end, kinks):
    """A threshold grid on [start, end]: 40,001 even steps, 4,001 geometric ones, the kinks inside."""
    inside = [k for k in kinks if start < k < end]
    return np.concatenate(
        [np.linspace(start, end, 40_001), np.geomspace(max(start, 1e-300), end, 4_001), inside, [end]]
    )


def reference_precision_at_recall(negatives, positives, pi, recall):
    """The max of precision over a dense grid of thresholds t with A1(t) >= recall, in t up to 1/2 and
    in c = 1 - t beyond."""
    kinks = np.concatenate([negatives.kinks(), positives.kinks()])
    mirror_kinks = np.concatenate([negatives.mirror().kinks(), positives.mirror().kinks()])
    top = positives.ppf(1 - recall)  # A1(top) = recall
    t = dense(0.0, min(top, 0.5), kinks)  # t = 0 too: recall 1, precision pi
    best = reference_precision(pi, positives.at_least(t), negatives.at_least(t)).max()
    if top > 0.5:
        c = dense(positives.mirror().ppf(recall), 0.5, mirror_kinks)
        tpr, fpr = positives.mirror().below(c), negatives.mirror().below(c)
        best = max(best, reference_precision(pi, tpr, fpr).max())
    return float(best)


def reference_ece(negatives, positives, pi, bins=15):
    """The brief's form: sum of P(bin) |P(y=1 | bin) - E[S | bin]|, each piece integrated by itself."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        mass_0, sum_0 = negatives.bin_moments(float(low), float(high))
        mass_1, sum_1 = positives.bin_moments(float(low), float(high))
        mass = pi * mass_1 + (1 - pi) * mass_0
        if mass > 0:
            total += mass * abs(pi * mass_1 / mass - (pi * sum_1 + (1 - pi) * sum_0) / mass)
    return total


# acc < 0.5, 0.5 and 1.0; the last two put both intervals' top ends at 1 (precision's last piece is 0/0 at its end)
UNIFORM_CASES = [
    (1.0, 0.75),
    (0.9, 0.6),
    (0.3, 0.8),
    (0.5, 0.5),
    (0.2, 0.1),
    (0.75, 1.0),
    (0.6, 0.4),
    (0.3, 0.7),
    (0.2, 0.9),
]
BETA_CASES = [(0.3, 0.9), (0.5, 0.5), (0.8, 0.95), (0.6, 0.2)]
PREVALENCES = [0.01, 0.3, 0.9]


@pytest.mark.parametrize("acc_0s, acc_1s", UNIFORM_CASES)
def test_uniform_closed_forms_against_a_second_quadrature(acc_0s, acc_1s):
    negatives, positives = reference_laws(UNIFORM, acc_0s, acc_1s)
    auc = reference_roc_auc(negatives, positives)
    for pi in PREVALENCES:
        values = population_ranking(UNIFORM, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi, recall=0.8)
        assert values["roc_auc"] == pytest.approx(auc, abs=CLOSED_FORM_TOLERANCE)
        reference = reference_average_precision(negatives, positives, pi)
        assert values["average_precision"] == pytest.approx(reference, abs=CLOSED_FORM_TOLERANCE)
        reference = reference_precision_at_recall(negatives, positives, pi, 0.8)
        assert values["precision_at_recall"] == pytest.approx(reference, abs=CLOSED_FORM_TOLERANCE)
        ece = population_ece(UNIFORM, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi)
        assert ece == pytest.approx(reference_ece(negatives, positives, pi), abs=CLOSED_FORM_TOLERANCE)


# concentration 50: peaked laws, seconds of scipy quadrature each; the full suite runs them
@pytest.mark.parametrize("concentration", [0.5, 2.0, pytest.param(50.0, marks=pytest.mark.slow)])
@pytest.mark.parametrize("acc_0s, acc_1s", BETA_CASES)
def test_beta_quadrature_against_a_second_quadrature(concentration, acc_0s, acc_1s):
    model = BetaModel(concentration)
    negatives, positives = reference_laws(model, acc_0s, acc_1s)
    auc = reference_roc_auc(negatives, positives)
    for pi in PREVALENCES:
        values = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi, recall=0.8)
        assert values["roc_auc"] == pytest.approx(auc, abs=QUADRATURE_TOLERANCE)
        reference = reference_average_precision(negatives, positives, pi)
        assert values["average_precision"] == pytest.approx(reference, abs=QUADRATURE_TOLERANCE)
        reference = reference_precision_at_recall(negatives, positives, pi, 0.8)
        assert values["precision_at_recall"] == pytest.approx(reference, abs=QUADRATURE_TOLERANCE)
        ece = population_ece(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi)
        assert ece == pytest.approx(reference_ece(negatives, positives, pi), abs=QUADRATURE_TOLERANCE)


# --- invariances ------------------------------------------------------------------------------------------


@settings(deadline=None, max_examples=25)
@given(models, accuracies, accuracies, inner_prevalences, inner_prevalences)
def test_prevalence_moves_only_the_precision_metrics_and_up(model, acc_0s, acc_1s, pi_a, pi_b):
    low, high = sorted((pi_a, pi_b))
    at_low = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=low)
    at_high = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=high)
    assert at_low["roc_auc"] == at_high["roc_auc"]
    # precision at each threshold rises with pi, so do its mean over the positives and its sup
    assert at_high["average_precision"] >= at_low["average_precision"] - 1e-12
    assert at_high["precision_at_recall"] >= at_low["precision_at_recall"] - 1e-12


@settings(deadline=None, max_examples=25)
@given(models, accuracies, accuracies, inner_prevalences)
def test_mirror_and_swap_symmetries(model, acc_0s, acc_1s, pi):
    """A class at accuracy 1 - acc scores as 1 - S of one at acc, and a positive at acc as 1 - S of a
    negative at acc; so flipping both accuracies flips roc_auc to 1 - roc_auc, swapping the classes'
    accuracies leaves it, and swapping them with the prevalence too leaves the ECE (the bins mirror)."""
    values = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi)
    flipped = population_ranking(model, acc_0s=1 - acc_0s, acc_1s=1 - acc_1s, prevalence=pi)
    swapped = population_ranking(model, acc_0s=acc_1s, acc_1s=acc_0s, prevalence=pi)
    # 1e-9: 1 - (1 - acc) is not acc in float64, and the Beta shapes follow it
    assert flipped["roc_auc"] == pytest.approx(1 - values["roc_auc"], abs=1e-9)
    assert swapped["roc_auc"] == pytest.approx(values["roc_auc"], abs=1e-9)
    ece = population_ece(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi)
    assert population_ece(model, acc_0s=acc_1s, acc_1s=acc_0s, prevalence=1 - pi) == pytest.approx(
        ece, abs=1e-12
    )


@settings(deadline=None, max_examples=20)
@given(models, inner_prevalences, st.floats(0.05, 1.0))
def test_a_random_scorer(model, pi, recall):
    """acc 0.5 for both: both classes have one score law (U[0, 1], or Beta(k/2, k/2)): precision is
    pi at every threshold, so AP = precision at any recall = pi, and roc_auc = 1/2."""
    values = population_ranking(model, acc_0s=0.5, acc_1s=0.5, prevalence=pi, recall=recall)
    assert values == pytest.approx(
        {"roc_auc": 0.5, "average_precision": pi, "precision_at_recall": pi}, abs=1e-10
    )


@settings(deadline=None, max_examples=25)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), inner_prevalences, st.floats(0.05, 1.0))
def test_the_uniform_closed_forms_are_the_quadrature_on_uniform_laws(acc_0s, acc_1s, pi, recall):
    """The module's own second route: its quadrature (any laws) run on the uniform laws."""
    negatives, positives = population.class_distributions(UNIFORM, acc_0s, acc_1s)
    closed = population_ranking(UNIFORM, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi, recall=recall)
    assert closed["roc_auc"] == pytest.approx(population.roc_auc(negatives, positives), abs=1e-10)
    quadrature = population.average_precision(negatives, positives, pi)
    assert closed["average_precision"] == pytest.approx(quadrature, abs=1e-10)
    quadrature = population.precision_at_recall(negatives, positives, pi, recall)
    assert closed["precision_at_recall"] == pytest.approx(quadrature, abs=1e-10)


@settings(deadline=None, max_examples=40)
@given(
    st.floats(1e-6, 100.0),
    st.floats(1e-6, 100.0),
    st.one_of(st.floats(1e-300, 0.5), st.floats(0.5, 1 - 2**-52)),
)
def test_beta_tails_invert_the_quantile_to_their_own_digits(a, b, u):
    """P(logit S >= z(u)) = 1 - u and, through the mirror law, P(logit S < z(u)) = u: the smaller of
    the two to 1e-9 of itself (or 1e-14: a shape of 1e-6 carries log(a B(a, b))'s rounding, divided
    by a, into the quantile). The tails come from the side of 0 or 1 that keeps their digits, and
    from the series' leading term where scipy's inverse strays or past float64's range (a = 1e-6
    puts most of the mass below 1e-300)."""
    law, mirror = BetaScores(a, b), BetaScores(b, a)
    z = law.logit_quantile(u)
    assert np.isfinite(z)
    if u >= 0.5:
        assert float(law.logit_at_least(z)) == pytest.approx(1 - u, rel=1e-9, abs=1e-14)
    else:
        assert float(mirror.logit_at_least(-z)) == pytest.approx(u, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("a, b, u", [(2.0, 4.0, 1e-300), (31.6, 0.316, 3.3e-298), (10.0, 0.0316, 1.3e-149)])
def test_beta_quantiles_where_scipys_inverse_strays(a, b, u):
    """scipy's betaincinv gives NaN, 7x and 4e17x too small an x here; the lower tail is 1e-300 and
    less, so only a relative check sees it."""
    z = BetaScores(a, b).logit_quantile(u)
    assert float(BetaScores(b, a).logit_at_least(-z)) == pytest.approx(u, rel=1e-9)


def test_beta_scores_closer_to_one_than_float64_keep_their_order():
    """Positives at acc 1 - 1e-9, concentration 0.5: q = 1 - S1 ~ Beta(5.7e-10, 0.5), all but 4e-7 of
    it below 1e-308, where every score is 1.0 in float64. Negatives at acc 0.3 have 0.24% of their mass
    within 1e-16 of 1, which would tie with those positives at 1.0 and cost roc_auc about 1.2e-3; in
    the population the positives are above nearly all of them: 1 - roc_auc is O(a1) = O(1e-9), and the
    values tend to those of the point mass at 1 (roc_auc = AP = 1)."""
    model = MODELS["beta-0.5"]
    near = population_ranking(model, acc_0s=0.3, acc_1s=1 - 1e-9, prevalence=0.1)
    nearer = population_ranking(model, acc_0s=0.3, acc_1s=1 - 1e-12, prevalence=0.1)
    assert 0 < 1 - near["roc_auc"] < 1e-8
    assert 0 < 1 - near["average_precision"] < 1e-7
    # first order in a1: both gaps shrink by the same factor as a1
    a_near, a_nearer = distance_shapes(1 - 1e-9, 0.5)[0], distance_shapes(1 - 1e-12, 0.5)[0]
    ratio = (1 - nearer["roc_auc"]) / (1 - near["roc_auc"])
    assert ratio == pytest.approx(a_nearer / a_near, rel=1e-3)


# --- large sampled cells, scored by scikit-learn --------------------------------------------------------

SAMPLED_CASES = [
    (UNIFORM, 0.3, 0.8, 0.2),  # the negatives mostly wrong
    (MODELS["beta-2"], 0.85, 0.7, 0.1),
    (MODELS["beta-50"], 0.6, 0.9, 0.4),
]


def sampled_values(model, acc_0s, acc_1s, pi, *, count, recall, seed):
    """The metrics of ``count`` drawn scores per class, each class weighted to its prevalence."""
    rng = np.random.default_rng(seed)
    scores = np.concatenate(
        [
            np.concatenate([chunk.copy() for chunk in model.class_scores(rng, count, label, acc, 1 << 20)])
            for label, acc in ((0, acc_0s), (1, acc_1s))
        ]
    )
    labels = np.repeat([0, 1], count)
    weights = np.repeat([(1 - pi) / count, pi / count], count)
    precision, recalls, _ = precision_recall_curve(labels, scores, sample_weight=weights)
    bins = np.searchsorted(np.linspace(0.0, 1.0, 16)[1:-1], scores)  # calibration_curve's rule
    positive = np.bincount(bins, weights=weights * labels, minlength=15)
    score_sum = np.bincount(bins, weights=weights * scores, minlength=15)
    return {
        "roc_auc": roc_auc_score(labels, scores),
        "average_precision": average_precision_score(labels, scores, sample_weight=weights),
        "precision_at_recall": precision[recalls >= recall].max(),
        "ece": float(np.sum(np.abs(positive - score_sum))),  # sum of P(bin) |P(y=1|bin) - E[S|bin]|
    }


@pytest.mark.slow  # 2e6 scores per class and scikit-learn on them: about 4 s a case
@pytest.mark.parametrize("model, acc_0s, acc_1s, pi", SAMPLED_CASES, ids=["uniform", "beta-2", "beta-50"])
def test_large_sampled_cells_agree(model, acc_0s, acc_1s, pi):
    """2e6 scores per class (float32, as a cell draws them). The standard errors of these estimates are
    at most 8e-4 here (average precision at pi = 0.1; the spread of 10 cells of 2e5 per class over
    sqrt(10)), the others 1e-4 to 3e-4; the differences seen were under 6.1e-4. 3e-3 is about 4 of
    the largest standard error."""
    sampled = sampled_values(model, acc_0s, acc_1s, pi, count=2_000_000, recall=0.9, seed=20240607)
    exact = population_ranking(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi, recall=0.9)
    exact["ece"] = population_ece(model, acc_0s=acc_0s, acc_1s=acc_1s, prevalence=pi)
    assert sampled == pytest.approx(exact, abs=3e-3)
