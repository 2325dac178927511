"""The per-sample terms of the K-class losses, for a block of checked scores held class by class.

Scores come transposed, shape (K, b): a row per class, so that a sum over the classes is K
additions of whole rows, in class order. A sample's term then depends on its own scores alone,
never on the block it is in or its place there (numpy's reductions along an axis change their
order with the array's shape), which is what makes chunked sums equal one-chunk sums bit for bit.
Everything is float32, as Keras computes; the formulas are in ``losses``'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from ..clipping import EPSILON, ONE_MINUS_EPSILON
from .loss_settings import ClassTables

Float32s = NDArray[np.float32]


def ordered_sum(rows: Float32s) -> Float32s:
    """The sum over the first axis, row after row in order: the same bits for a column whatever
    the other columns."""
    total: Float32s = rows[0].copy()
    for row in rows[1:]:
        total += row
    return total


def row_sums(scores_t: Float32s) -> NDArray[np.float64]:
    """Each sample's sum of its K scores, in float64 (the check of a distribution)."""
    total: NDArray[np.float64] = scores_t[0].astype(np.float64)
    for row in scores_t[1:]:
        total += row
    return total


def own_places(labels: NDArray[np.intp]) -> NDArray[np.intp]:
    """Where each sample's own class's value sits in a C-contiguous (K, b) array read flat: one
    index for every gather and scatter of a block (cheaper than a pair of index arrays)."""
    places: NDArray[np.intp] = labels * labels.size
    places += np.arange(labels.size)
    return places


def per_sample_terms(
    labels: NDArray[np.intp], scores_t: Float32s, terms: Iterable[str], tables: ClassTables
) -> dict[str, Float32s]:
    """Each sample's ``ce``, ``focal``, ``brier``, ``logit_adjusted``, ``balanced_softmax`` and
    ``ldam`` term (those of ``terms``), unweighted (the losses weight each class's sum)."""
    terms = frozenset(terms)
    scores_t = np.ascontiguousarray(scores_t)
    own = own_places(labels)
    true = scores_t.reshape(-1).take(own)  # the score of each sample's own class
    clipped_true = np.clip(true, EPSILON, ONE_MINUS_EPSILON)
    values: dict[str, Float32s] = {}
    if terms & {"ce", "focal"}:
        values["ce"] = np.negative(np.log(clipped_true))
    if "focal" in terms:
        distance = np.float32(1.0) - clipped_true
        gamma = np.float32(tables.gamma)
        weight = np.square(distance) if gamma == 2 else np.power(distance, gamma)
        values["focal"] = np.multiply(weight, values["ce"])
    if "brier" in terms:
        squares = np.square(scores_t)
        squares.reshape(-1)[own] = np.square(np.float32(1.0) - true)
        values["brier"] = ordered_sum(squares)
    adjusted = {
        "logit_adjusted": (tables.logit_adjustment, None, 1.0),
        "balanced_softmax": (tables.balanced_softmax, None, 1.0),
        "ldam": (np.zeros(tables.classes), tables.ldam_margins, tables.scale),
    }
    if terms & adjusted.keys():
        clipped = np.clip(scores_t, EPSILON, ONE_MINUS_EPSILON)
        for term, (log_factors, margins, scale) in adjusted.items():
            if term in terms:
                values[term] = adjusted_cross_entropy(
                    labels, clipped, clipped_true, log_factors, margins=margins, scale=scale, own=own
                )
    return {term: value for term, value in values.items() if term in terms}


def same_terms(terms: Iterable[str], tables: ClassTables) -> dict[str, str]:
    """The terms of ``terms`` whose values are another's bit for bit, each mapped to that other:
    ``logit_adjusted`` where its adjustments are ``balanced_softmax``'s, the same bits (tau = 1)."""
    terms = frozenset(terms)
    if {"logit_adjusted", "balanced_softmax"} <= terms and (
        tables.logit_adjustment.tobytes() == tables.balanced_softmax.tobytes()
    ):
        return {"logit_adjusted": "balanced_softmax"}
    return {}


def adjusted_cross_entropy(
    labels: NDArray[np.intp],
    clipped: Float32s,
    clipped_true: Float32s,
    log_factors: NDArray[np.float64],
    *,
    margins: NDArray[np.float64] | None,
    scale: float,
    own: NDArray[np.intp] | None = None,
) -> Float32s:
    """The softmax cross-entropy of the logits ``z_k = s (log c_k - m_k [k = y]) + b_k`` (c the
    clipped scores, b ``log_factors``, m ``margins``, s ``scale``), as
    ``log1p(sum_{k != y} exp(z_k - z_y))``: no cancellation when the true class dominates.

    In float32 as ratios ``(c_k / c_y)**s * exp(b_k - b_y + s m_y)``; a sample whose sum does not
    fit in float32 (a loss of about 88 or more) is computed again in float64, by log-sum-exp.
    ``own``: :func:`own_places` of ``labels``, when the caller has it.
    """
    if own is None:
        own = own_places(labels)
    # overflow, 0 / 0, 0 * inf: such a sample is recomputed below
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        factors = np.exp(log_factors - log_factors.max()).astype(np.float32)
        if scale == 1.0:
            ratios = clipped * factors[:, None]
        else:
            ratios = np.power(clipped / clipped_true, np.float32(scale))
            ratios *= factors[:, None]
        flat = ratios.reshape(-1)  # a view: ratios is a new C-contiguous array
        own_ratio = flat.take(own)
        flat[own] = 0.0
        others = ordered_sum(ratios)
        others /= own_ratio
        if margins is not None:
            others *= np.exp(scale * margins).astype(np.float32)[labels]
        terms: Float32s = np.log1p(others)
    unsafe = np.flatnonzero(~np.isfinite(terms))
    if unsafe.size:
        terms[unsafe] = _log_sum_exp_terms(labels[unsafe], clipped[:, unsafe], log_factors, margins, scale)
    return terms


def _log_sum_exp_terms(
    labels: NDArray[np.intp],
    clipped: Float32s,
    log_factors: NDArray[np.float64],
    margins: NDArray[np.float64] | None,
    scale: float,
) -> Float32s:
    """:func:`adjusted_cross_entropy` in float64 from the logits themselves, for a few samples."""
    samples = np.arange(labels.size)
    logits = scale * np.log(clipped.astype(np.float64)) + log_factors[:, None]
    if margins is not None:
        logits[labels, samples] -= scale * margins[labels]
    top = logits.max(axis=0)
    log_sum = top + np.log(np.exp(logits - top).sum(axis=0))
    terms: Float32s = (log_sum - logits[labels, samples]).astype(np.float32)
    return terms
