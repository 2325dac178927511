"""Losses as a training framework reports them, from per-class sums that accumulate over chunks.

Every loss here is a reduction of one per-sample *term* summed separately over each class:

=================  ==================  ============================================================
loss               term                reduction
=================  ==================  ============================================================
``bce``            bce_i               mean over all samples (Keras ``BinaryCrossentropy()``)
``focal_tfa``      a_t (1-p_t)^g bce_i  **sum** over all samples (tfa ``SigmoidFocalCrossEntropy()``
                                       on 1-D input, as the post called it)
``focal_balanced`` a_t (1-p_t)^g bce_i  mean (Keras ``BinaryFocalCrossentropy(apply_class_balancing=True)``)
``focal``          (1-p_t)^g bce_i      mean (Keras ``BinaryFocalCrossentropy()``)
``balanced_bce``   bce_i               mean over the classes present of each class's mean
``brier``          (p - y)^2            mean
=================  ==================  ============================================================

with ``bce_i = -[y log p + (1 - y) log(1 - p)]``, p clipped to [1e-7, 1 - 1e-7] in float32 as
Keras does (``clipping``), ``a_t = alpha`` for positives and ``1 - alpha`` for negatives, ``g = gamma``.

Backends compute the per-class term sums of one chunk: ``numpy`` (default) shares work between
terms; ``keras`` calls the real ``keras.losses`` objects (TensorFlow is imported only then).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from . import vocabulary
from .checks import InvalidValue
from .clipping import EPSILON, ONE_MINUS_EPSILON

# name -> (term, reduction) of each loss of the vocabulary; the order is the order runs list them in.
LOSSES: dict[str, tuple[str, str]] = {loss.name: (loss.term, loss.reduction) for loss in vocabulary.LOSSES}
LOSS_NAMES = vocabulary.LOSS_NAMES
BACKENDS = ("numpy", "keras", "tfa")


def terms_for(losses: Iterable[str]) -> frozenset[str]:
    """The per-sample terms that ``losses`` need."""
    return frozenset(LOSSES[name][0] for name in losses)


def class_weight(label: int, alpha: float) -> float:
    """The focal loss's class-balancing weight a_t."""
    return alpha if label == 1 else 1.0 - alpha


# A term that is another per-sample term times the class weight a_t: focal_balanced = a_t * focal.
WEIGHTED_TERMS = {"focal_balanced": "focal"}


def per_sample_term(term: str) -> str:
    """The per-sample term (``bce``, ``sq``, ``focal``) that ``term`` is made of."""
    return WEIGHTED_TERMS.get(term, term)


def term_weight(term: str, label: int, alpha: float) -> float:
    """A class's weight on the per-sample term of ``term``: a_t for a weighted term, else 1."""
    return class_weight(label, alpha) if term in WEIGHTED_TERMS else 1.0


def reduce_losses(
    losses: Iterable[str], class_sums: Sequence[Mapping[str, float]], class_counts: Sequence[int]
) -> dict[str, float]:
    """Each loss's value from the per-class term sums and the class sizes."""
    total = sum(class_counts)
    values: dict[str, float] = {}
    for name in losses:
        term, reduction = LOSSES[name]
        term_sum = class_sums[0].get(term, 0.0) + class_sums[1].get(term, 0.0)
        if reduction == "sum":
            values[name] = term_sum
        elif reduction == "mean":
            values[name] = term_sum / total
        else:  # class_mean
            means = [
                sums[term] / count for sums, count in zip(class_sums, class_counts, strict=False) if count
            ]
            values[name] = sum(means) / len(means)
    return values


