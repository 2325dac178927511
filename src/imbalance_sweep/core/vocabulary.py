"""The losses and metrics, each declared once: every table of names the project reads is derived
from :data:`LOSSES` and :data:`METRICS` here, so adding one touches this file, its computation and
its tests (docs/development/adding.md).

Why one place: the names, which way is better, which metrics can choose a threshold, which a report
holds the losses against, how each one's preference between two models moves with the prevalence,
and the labels of the figures were once eight hand-written tables that had to agree.

Declaration order is the order runs, tables and messages list them. Where a list has an order of its
own (the ``best:`` choices, the selection criteria, the references, the answer's metrics), an entry
gives its place in it (1 first); None: not in that list.

How a value re-weights with the prevalence pi (the flip points, a validation set re-weighted): a
loss's per-sample mean is ``(1 - pi) m0 + pi m1`` of its per-class means (``reduction="mean"``), N
times that for a sum, and the plain average of the two for ``class_mean`` (the same at every pi). A
metric of the counts (kinds ``count``, ``rate``, ``ratio``) is the metric of the expected confusion
fractions ``tp = pi a1``, ``tn = (1 - pi) a0``; a ``ranking`` or ``calibration`` metric is the score
model's population value at pi; a ``skill`` score is ``1 - loss / loss of predicting pi``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

Term = Literal["bce", "focal", "focal_balanced", "sq"]  # the per-sample terms (core.losses)
Reduction = Literal["mean", "sum", "class_mean"]
# count: tp, fp, tn, fn; rate: of the counts, in [0, 1] (MCC in [-1, 1]); ratio: the likelihood
# ratios, unbounded; ranking: of the scores at no threshold; skill: of a loss; calibration: the ECE
Kind = Literal["count", "rate", "ratio", "ranking", "skill", "calibration"]
# How the prevalence at which two models swap places is found (analysis.preference):
# polynomial: the roots of its closed form (``metric_polynomial``); prevalence_free: the same
# preference at every prevalence (``never_flips`` says why); as_loss: where its loss (``skill_of``)
# flips; scan: no closed form, a scan's changes of sign.
Flip = Literal["polynomial", "prevalence_free", "as_loss", "scan"]

LOSS_PREFIX = "loss/"


def loss_key(name: str) -> str:
    """The MLflow metric key a loss is logged under: ``loss/<name>``."""
    return LOSS_PREFIX + name


def is_loss_key(key: str) -> bool:
    return key.startswith(LOSS_PREFIX)


def loss_name(key: str) -> str:
    """The loss a ``loss/<name>`` key is of."""
    return key.removeprefix(LOSS_PREFIX)


@dataclass(frozen=True, kw_only=True)
class Loss:
    """A loss: a reduction of one per-sample term summed over each class. Lower is better."""

    name: str
    term: Term  # what the backends sum and each score model gives the exact moments of
    reduction: Reduction


@dataclass(frozen=True, kw_only=True)
class Metric:
    """A metric, what it is of, which way is better and the lists it takes part in."""

    name: str
    label: str  # the readable name figures show
    kind: Kind
    lower_is_better: bool = False
    flip: Flip | None = None  # None: not compared across prevalence (the counts)
    never_flips: str | None = None  # why, for a prevalence-free metric: the flip command prints it
    skill_of: str | None = None  # the loss a skill score rescales
    reference: int | None = None  # place among the metrics every sweep's report holds losses against
    reference_if_stored: bool = False  # held against too where every cell has it (older stores lack it)
    best: int | None = None  # place among the best:<metric> thresholds
    criterion: int | None = None  # place among the metrics an epoch is selected by (after the losses)
    answer: int | None = None  # place among the metrics a sweep's answer holds against recall
    answer_flip: bool = False  # a two-model sweep's answer reports where it flips
    flip_default: int | None = None  # place among what the flip command reports unless told (conf/flip.yaml)
    headline: bool = False  # a column of a sweep's cells, printed and in the UI

    @property
    def of_counts(self) -> bool:
        """A function of the confusion counts alone: it moves with the threshold."""
        return self.kind in ("count", "rate", "ratio")

    @property
    def of_score_law(self) -> bool:
        """Its population value comes from the score model's laws (``ScoreModel.score_metrics``)."""
        return self.kind in ("ranking", "calibration")


