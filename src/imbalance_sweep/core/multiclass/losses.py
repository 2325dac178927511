"""The K-class losses of a validation set, accumulated chunk by chunk in flat memory, equal bit for bit
however the samples are split into chunks.

Each loss is a mean over the N samples of a per-sample term, each class's sum of it weighted by w_y
(1 unless said), as Keras reports a mean (``sum_over_batch_size``, sample weights included). With
p the scores (rows summing to 1), y the label, c = clip(p) to [1e-7, 1 - 1e-7] in float32 as Keras
clips (``core.clipping``) and pi = n / sum(n) the prior of the training counts n:

================== ================================================= =============================
loss               term                                              w_y
================== ================================================= =============================
``cce``            -log c_y                                          1
``categorical_     (1 - c_y)**gamma * -log c_y                       alpha_y (Keras 3
focal``                                                              ``CategoricalFocalCrossentropy``:
                                                                     alpha 0.25, gamma 2; alpha a
                                                                     number or one per class)
``class_balanced`` -log c_y                                          (1 - beta) / (1 - beta**n_y),
                                                                     scaled to sum to K (Cui et al.
                                                                     2019; beta 0.9999)
``logit_adjusted`` CE of softmax(log c + tau log pi)                 1 (Menon et al. 2021; tau 1)
``balanced_        CE of softmax(log c + log pi)                     1 (Ren et al. 2020: the logit
softmax``                                                            adjustment at tau = 1)
``ldam``           CE of softmax(s (log c - Delta_y [k = y]))        1 (Cao et al. 2019)
``multiclass_      sum_k (p_k - [k = y])**2                          1
brier``
================== ================================================= =============================

Choices the papers and Keras leave open, made here:

* Logits from probabilities: the logit adjustment, balanced softmax and LDAM are defined on a
  network's logits; from probability scores the logits are taken as log c (c clipped as above, so
  that a score of 0 has a finite logit). Softmax of log c is c renormalised, so at tau = 0 the
  logit-adjusted loss is the cross-entropy of the renormalised scores: cce within the row-sum
  tolerance (``labelled``).
* LDAM: margins Delta_y = max_margin * (n_min / n_y)**(1/4), C / n_y**(1/4) with the largest
  margin (the rarest class's) a setting, 0.5 as in the paper's code (``max_m``); the margin is taken
  off the true class's logit and the result scaled by s, as that code does. Its default s = 30 is
  for cosine logits in [-1, 1]; on log c the default here is s = 1, where LDAM at margin 0 is the
  cross-entropy of the renormalised scores as above.
* Class-balanced: the weights multiply the softmax cross-entropy, and the mean divides by N (not by
  the sum of the weights), as Keras's sample weights and the paper's code do; with every class
  seen equally often the weights are about 1, so the loss stays on the scale of cce.
* Multi-class Brier: the sum over the K classes (Brier's original score, in [0, 2]), not their mean
  (Keras's ``MeanSquaredError`` on one-hot labels, in [0, 2/K]). Computed on the scores unclipped.
* No renormalisation: Keras divides the scores by their row sum before clipping, these losses take
  them as given (rows are checked to sum to 1 within 1e-4), so that with K = 2 a binary score p and
  the row (1 - p, p) give the same terms.
* Precision: terms in float32 (as Keras); their sums exact (``exact_sums``) and each loss the exact
  weighted sum over N rounded once, so the value does not depend on the chunking.

With K = 2 and rows (1 - p, p) against the binary core (``core.losses``): the cce term equals the
bce term bit for bit for p in [1e-7, 1 - 1e-7]; outside, the binary core clips p and then takes
1 - clip(p) (down to 2**-23), this clips 1 - p (down to 1e-7). The focal term equals the binary
``focal`` term where 1 - (1 - p) is p in float32 (the binary core weighs a negative by p, this by
one minus its own class's score); alpha = (1 - a, a) gives the binary ``focal_balanced`` weights,
alpha = 1 the unweighted ``focal``. The Brier term is twice the binary ``brier`` term (the sum over
both classes). The means agree to float64 rounding (the binary core sums in float64, not exactly).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..checks import InvalidValue, names_from
from ..vocabulary import MULTICLASS_LOSS_NAMES, MULTICLASS_LOSSES_BY_NAME
from .exact_sums import ExactSums, one_group_if_so
from .labelled import (
    LOSSES_ROW_SUM_TOLERANCE,
    check_probabilities,
    check_row_sums,
    checked_classes,
    class_labels,
    class_scores,
)
from .loss_settings import ClassTables, class_tables
from .loss_terms import per_sample_terms, row_sums, same_terms

# Scores are worked through in blocks of about this many values (1 MB of float32), or of
# MIN_BLOCK_SAMPLES samples where K is large (fewer numpy calls a sample).
BLOCK_VALUES = 1 << 18
MIN_BLOCK_SAMPLES = 1 << 12


class MulticlassLosses:
    """The K-class losses of labelled scores given chunk by chunk: ``add(labels, scores)`` each
    chunk, ``values()`` at the end. Memory is that of a chunk; the values are the same bits however
    the samples are chunked. Settings: ``losses``'s docstring and :func:`loss_settings.class_tables`.
    """

    def __init__(
        self,
        classes: Any,
        losses: Any = MULTICLASS_LOSS_NAMES,
        *,
        training_counts: Any = None,
        **settings: Any,
    ):
        self.classes = checked_classes(classes)
        self.losses = names_from("losses", losses, MULTICLASS_LOSS_NAMES)
        self.tables = class_tables(self.classes, self.losses, training_counts=training_counts, **settings)
        self.terms: frozenset[str] = frozenset(MULTICLASS_LOSSES_BY_NAME[name].term for name in self.losses)
        self.counts = np.zeros(self.classes, dtype=np.int64)  # samples of each class so far
        # a term that is another's bit for bit (logit_adjusted at tau = 1) is computed and summed once
        self._same_as = same_terms(self.terms, self.tables)
        self._computed = self.terms - self._same_as.keys()
        self._sums = {term: ExactSums(self.classes) for term in sorted(self._computed)}
        self._block = max(MIN_BLOCK_SAMPLES, BLOCK_VALUES // self.classes)
        self._scores_t = np.empty(0, dtype=np.float32)  # a block, transposed: reused

    def add(self, labels: Any, scores: Any) -> None:
        """Fold in one chunk: ``labels`` (n,) class indices, ``scores`` (n, K) probabilities. A chunk
        with a bad value adds nothing."""
        labels, scores = _float32_scores(labels, scores, self.classes)
        self._add(labels, scores, check_sums=True)

    def add_checked(self, labels: NDArray[np.intp], scores: NDArray[np.float32]) -> None:
        """:meth:`add` of rows known to be good, taken as they are: float32 probabilities with K
        columns summing to 1 within float32 rounding, labels in 0..K-1 (a cell's draw)."""
        self._add(labels, scores, check_sums=False)

    def _add(self, labels: NDArray[np.intp], scores: NDArray[np.float32], *, check_sums: bool) -> None:
        terms = {term: np.empty(labels.size, dtype=np.float32) for term in self._sums}
        for start in range(0, labels.size, self._block):
            block = slice(start, start + self._block)
            scores_t = self._transposed(scores[block])
            if check_sums:
                check_row_sums(row_sums(scores_t), LOSSES_ROW_SUM_TOLERANCE, first_row=start)
            for term, values in per_sample_terms(
                labels[block], scores_t, self._computed, self.tables
            ).items():
                terms[term][block] = values
        groups = one_group_if_so(labels)
        for term, values in terms.items():  # every row checked: only now is anything added
            self._sums[term].add(groups, values)
        self.counts += np.bincount(labels, minlength=self.classes)

    def _transposed(self, scores: NDArray[np.float32]) -> NDArray[np.float32]:
        """The block transposed, C-contiguous, in a buffer reused across blocks."""
        if self._scores_t.size < scores.size:
            self._scores_t = np.empty(scores.size, dtype=np.float32)
        scores_t = self._scores_t[: scores.size].reshape(self.classes, scores.shape[0])
        np.copyto(scores_t, scores.T)
        return scores_t

    def values(self) -> dict[str, float]:
        """Each loss's mean over the samples added: the exact weighted sum over N, rounded once."""
        total = int(self.counts.sum())
        if total == 0:
            raise InvalidValue("labels is empty: the K-class losses need at least one sample")
        class_sums = {term: sums.exact_totals() for term, sums in self._sums.items()}
        class_sums |= {term: class_sums[same] for term, same in self._same_as.items()}
        return {name: _mean(class_sums, name, self.tables, total) for name in self.losses}


def _mean(class_sums: dict[str, list[Fraction | float]], name: str, tables: ClassTables, total: int) -> float:
    """A loss's weighted sum over the classes of its term's sums, over ``total``: exact, rounded once."""
    sums = class_sums[MULTICLASS_LOSSES_BY_NAME[name].term]
    weights = [float(weight) for weight in class_weights(name, tables)]
    if any(isinstance(value, float) for value in sums):  # inf or nan among the terms
        return float(sum(weight * float(value) for weight, value in zip(weights, sums, strict=True)))
    weighted = sum(
        (Fraction(weight) * value for weight, value in zip(weights, sums, strict=True)), Fraction(0)
    )
    return float(weighted / total)


def _float32_scores(labels: Any, scores: Any, classes: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Labels and scores checked (``labelled``; row sums apart: they are taken block by block), the
    scores rounded to float32 as Keras and the binary core compute."""
    checked = class_scores(scores, classes=classes)
    checked_labels = class_labels(labels, checked.shape[0], classes)
    check_probabilities(checked)
    return checked_labels, np.ascontiguousarray(checked, dtype=np.float32)


def _accumulator_for(scores: Any, losses: Any, settings: dict[str, Any]) -> MulticlassLosses:
    """An accumulator of K classes, K the width of ``scores``."""
    return MulticlassLosses(class_scores(scores).shape[1], losses, **settings)


def multiclass_losses(
    labels: Any, scores: Any, losses: Any = MULTICLASS_LOSS_NAMES, **settings: Any
) -> dict[str, float]:
    """The K-class losses of ``labels`` (n,) and ``scores`` (n, K) at once (K from the scores);
    ``settings``: those of :class:`MulticlassLosses` (``training_counts``, ``alpha``, ...)."""
    accumulator = _accumulator_for(scores, losses, settings)
    accumulator.add(labels, scores)
    return accumulator.values()


def sample_terms(
    labels: Any, scores: Any, losses: Any = MULTICLASS_LOSS_NAMES, **settings: Any
) -> dict[str, NDArray[np.float32]]:
    """Each sample's term of each loss of ``losses``, keyed by term (``ce``, ``focal``, ...): what
    the accumulator sums. A sample's loss is its term times its class's weight (``class_weights``)."""
    accumulator = _accumulator_for(scores, losses, settings)
    labels, checked = _float32_scores(labels, scores, accumulator.classes)
    scores_t = np.ascontiguousarray(checked.T)
    check_row_sums(row_sums(scores_t), LOSSES_ROW_SUM_TOLERANCE)
    return per_sample_terms(labels, scores_t, accumulator.terms, accumulator.tables)


def class_weights(name: str, tables: ClassTables) -> NDArray[np.float64]:
    """The weight w_y of each class's sum of the term of loss ``name``."""
    weighting = MULTICLASS_LOSSES_BY_NAME[name].weighting
    if weighting == "alpha":
        return tables.alpha
    if weighting == "effective_number":
        return tables.class_balanced
    return np.ones(tables.classes)