def per_sample_terms(
    label: int,
    scores: np.ndarray,
    terms: Iterable[str],
    *,
    gamma: float,
    out: np.ndarray | None = None,
    negated: bool = False,
) -> dict[str, np.ndarray]:
    """Each score's ``bce``, ``sq`` and ``focal`` term (those of ``terms``), for a class's float32
    scores, in float32 as Keras computes them: the one definition of the terms every sum, mean and
    resample of them starts from.

    ``out``, a float32 array of shape (3, len(scores)), is written into and the arrays returned are
    its rows (a chunk's scratch space, reused); without it they are new arrays. Work is shared: the
    focal term takes the bce and, when gamma is 2, the squared distance already there. ``negated``
    gives ``-bce`` and ``-focal`` (the log itself), a pass fewer over the chunk for a caller that
    negates their sums after: negation is exact, so the sums keep their bits.
    """
    terms = frozenset(terms)
    gamma32 = np.float32(gamma)
    bce, square, focal = np.empty((3, scores.size), dtype=np.float32) if out is None else out
    values: dict[str, np.ndarray] = {}
    if terms & {"bce", "focal"}:
        # -log of the clipped probability given to the true class
        np.clip(scores, EPSILON, ONE_MINUS_EPSILON, out=bce)
        if label == 0:
            np.subtract(np.float32(1.0), bce, out=bce)
        np.log(bce, out=bce)
        if not negated:
            np.negative(bce, out=bce)
        if "bce" in terms:
            values["bce"] = bce
    if "sq" in terms or ("focal" in terms and gamma32 == 2):
        np.square(_distance(label, scores, square), out=square)
        if "sq" in terms:
            values["sq"] = square
    if "focal" in terms:
        # (1 - p_t)^gamma: the distance of the score from its label, to the power gamma
        weight = square if gamma32 == 2 else np.power(_distance(label, scores, focal), gamma32, out=focal)
        values["focal"] = np.multiply(weight, bce, out=focal)
    return values


def _distance(label: int, scores: np.ndarray, out: np.ndarray) -> np.ndarray:
    """|p - y|: the scores themselves for a negative, else ``1 - p`` written into ``out``."""
    if label == 0:
        return scores
    distance: np.ndarray = np.subtract(np.float32(1.0), scores, out=out)
    return distance


class TermSums(Protocol):
    """What :func:`make_terms` returns: a chunk's sums of each term, for one class's float32 scores
    (the same type whichever backend computes them)."""

    def __call__(self, label: int, scores: np.ndarray) -> dict[str, float]: ...


class NumpyTerms:
    """Per-class term sums of a chunk: :func:`per_sample_terms` in scratch space reused across
    chunks, summed in float64."""

    def __init__(self, terms: Iterable[str], *, alpha: float, gamma: float):
        self.terms = frozenset(terms)
        self.alpha = alpha
        self.gamma = gamma
        self._per_sample = {per_sample_term(term) for term in self.terms}
        self._scratch = np.empty((3, 0), dtype=np.float32)

    def __call__(self, label: int, scores: np.ndarray) -> dict[str, float]:
        if self._scratch.shape[1] < scores.size:
            self._scratch = np.empty((3, scores.size), dtype=np.float32)
        values = per_sample_terms(
            label,
            scores,
            self._per_sample,
            gamma=self.gamma,
            out=self._scratch[:, : scores.size],
            negated=True,
        )
        # bce and focal come negated (a pass saved): their sums are negated back, exactly
        sums = {
            term: float(value.sum(dtype=np.float64)) * (1.0 if term == "sq" else -1.0)
            for term, value in values.items()
        }
        for term in self.terms & WEIGHTED_TERMS.keys():
            sums[term] = term_weight(term, label, self.alpha) * sums[per_sample_term(term)]
        for unasked in set(WEIGHTED_TERMS.values()) - self.terms:
            sums.pop(unasked, None)
        return sums


