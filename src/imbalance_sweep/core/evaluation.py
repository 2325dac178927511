"""Losses and metrics of a validation set, accumulated chunk by chunk in bounded memory.

Per class: sample counts, correct predictions and loss-term sums (float64); over both classes the
equal-width calibration bins (``calibration``) and the counts of each distinct float32 score
(``ranking``, at most :data:`RANKING_CAPACITY_CHUNKS` chunks' worth of distinct values, exact below
that). A cell's positives come first; when its many negatives meet few distinct positive scores,
the negatives are counted into the parts of the score axis those metrics tell apart
(``partition``), which gives the same counts for a fraction of the work. The chunks of a cell
arrive in one fixed order, so every value is the same bit for bit whoever computes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .calibration import CalibrationBins, inner_edges, skill_scores
from .cell import Cell
from .checks import fraction, labelled_scores, names_from, non_negative, one_of, whole_number
from .losses import BACKENDS, LOSS_NAMES, TermSums, make_terms, reduce_losses
from .metrics import DEFAULT_METRICS, MetricSettings, confusion_metrics, metric_settings, on_correct_side
from .partition import LOOKUP_MIN_NEGATIVES, MAX_BOUNDARIES, PartCounts, ScorePartition
from .prevalence import prevalence_of
from .ranking import ScoreCounts, ranking_of_slots
from .score_models import ScoreModel
from .score_models.uniform import UNIFORM
from .simulator import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, cell_score_chunks
from .thresholds import DEFAULT_THRESHOLD, best_in_table, best_metric, check_threshold, cut
from .vocabulary import SKILL_LOSSES, loss_key

RANKING_CAPACITY_CHUNKS = 16  # distinct scores kept exactly: this many chunks' worth (16 MB at 2^16)


class Accumulator:
    """Everything a cell's losses and metrics need, folded in chunk by chunk."""

    def __init__(
        self,
        term_sums: TermSums,
        settings: MetricSettings = DEFAULT_METRICS,
        *,
        chunk_size: int,
        negatives: int,
        threshold: float | str = DEFAULT_THRESHOLD,
    ):
        self.term_sums = term_sums
        self.settings = settings
        # a fixed threshold counts each chunk's correct predictions; best:<metric> reads the ranking
        # table at the end (thresholds.best_in_table), and counts at 0.5 meanwhile
        self.threshold = threshold
        self.cut = cut(DEFAULT_THRESHOLD if isinstance(threshold, str) else threshold)
        self.counts = [0, 0]
        self.correct = [0, 0]
        self.sums: list[dict[str, float]] = [{}, {}]
        self.calibration = CalibrationBins(settings.ece_bins)
        self.ranking = ScoreCounts(RANKING_CAPACITY_CHUNKS * chunk_size)
        # best:<metric> reports a threshold among the scores themselves: only the sorted table keeps them
        self.partition_pays = negatives >= LOOKUP_MIN_NEGATIVES and not isinstance(threshold, str)
        self.negatives: PartCounts | None = None  # the negatives by part, when partitioned
        self._started_negatives = False

    def add(self, label: int, scores: np.ndarray) -> None:
        """Fold in one chunk of scores whose true class is ``label``: every positive chunk first."""
        if label == 1 and self._started_negatives:
            raise RuntimeError("Accumulator takes all positives before any negative")
        if label == 0 and not self._started_negatives:
            self._started_negatives = True
            self.negatives = self._partitioned_negatives()
        self.counts[label] += scores.size
        for term, value in self.term_sums(label, scores).items():
            self.sums[label][term] = self.sums[label].get(term, 0.0) + value
        if self.negatives is not None:
            self.negatives.add(scores)
            return
        self.correct[label] += int(np.count_nonzero(on_correct_side(label, scores, self.cut)))
        self.calibration.add(label, scores)
        self.ranking.add(label, scores)

    def _partitioned_negatives(self) -> PartCounts | None:
        """After the last positive: the negatives' parts, when that pays off and is exact."""
        if not self.partition_pays:
            return None
        values, _, _, bits = self.ranking.table()
        edges = inner_edges(self.settings.ece_bins)
        if bits or values.size + edges.size > MAX_BOUNDARIES:
            return None
        return PartCounts(ScorePartition(values, {"calibration": edges, "threshold": np.array([self.cut])}))

    def _ranking_values(self) -> dict[str, float]:
        if self.negatives is None:
            return self.ranking.result(recall=self.settings.recall)
        _, _, positives, _ = self.ranking.table()
        return ranking_of_slots(positives, self.negatives.per_slot(), recall=self.settings.recall)

    def _with_partitioned_negatives(self) -> tuple[list[int], CalibrationBins]:
        """The correct counts and calibration bins with the negatives counted by part, if they were."""
        if self.negatives is None:
            return self.correct, self.calibration
        sides, _ = self.negatives.per_family_part("threshold")  # <= the threshold: predicted negative
        correct = [self.correct[0] + int(sides[0]), self.correct[1]]
        return correct, self.calibration.plus(0, *self.negatives.per_family_part("calibration"))

    def result(self, losses: Iterable[str]) -> dict[str, float]:
        """``loss/<name>`` for each loss, then every metric of :data:`metrics.METRIC_NAMES` (and,
        for ``best:<metric>``, the threshold chosen as ``threshold/<metric>``)."""
        (tn, tp), calibration = self._with_partitioned_negatives()
        fp, fn = self.counts[0] - tn, self.counts[1] - tp
        chosen = {}
        metric = best_metric(self.threshold)
        if metric is not None:
            table = self.ranking.table()
            threshold, counts = best_in_table(
                *table[:3], metric, beta=self.settings.beta, resolution_bits=table[3]
            )
            tp, fp, tn, fn = (round(count) for count in counts)  # whole counts: MCC's numerator exact
            chosen[f"threshold/{metric}"] = threshold
        values = {
            loss_key(name): value for name, value in reduce_losses(losses, self.sums, self.counts).items()
        }
        values.update(confusion_metrics(tp=tp, fp=fp, tn=tn, fn=fn, beta=self.settings.beta))
        values.update(chosen)
        values.update(self._ranking_values())
        losses_for_skill = reduce_losses(SKILL_LOSSES, self.sums, self.counts)
        values.update(skill_scores(**losses_for_skill, prevalence=prevalence_of(*self.counts)))
        values["ece"] = calibration.ece()
        return values