LOSSES = (
    Loss(name="bce", term="bce", reduction="mean"),
    Loss(name="focal_tfa", term="focal_balanced", reduction="sum"),
    Loss(name="focal_balanced", term="focal_balanced", reduction="mean"),
    Loss(name="focal", term="focal", reduction="mean"),
    Loss(name="balanced_bce", term="bce", reduction="class_mean"),
    Loss(name="brier", term="sq", reduction="mean"),
)

RATIOS_FREE = "likelihood ratios do not depend on prevalence"
METRICS = (
    Metric(name="tp", label="tp", kind="count"),
    Metric(name="fp", label="fp", kind="count", lower_is_better=True),
    Metric(name="tn", label="tn", kind="count"),
    Metric(name="fn", label="fn", kind="count", lower_is_better=True),
    Metric(
        name="precision",
        label="precision",
        kind="rate",
        flip="polynomial",
        criterion=4,
        answer=2,
        flip_default=4,
    ),
    Metric(
        name="recall",
        label="recall",
        kind="rate",
        flip="polynomial",
        reference=2,
        criterion=3,
        headline=True,
        flip_default=2,
    ),
    Metric(
        name="f1",
        label="F1",
        kind="rate",
        flip="polynomial",
        reference=1,
        best=1,
        criterion=1,
        answer=1,
        answer_flip=True,
        headline=True,
        flip_default=1,
    ),
    Metric(name="accuracy", label="accuracy", kind="rate", flip="polynomial", criterion=7, answer=3),
    Metric(
        name="balanced_accuracy",
        label="balanced accuracy",
        kind="rate",
        flip="polynomial",
        reference=3,
        best=3,
        criterion=6,
        answer=4,
        flip_default=3,
    ),
    Metric(name="specificity", label="specificity", kind="rate", flip="polynomial"),
    Metric(
        name="mcc",
        label="MCC",
        kind="rate",
        flip="polynomial",
        best=4,
        criterion=5,
        answer=5,
        answer_flip=True,
        flip_default=5,
    ),
    Metric(
        name="fbeta",
        label="F-beta",
        kind="rate",
        flip="polynomial",
        reference_if_stored=True,
        best=2,
        criterion=2,
        answer=6,
        answer_flip=True,
        flip_default=6,
    ),
    # Not references: their 0.0 where a denominator is zero (lr_plus at acc_0s = 1, lr_minus at
    # acc_0s = 0) puts the best or the worst model at the wrong end.
    Metric(
        name="lr_plus",
        label="lr_plus",
        kind="ratio",
        flip="prevalence_free",
        never_flips=RATIOS_FREE,
        flip_default=7,
    ),
    Metric(
        name="lr_minus",
        label="lr_minus",
        kind="ratio",
        lower_is_better=True,
        flip="prevalence_free",
        never_flips=RATIOS_FREE,
        flip_default=8,
    ),
    Metric(
        name="roc_auc",
        label="ROC AUC",
        kind="ranking",
        flip="prevalence_free",
        never_flips="ROC AUC does not depend on prevalence",
        reference_if_stored=True,
        criterion=9,
        answer=7,
        flip_default=9,
    ),
    Metric(
        name="average_precision",
        label="average precision",
        kind="ranking",
        flip="scan",
        reference_if_stored=True,
        criterion=8,
        answer=8,
        flip_default=10,
    ),
    Metric(
        name="precision_at_recall",
        label="precision at recall",
        kind="ranking",
        flip="prevalence_free",
        never_flips="the best threshold at a recall is the same at every prevalence",
        reference_if_stored=True,
        criterion=10,
        flip_default=11,
    ),
    # Not references: BCE and the Brier score rescaled at a balance, they rank as those losses do.
    Metric(
        name="log_loss_skill",
        label="log_loss_skill",
        kind="skill",
        flip="as_loss",
        skill_of="bce",
        criterion=11,
        flip_default=12,
    ),
    Metric(
        name="brier_skill",
        label="brier_skill",
        kind="skill",
        flip="as_loss",
        skill_of="brier",
        criterion=12,
        flip_default=13,
    ),
    Metric(
        name="ece",
        label="ECE",
        kind="calibration",
        lower_is_better=True,
        flip="scan",
        reference_if_stored=True,
        criterion=13,
        answer=9,
        flip_default=14,
    ),
)