@contextlib.contextmanager
def native_stderr_discarded() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration.

    TensorFlow's C++ start-up lines (oneDNN, CUDA probing, cuInit) are written before its logging
    is configured, so TF_CPP_MIN_LOG_LEVEL does not hold them back; only the descriptor does.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow_module(name: str, *, backend: str, hint: str) -> ModuleType:
    """Import a TensorFlow-based module without start-up noise, or say in one line why not."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with native_stderr_discarded(), warnings.catch_warnings():
            # tensorflow-addons announces its end of life on import; that is what the tfa backend is for
            warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow_addons")
            return importlib.import_module(name)
    except ImportError as error:
        raise InvalidValue(
            f"backend={backend!r} cannot be used here: importing {name} failed ({error}); {hint}"
        ) from error


# A loss object of Keras or tensorflow-addons (untyped libraries): (y_true, y_pred) -> a tensor
FrameworkLoss = Callable[[np.ndarray, np.ndarray], Any]


class KerasTerms:
    """Per-class term sums of a chunk from the real ``keras.losses`` objects.

    Works with Keras 3 (TensorFlow >= 2.16) and with Keras 2 (tf.keras of the tfa environment).
    """

    def __init__(self, terms: Iterable[str], *, alpha: float, gamma: float):
        self.losses = {term: self._make_loss(term, alpha=alpha, gamma=gamma) for term in sorted(terms)}
        with native_stderr_discarded():
            self(0, np.zeros(1, dtype=np.float32))  # TensorFlow starts its devices on first use

    def _make_loss(self, term: str, *, alpha: float, gamma: float) -> FrameworkLoss:
        keras = _import_tensorflow_module(
            "keras", backend="keras", hint="install the project's dependencies or use backend=numpy"
        )
        # reduction="none" gives per-sample values in Keras 2 and 3 alike
        loss: FrameworkLoss
        if term == "bce":
            loss = keras.losses.BinaryCrossentropy(reduction="none")
        elif term == "focal":
            loss = keras.losses.BinaryFocalCrossentropy(gamma=gamma, reduction="none")
        elif term == "focal_balanced":
            loss = keras.losses.BinaryFocalCrossentropy(
                apply_class_balancing=True, alpha=alpha, gamma=gamma, reduction="none"
            )
        else:
            loss = keras.losses.MeanSquaredError(reduction="none")
        return loss

    def __call__(self, label: int, scores: np.ndarray) -> dict[str, float]:
        # Shape (n, 1): the losses reduce over the last axis, which then holds one sample.
        y_pred = scores.reshape(-1, 1)
        y_true = np.full_like(y_pred, float(label))
        return {
            term: float(np.asarray(loss(y_true, y_pred)).sum(dtype=np.float64))
            for term, loss in self.losses.items()
        }


TFA_ENVIRONMENT = "conda-tfa.yaml"


class TfaTerms(KerasTerms):
    """tensorflow-addons' ``SigmoidFocalCrossEntropy`` for the alpha-weighted focal term, as the
    post called it, and tf.keras losses for the other terms. Needs TensorFlow < 2.16."""

    def _make_loss(self, term: str, *, alpha: float, gamma: float) -> FrameworkLoss:
        tfa = _import_tensorflow_module(
            "tensorflow_addons",
            backend="tfa",
            hint=f"tensorflow-addons needs tensorflow < 2.16: run in the environment of {TFA_ENVIRONMENT} "
            "(docs/guides/tfa.md)",
        )
        if term == "focal_balanced":
            focal: FrameworkLoss = tfa.losses.SigmoidFocalCrossEntropy(
                alpha=alpha, gamma=gamma
            )  # reduction NONE
            return focal
        return super()._make_loss(term, alpha=alpha, gamma=gamma)


# Every cell's skill scores (``calibration``) take its BCE and Brier score, whatever its losses
SKILL_TERMS = terms_for(vocabulary.SKILL_LOSSES)


def make_terms(backend: str, losses: Iterable[str], *, alpha: float, gamma: float) -> TermSums:
    """The term-sum function of ``backend`` for what ``losses`` and the skill scores need."""
    kinds: dict[str, type[NumpyTerms | KerasTerms]] = {
        "numpy": NumpyTerms,
        "keras": KerasTerms,
        "tfa": TfaTerms,
    }
    kind = kinds[backend]
    return kind(terms_for(losses) | SKILL_TERMS, alpha=alpha, gamma=gamma)
