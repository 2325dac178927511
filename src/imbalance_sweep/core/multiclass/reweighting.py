"""A labelled K-class validation set re-weighted exactly to another class prior.

A validation set's class balance need not be the one its model will meet (long-tailed data is
often validated on a balanced set). Re-weighted to a prior pi, the values here are those of an
infinitely large set drawn from this one with class shares pi: each row of class k weighs
``pi_k N / n_k`` (N rows, n_k of class k), so the weights sum to N and counts and sums keep this
set's scale. No sampling: every value is a function of the set and pi.

* Losses: each K-class loss is a weighted mean of per-sample terms, so at pi it is
  ``sum_k w_k pi_k S_k / n_k`` (S_k the sum of class k's terms, w_k the loss's class weight): the
  first step's terms (``losses.sample_terms``) summed exactly (``ExactSums``), rounded once.
* Confusion metrics: the confusion counts with row k times ``pi_k N / n_k`` (float counts, the
  formulas of ``confusion.float_confusion_metrics``); bands: each class's recall does not move with
  its weight, so ``confusion.band_recalls`` of the classes with pi_k > 0.
* Log loss and top-k accuracy: each class's mean, weighted by pi (exact sums, rounded once).
* ROC AUC: a pair of rows of classes j and k weighs ``w_j w_k`` (from ``ranking.lower_pair_counts``):
  one-vs-one AUC does not move with pi (a class with pi = 0 drops out), one-vs-rest does (its
  negatives are a mix of classes).
* ECE (top-label, per class, class-wise): the calibration bins of ``calibration.bins_of`` with
  weighted counts and score sums (float64 sums, not exact).

A prior within a few roundings of the set's own shares n_k / N is taken as those shares: every
weight is then exactly 1, and the counts-based metrics are those of the set bit for bit (the others
equal the unweighted ones to float64 rounding). A prior is checked as ``prior_paths.prior`` checks
one (numbers >= 0 summing to 1 within 1e-6, then divided by their sum), and a class with pi_k > 0
must have rows (one line otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, names_from
from ..vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME, class_key, loss_key
from .calibration import bins_of
from .confusion import (
    band_recalls,
    confusion_counts,
    confusion_metrics,
    float_confusion_metrics,
    predicted_classes,
)
from .exact_sums import ExactSums, rounded
from .labelled import Labels, Scores, labelled_class_scores, per_class
from .loss_settings import of_the_training_prior, prior_counts_of
from .losses import MulticlassLosses, class_weights, multiclass_losses, sample_terms
from .metrics import (
    DEFAULT_MULTICLASS,
    MulticlassSettings,
    multiclass_metrics,
    top_k_hits,
    true_class_log_losses,
)
from .prior_paths import prior as checked_prior
from .ranking import lower_pair_counts

OWN_SHARES_ULPS = 4  # a prior this close (relative, in float64 eps) to n_k / N is the set's own


@dataclass(frozen=True)
class Reweighting:
    """The set's class counts and a prior's exact shares: row k weighs ``share_k N / n_k``."""

    rows: tuple[int, ...]  # n_k
    shares: tuple[Fraction, ...]  # pi_k, exact (n_k / N itself for the set's own shares)

    @property
    def total(self) -> int:
        return sum(self.rows)

    @property
    def unit(self) -> bool:
        """Every weight is exactly 1: the prior is the set's own shares."""
        return all(share * self.total == rows for share, rows in zip(self.shares, self.rows, strict=True))

    def weights(self) -> NDArray[np.float64]:
        """Each class's row weight, pi_k N / n_k (0 where pi_k = 0)."""
        return np.array(
            [
                float(share * self.total / rows) if share else 0.0
                for share, rows in zip(self.shares, self.rows, strict=True)
            ]
        )

    def mean(self, class_sums: list[Fraction | float]) -> float:
        """The weighted mean over rows of values whose sum over class k's rows is ``class_sums[k]``:
        ``sum_k pi_k S_k / n_k``, exact and rounded once (float where a sum is inf or nan)."""
        parts = [
            (share, total, rows)
            for share, total, rows in zip(self.shares, class_sums, self.rows, strict=True)
            if share
        ]
        if any(isinstance(total, float) for _, total, _ in parts):
            return sum(float(share) * float(total) / rows for share, total, rows in parts)
        exact = sum((share * Fraction(total) / rows for share, total, rows in parts), Fraction(0))
        return rounded(exact)


def reweighting(labels: Labels, classes: int, prior: Any, *, name: str = "prior") -> Reweighting:
    """The re-weighting of checked ``labels`` of ``classes`` classes to ``prior`` (K numbers >= 0
    summing to 1), refused in one line where pi_k > 0 and class k has no rows."""
    values = checked_prior(name, prior, classes)
    rows = np.bincount(labels, minlength=classes).tolist()
    total = sum(rows)
    own = np.array(rows, dtype=np.float64) / total
    eps = float(np.finfo(np.float64).eps)
    if np.all(np.abs(values - own) <= OWN_SHARES_ULPS * eps * own):
        return Reweighting(tuple(rows), tuple(Fraction(count, total) for count in rows))
    for label, (share, count) in enumerate(zip(values.tolist(), rows, strict=True)):
        if share > 0 and count == 0:
            raise InvalidValue(
                f"{name}[{label}]={share:.6g} is a share of class {label}, which has no rows in the set; "
                "allowed: 0 for a class without rows"
            )
    return Reweighting(tuple(rows), tuple(Fraction(share) for share in values.tolist()))


