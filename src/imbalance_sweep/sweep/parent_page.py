"""What a person sees of a sweep in the MLflow UI, as the sweep writes it: the prepared view that
the printed ``cells:`` link opens (tracking/views.py), and the answer on the parent run's own page
(analysis/answer.py: metrics, a description and a figure). A sweep of one cell under ``mlflow run``
has the cell's params and metrics copied onto the run ``mlflow run`` reports: the cell itself
stays a run nested under it, so resume, ``compare`` and the cell-key look-ups see one FINISHED run
per cell, on stores old and new."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from ..analysis.answer import (
    ANSWER_FIGURE,
    agreement_with_recall,
    answer_figure,
    answer_note,
    flip_prevalences,
)
from ..analysis.preference import Model
from ..core.cell import Cell
from ..core.thresholds import is_default
from ..tracking.errors import TrackingError
from ..tracking.tags import NOTE_TAG
from ..tracking.tracker import Tracker
from ..tracking.views import cells_view_tag, cells_view_text, headline_columns
from .config import SweepSpec
from .params import cell_params, sweep_params

log = logging.getLogger(__name__)

Row = Mapping[str, object]
# Ends the answer at the top of a run's description: what follows is the description it had
# (a Markdown link reference, which renders as nothing). A later answer replaces the one before it.
ANSWER_END = "[imbalance_sweep]: # (the sweep's answer ends here)"
HEADLINE_TABLE = "summary/headline.json"


def prepare_cells_view(tracker: Tracker, spec: SweepSpec, parent_run_id: str) -> None:
    """The experiment tag the ``cells:`` link names: written by every process that opens the
    parent (the same view each time), so the link works as soon as a command prints it. Two
    processes writing it at once collide in MLflow's store (a unique key): on sqlite they take
    turns; on a server the one that loses says so and goes on (the other one's view serves)."""
    with tracker.exclusive():
        try:
            tracker.set_experiment_tag(
                cells_view_tag(parent_run_id), cells_view_text(parent_run_id, spec.name, spec.losses)
            )
        except TrackingError as error:
            log.warning(
                "the view the cells link opens was not stored (%s); another process may have stored it", error
            )


def show_answer(tracker: Tracker, spec: SweepSpec, run_id: str, table: Sequence[Row]) -> None:
    """The finished sweep's answer on its parent ``run_id``: a one-cell sweep's cell
    (:func:`copy_cell`); else each loss's and metric's agreement with recall, a two-model grid's
    flip prevalences, as metrics and a description; with ``spec.report`` also the answer's figure
    (shown in the description) and the cells' headline values as a table."""
    if len(spec.cells) == 1:
        copy_cell(tracker, spec, run_id, spec.cells[0], table[0], skip=set(sweep_params(spec)))
        return
    answer = agreement_with_recall(table, losses=spec.losses)
    models = two_models(spec)
    if models:
        answer.update(
            flip_prevalences(
                *models, losses=spec.losses, alpha=spec.alpha, gamma=spec.gamma, settings=spec.metrics
            )
        )
    figure_link = None
    if spec.report:
        columns = headline_columns(spec.losses, table)
        tracker.log_table(
            run_id, {column: [row.get(column) for row in table] for column in columns}, HEADLINE_TABLE
        )
        figure = answer_figure(answer, title=f"{spec.name}: {len(table)} cells")
        if figure is not None:
            tracker.log_figure(run_id, figure, ANSWER_FIGURE)
            figure_link = artifact_link(run_id, ANSWER_FIGURE)
    tracker.log_metrics(run_id, answer)
    set_answer_note(tracker, run_id, answer_note(answer, n_cells=len(table), figure_link=figure_link))


def copy_cell(
    tracker: Tracker, spec: SweepSpec, run_id: str, cell: Cell, row: Row, *, skip: set[str]
) -> None:
    """The cell's params (but ``skip`` and those ``mlflow run`` logged as typed) and every metric
    of ``row`` onto ``run_id``, and its headline values in the run's description."""
    params = cell_params(cell, spec)
    metrics = {key: float(value) for key, value in row.items() if key not in params and key != "run_id"}  # type: ignore[arg-type]
    tracker.log(
        run_id, params={key: value for key, value in params.items() if key not in skip}, metrics=metrics
    )
    headline = {column: row.get(column, "") for column in headline_columns(spec.losses, [row])}
    set_answer_note(tracker, run_id, answer_note(metrics, n_cells=1, headline=headline))


def two_models(spec: SweepSpec) -> tuple[Model, Model] | None:
    """The grid's two models, when it has exactly two given by accuracies and cut at 0.5 (their
    flips are exact, from the score model); None otherwise."""
    if spec.file_models or not all(is_default(threshold) for threshold in spec.thresholds):
        return None
    pairs = list(dict.fromkeys((cell.acc_0s, cell.acc_1s) for cell in spec.cells))
    if len(pairs) != 2:
        return None
    first, second = (Model(acc_0s, acc_1s, score_model=spec.score_model) for acc_0s, acc_1s in pairs)
    return first, second


def artifact_link(run_id: str, path: str) -> str:
    """An artifact's URL relative to the UI's page (the server's own ``get-artifact``), for an
    image in a run's description: it works wherever the UI is served, under any prefix."""
    return f"get-artifact?path={quote(path, safe='')}&run_uuid={quote(run_id, safe='')}"


def set_answer_note(tracker: Tracker, run_id: str, answer: str) -> None:
    """``answer`` at the top of the run's description, before what it said already."""
    earlier = tracker.get_note(run_id).split(ANSWER_END, 1)[-1].strip()
    tracker.set_tags(run_id, {NOTE_TAG: f"{answer}\n\n{ANSWER_END}\n\n{earlier}".strip()})