LOSS_NAMES = tuple(loss.name for loss in LOSSES)
METRIC_NAMES = tuple(metric.name for metric in METRICS)
METRICS_BY_NAME = {metric.name: metric for metric in METRICS}


def metric_names(include: Callable[[Metric], bool]) -> tuple[str, ...]:
    """The names of the metrics ``include`` accepts, in declaration order."""
    return tuple(metric.name for metric in METRICS if include(metric))


def ranked_names(place: Callable[[Metric], int | None]) -> tuple[str, ...]:
    """The names of the metrics ``place`` gives a place to, in the order of their places."""
    placed = [(rank, metric.name) for metric in METRICS if (rank := place(metric)) is not None]
    return tuple(name for _, name in sorted(placed))


def loss_keys(names: Iterable[str] = LOSS_NAMES) -> tuple[str, ...]:
    """``loss/<name>`` of each loss of ``names``."""
    return tuple(loss_key(name) for name in names)


# Which way is better: lower for every loss and for the metrics that count mistakes (fp, fn), give
# the odds of a positive after a negative call (lr_minus) or measure the calibration error; higher
# for every other metric. Whatever ranks models asks ``metrics.lower_is_better``.
LOWER_IS_BETTER = frozenset(metric_names(lambda metric: metric.lower_is_better))
# The losses the skill scores are of: every cell computes them, whatever its own losses
SKILL_LOSSES = tuple(metric.skill_of for metric in METRICS if metric.skill_of is not None)


# K classes: losses
# The K-class losses of issue 26 (core.multiclass.losses), kept apart from LOSSES above, which drive
# the binary outputs. Each is the mean over the samples of a per-sample term, each class's sum of it
# weighted (alpha: the focal loss's per-class alpha; effective_number: Cui et al.'s class-balanced
# weights). kind: "scores" needs the scores alone, "training_prior" the training class counts too.
MulticlassLossTerm = Literal["ce", "focal", "brier", "logit_adjusted", "balanced_softmax", "ldam"]
MulticlassLossKind = Literal["scores", "training_prior"]
ClassWeighting = Literal["none", "alpha", "effective_number"]


@dataclass(frozen=True, kw_only=True)
class MulticlassLoss:
    """A K-class loss: a per-sample term, its per-class weights and which way is better (lower)."""

    name: str
    label: str  # the readable name figures show
    kind: MulticlassLossKind
    term: MulticlassLossTerm
    weighting: ClassWeighting = "none"
    lower_is_better: bool = True


MULTICLASS_LOSSES = (
    MulticlassLoss(name="cce", label="categorical cross-entropy", kind="scores", term="ce"),
    MulticlassLoss(
        name="categorical_focal", label="categorical focal", kind="scores", term="focal", weighting="alpha"
    ),
    MulticlassLoss(
        name="class_balanced",
        label="class-balanced cross-entropy",
        kind="training_prior",
        term="ce",
        weighting="effective_number",
    ),
    MulticlassLoss(
        name="logit_adjusted",
        label="logit-adjusted cross-entropy",
        kind="training_prior",
        term="logit_adjusted",
    ),
    MulticlassLoss(
        name="balanced_softmax", label="balanced softmax", kind="training_prior", term="balanced_softmax"
    ),
    MulticlassLoss(name="ldam", label="LDAM", kind="training_prior", term="ldam"),
    MulticlassLoss(name="multiclass_brier", label="multi-class Brier", kind="scores", term="brier"),
)
MULTICLASS_LOSS_NAMES = tuple(loss.name for loss in MULTICLASS_LOSSES)
MULTICLASS_LOSSES_BY_NAME = {loss.name: loss for loss in MULTICLASS_LOSSES}


# K classes: metrics
# The metrics of K-class labels and scores (core.multiclass, issue 26), declared apart from the binary
# METRICS above, which drive every binary output. kind: confusion, of the K x K confusion counts at the
# argmax; top_k, whether the true class is among the k highest scores; ranking, threshold-free, of all
# scores at once (sorted); scoring, of the score given to the true class; calibration, of equal-width
# bins of the scores.
MulticlassKind = Literal["confusion", "top_k", "ranking", "scoring", "calibration"]