def reweighted_losses(
    labels: Any, scores: Any, prior: Any, losses: Any = None, **settings: Any
) -> dict[str, float]:
    """The K-class losses (by name) of ``labels`` (n,) and ``scores`` (n, K) re-weighted to
    ``prior``; ``losses`` names them (None: every one), ``settings`` as ``multiclass_losses``'s."""
    checked_labels, checked_scores = labelled_class_scores(labels, scores)
    classes = checked_scores.shape[1]
    weighting = reweighting(checked_labels, classes, prior)
    chosen = MulticlassLosses(classes, MULTICLASS_LOSS_NAMES if losses is None else losses, **settings)
    class_sums: dict[str, list[Fraction | float]] = {}
    for term, terms in sample_terms(checked_labels, checked_scores, chosen.losses, **settings).items():
        exact = ExactSums(classes)
        exact.add(checked_labels, terms)
        class_sums[term] = exact.exact_totals()
    values = {}
    for name in chosen.losses:
        weights = class_weights(name, chosen.tables).tolist()
        sums = class_sums[MULTICLASS_LOSSES_BY_NAME[name].term]
        values[name] = weighting.mean(
            [_times(weight, total) for weight, total in zip(weights, sums, strict=True)]
        )
    return values


def _times(weight: float, total: Fraction | float) -> Fraction | float:
    """A class's term sum times its weight, exact where the sum is."""
    return weight * total if isinstance(total, float) else Fraction(weight) * total


def reweighted_metrics(
    labels: Any,
    scores: Any,
    prior: Any,
    *,
    training_counts: Any = None,
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
) -> dict[str, float]:
    """Every K-class metric of ``multiclass_metrics`` (the same keys) re-weighted to ``prior``;
    bands where ``training_counts`` are given."""
    checked_labels, checked_scores = labelled_class_scores(labels, scores)
    classes = checked_scores.shape[1]
    weighting = reweighting(checked_labels, classes, prior)
    predicted = predicted_classes(checked_scores)
    confusion = confusion_counts(checked_labels, predicted, classes)
    values = _confusion_values(confusion, weighting)
    in_classes = [np.flatnonzero(checked_labels == label) for label in range(classes)]
    hits = [
        top_k_hits(checked_labels[rows], checked_scores[rows], predicted[rows], settings.top_k)
        for rows in in_classes
    ]
    values["top_k_accuracy"] = weighting.mean([Fraction(count) for count in hits])
    log_losses = ExactSums(classes)
    log_losses.add(checked_labels, true_class_log_losses(checked_labels, checked_scores))
    values["log_loss"] = weighting.mean(log_losses.exact_totals())
    values |= _calibration_values(checked_labels, checked_scores, predicted, weighting, settings.ece_bins)
    if training_counts is not None:
        counts = per_class("training_counts", training_counts, classes, positive=False)
        present = np.array([share > 0 for share in weighting.shares])
        values |= band_recalls(
            confusion * present[:, None],
            counts,
            many_above=settings.many_above,
            few_below=settings.few_below,
        )
    return values | _ranking_values(checked_labels, checked_scores, weighting)


def _confusion_values(confusion: NDArray[np.int64], weighting: Reweighting) -> dict[str, float]:
    """The confusion metrics of the weighted counts (the integer ones where every weight is 1)."""
    if weighting.unit:
        return confusion_metrics(confusion)
    weighted = confusion * weighting.weights()[:, None]
    rows = np.array([float(share * weighting.total) for share in weighting.shares])
    metrics = float_confusion_metrics(np.diag(weighted).copy(), rows, weighted.sum(axis=0))
    return {key: float(value) for key, value in metrics.items()}


def _calibration_values(
    labels: Labels, scores: Scores, predicted: Labels, weighting: Reweighting, bins: int
) -> dict[str, float]:
    """Top-label, per-class and class-wise ECE, each row counted with its class's weight."""
    classes = scores.shape[1]
    row_weights = weighting.weights()[labels]
    rows = np.arange(labels.size)
    confidence = scores[rows, predicted]
    confidence_bin = bins_of(confidence, bins)
    correct = np.bincount(confidence_bin, weights=row_weights * (predicted == labels), minlength=bins)
    confident = np.bincount(confidence_bin, weights=row_weights * confidence, minlength=bins)
    total = float(weighting.total)
    values = {"ece_top_label": float(np.abs(correct - confident).sum() / total)}
    class_bin = bins_of(scores, bins) + np.arange(classes, dtype=np.intp) * bins  # class k: k*bins + b
    in_class = np.bincount(class_bin[rows, labels], weights=row_weights, minlength=classes * bins)
    score_sums = np.bincount(
        class_bin.ravel(), weights=(scores * row_weights[:, None]).ravel(), minlength=classes * bins
    )
    per_class_ece = np.abs(in_class - score_sums).reshape(classes, bins).sum(axis=1) / total
    values["ece_classwise"] = float(per_class_ece.mean())
    for label, value in enumerate(per_class_ece.tolist()):
        values[class_key("ece", label, classes)] = value
    return values