def evaluate_cell(
    cell: Cell,
    *,
    seed: int,
    losses: Sequence[str],
    term_sums: TermSums,
    chunk_size: int,
    model: ScoreModel = UNIFORM,
    settings: MetricSettings = DEFAULT_METRICS,
) -> dict[str, float]:
    """Simulate ``cell`` under the score ``model`` and evaluate it chunk by chunk, its confusion
    metrics at its threshold; ``term_sums`` comes from ``make_terms``, ``settings`` are the
    metrics' (:func:`metrics.metric_settings`)."""
    accumulator = Accumulator(
        term_sums, settings, chunk_size=chunk_size, negatives=cell.num_0s, threshold=cell.threshold
    )
    for label, scores in cell_score_chunks(cell, seed, chunk_size, model, labels=(1, 0)):
        accumulator.add(label, scores)
    return accumulator.result(losses)


def check_loss_settings(
    losses: Any, backend: Any, alpha: Any, gamma: Any, chunk_size: Any
) -> tuple[tuple[str, ...], str, float, float, int]:
    """Validate the settings shared by the API and the config; return them normalised."""
    return (
        names_from("losses", losses, LOSS_NAMES),
        one_of("backend", backend, BACKENDS),
        fraction("focal.alpha", alpha),
        non_negative("focal.gamma", gamma),
        whole_number("chunk_size", chunk_size, minimum=1, maximum=MAX_CHUNK_SIZE),
    )


def evaluate(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    losses: Sequence[str] = LOSS_NAMES,
    backend: str = "numpy",
    alpha: float = 0.25,
    gamma: float = 2.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    beta: float = 2.0,
    recall: float = 0.9,
    ece_bins: int = 15,
    threshold: float | str = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """Losses (``loss/<name>``) and metrics of binary labels and probability scores.

    Scores are cast to float32, as Keras does. Given :func:`simulate`'s output for a cell, the
    values equal those a sweep logs for that cell, bit for bit. ``beta``, ``recall`` and
    ``ece_bins`` are the settings of ``fbeta``, ``precision_at_recall`` and ``ece``. ``threshold``
    is where the confusion metrics cut the scores (a score > it predicts positive, in float32), or
    ``best:<metric>`` (``thresholds.BEST_METRICS``): the threshold of these scores that maximises
    the metric, returned as ``threshold/<metric>`` beside the metrics at it.
    """
    losses, backend, alpha, gamma, chunk_size = check_loss_settings(losses, backend, alpha, gamma, chunk_size)
    settings = metric_settings(beta, recall, ece_bins)
    threshold = check_threshold("threshold", threshold)
    negatives, positives = labelled_scores(y_true, y_pred, caller="evaluate")

    accumulator = Accumulator(
        make_terms(backend, losses, alpha=alpha, gamma=gamma),
        settings,
        chunk_size=chunk_size,
        negatives=negatives.size,
        threshold=threshold,
    )
    for label, scores in ((1, positives), (0, negatives)):
        for start in range(0, scores.size, chunk_size):
            accumulator.add(label, scores[start : start + chunk_size])
    return accumulator.result(losses)