@dataclass(frozen=True, kw_only=True)
class MulticlassMetric:
    """A K-class metric: its name, the label figures show, what it is of, which way is better."""

    name: str
    label: str
    kind: MulticlassKind
    lower_is_better: bool = False

    @property
    def of_all_scores(self) -> bool:
        """It needs every score of a set at once (a sort), not chunk by chunk in flat memory."""
        return self.kind == "ranking"


MULTICLASS_METRICS = (
    MulticlassMetric(name="accuracy", label="accuracy", kind="confusion"),
    MulticlassMetric(name="balanced_accuracy", label="balanced accuracy", kind="confusion"),
    MulticlassMetric(name="precision_macro", label="macro precision", kind="confusion"),
    MulticlassMetric(name="recall_macro", label="macro recall", kind="confusion"),
    MulticlassMetric(name="f1_macro", label="macro F1", kind="confusion"),
    MulticlassMetric(name="precision_weighted", label="weighted precision", kind="confusion"),
    MulticlassMetric(name="recall_weighted", label="weighted recall", kind="confusion"),
    MulticlassMetric(name="f1_weighted", label="weighted F1", kind="confusion"),
    MulticlassMetric(name="precision_micro", label="micro precision", kind="confusion"),
    MulticlassMetric(name="recall_micro", label="micro recall", kind="confusion"),
    MulticlassMetric(name="f1_micro", label="micro F1", kind="confusion"),
    MulticlassMetric(name="mcc", label="MCC (R_K)", kind="confusion"),
    MulticlassMetric(name="cohen_kappa", label="Cohen's kappa", kind="confusion"),
    MulticlassMetric(name="top_k_accuracy", label="top-k accuracy", kind="top_k"),
    MulticlassMetric(name="roc_auc_ovr", label="ROC AUC (one-vs-rest, macro)", kind="ranking"),
    MulticlassMetric(name="roc_auc_ovr_weighted", label="ROC AUC (one-vs-rest, weighted)", kind="ranking"),
    MulticlassMetric(name="roc_auc_ovo", label="ROC AUC (one-vs-one, macro)", kind="ranking"),
    MulticlassMetric(name="log_loss", label="log loss", kind="scoring", lower_is_better=True),
    MulticlassMetric(name="ece_top_label", label="top-label ECE", kind="calibration", lower_is_better=True),
    MulticlassMetric(name="ece_classwise", label="class-wise ECE", kind="calibration", lower_is_better=True),
)
MULTICLASS_METRIC_NAMES = tuple(metric.name for metric in MULTICLASS_METRICS)
MULTICLASS_METRICS_BY_NAME = {metric.name: metric for metric in MULTICLASS_METRICS}

# Per class: each class's value under ``<name>/class_<k>`` (class_key); ece is that class's
# calibration error, whose mean over the classes is ece_classwise.
PER_CLASS_METRICS = (
    MulticlassMetric(name="precision", label="precision", kind="confusion"),
    MulticlassMetric(name="recall", label="recall", kind="confusion"),
    MulticlassMetric(name="f1", label="F1", kind="confusion"),
    MulticlassMetric(name="ece", label="class ECE", kind="calibration", lower_is_better=True),
)
PER_CLASS_METRIC_NAMES = tuple(metric.name for metric in PER_CLASS_METRICS)

# Per frequency band of the training counts, as long-tail papers report (ImageNet-LT, Liu et al.
# 2019): the mean recall of the band's classes, under ``recall/<band>`` (band_key). The cut-offs are
# settings (core.multiclass.metrics): many > 100 training samples, medium 20 to 100, few < 20.
BANDS = ("many", "medium", "few")
BAND_LABELS = {"many": "Many-shot", "medium": "Medium-shot", "few": "Few-shot"}
BAND_METRIC = "recall"


def class_key(name: str, label: int, classes: int) -> str:
    """``<name>/class_<label>``, the label zero-padded to 3 digits (more where K > 1000), so the
    keys of one K sort as the classes do."""
    return f"{name}/class_{label:0{max(3, len(str(classes - 1)))}d}"


def band_key(band: str) -> str:
    """``recall/<band>``: the mean recall of a frequency band's classes."""
    return f"{BAND_METRIC}/{band}"