def _ranking_values(labels: Labels, scores: Scores, weighting: Reweighting) -> dict[str, float]:
    """OvR (macro and weighted) and OvO ROC AUC with a pair of rows of classes j, k weighing
    w_j w_k; classes with pi = 0 left out as ``ranking`` leaves out classes without rows."""
    twice_lower = lower_pair_counts(labels, scores)
    weights = weighting.weights()
    shares = np.array([float(share) for share in weighting.shares])
    rows = np.array(weighting.rows, dtype=np.float64)
    ovr, ovr_weights = [], []
    for j in np.flatnonzero((shares > 0) & (shares < 1)).tolist():
        others = np.arange(shares.size) != j
        lower = weights[j] * float((weights[others] * twice_lower[j, others]).sum())
        pairs = 2.0 * (weights[j] * rows[j]) * float((weights[others] * rows[others]).sum())
        ovr.append(1.0 - lower / pairs)
        ovr_weights.append(shares[j])
    ovo = []
    kept = np.flatnonzero(shares > 0).tolist()
    for position, j in enumerate(kept):
        for k in kept[position + 1 :]:
            pairs = 2.0 * rows[j] * rows[k]
            ovo.append(((1.0 - twice_lower[j, k] / pairs) + (1.0 - twice_lower[k, j] / pairs)) / 2.0)
    return {
        "roc_auc_ovr": float(np.mean(ovr)) if ovr else 0.0,
        "roc_auc_ovr_weighted": float(np.average(ovr, weights=ovr_weights)) if ovr else 0.0,
        "roc_auc_ovo": float(np.mean(ovo)) if ovo else 0.0,
    }


def reweighted_values(
    labels: Any,
    scores: Any,
    prior: Any,
    *,
    losses: Any = None,
    training_counts: Any = None,
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
    **loss_settings: Any,
) -> dict[str, float]:
    """Losses (``loss/<name>``) and metrics re-weighted to ``prior``, keys as a K-class cell logs
    them; ``training_counts`` feed the training-prior losses and the bands."""
    names = MULTICLASS_LOSS_NAMES if losses is None else names_from("losses", losses, MULTICLASS_LOSS_NAMES)
    prior_counts = prior_counts_of(names, training_counts)
    values = {
        loss_key(name): value
        for name, value in reweighted_losses(
            labels, scores, prior, names, training_counts=prior_counts, **loss_settings
        ).items()
    }
    return values | reweighted_metrics(
        labels, scores, prior, training_counts=training_counts, settings=settings
    )


def class_validation_values(
    labels: Any,
    scores: Any,
    priors: Mapping[str, Any],
    *,
    losses: Any = None,
    training_counts: Any = None,
    settings: MulticlassSettings = DEFAULT_MULTICLASS,
    **loss_settings: Any,
) -> dict[str | None, dict[str, float]]:
    """``{None: the set as it is, name: re-weighted to priors[name] for each}``, each every loss
    (``loss/<name>``) and metric. ``training_counts`` default to the set's own class counts (the
    K-class cell's default); ``losses=None``: every loss that applies (``evaluation``)."""
    checked_labels, checked_scores = labelled_class_scores(labels, scores)
    classes = checked_scores.shape[1]
    counts = (
        tuple(np.bincount(checked_labels, minlength=classes).tolist())
        if training_counts is None
        else tuple(per_class("training_counts", training_counts, classes, positive=False).tolist())
    )
    names = losses
    if losses is None:  # every loss that applies: those of the training prior need counts > 0
        left_out = [] if min(counts) > 0 else of_the_training_prior(MULTICLASS_LOSS_NAMES)
        names = [name for name in MULTICLASS_LOSS_NAMES if name not in left_out]
    prior_counts = prior_counts_of(names_from("losses", names, MULTICLASS_LOSS_NAMES), counts)
    as_is = {
        loss_key(name): value
        for name, value in multiclass_losses(
            checked_labels, checked_scores, names, training_counts=prior_counts, **loss_settings
        ).items()
    }
    as_is |= multiclass_metrics(
        checked_labels,
        checked_scores,
        top_k=settings.top_k,
        ece_bins=settings.ece_bins,
        many_above=settings.many_above,
        few_below=settings.few_below,
    )
    confusion = confusion_counts(checked_labels, predicted_classes(checked_scores), classes)
    as_is |= band_recalls(
        confusion,
        np.array(counts, dtype=np.float64),
        many_above=settings.many_above,
        few_below=settings.few_below,
    )
    values: dict[str | None, dict[str, float]] = {None: as_is}
    for name, prior in priors.items():
        values[name] = reweighted_values(
            checked_labels,
            checked_scores,
            prior,
            losses=names,
            training_counts=counts,
            settings=settings,
            **loss_settings,
        )
    return values
