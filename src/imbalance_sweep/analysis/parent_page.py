"""What a person sees of a finished sweep on its runs' pages in the MLflow UI: the report's tables
and figures (report.py) and the answer on the parent run's own page (answer.py: metrics, a
description and a figure). A sweep of one cell under ``mlflow run`` has the cell's params and
metrics copied onto the run ``mlflow run`` reports: the cell itself stays a run nested under it, so
resume, ``compare`` and the cell-key look-ups see one FINISHED run per cell, on stores old and new.

The runner calls it through ``sweep.parent_page.ParentPage`` (:data:`REPORT_AND_ANSWER`, which the
door app.py hands it): the sweep layer imports no analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..core.cell import Cell
from ..core.thresholds import is_default
from ..sweep.config import SweepSpec
from ..sweep.params import cell_params, sweep_params
from ..sweep.parent_page import ParentPage, PreparedPage, Row
from ..tracking.tags import NOTE_TAG
from ..tracking.tracker import Tracker
from ..tracking.views import headline_columns
from .answer import (
    ANSWER_FIGURE,
    agreement_with_recall,
    answer_figure,
    answer_note,
    flip_prevalences,
)
from .kclass_report import ANSWER_LATER, SUMMARY_TABLE, summary_columns
from .preference import Model
from .report import report_figures, report_tables, sweep_models

if TYPE_CHECKING:
    from ..sweep.config import SweepCell

# Ends the answer at the top of a run's description: what follows is the description it had
# (a Markdown link reference, which renders as nothing). A later answer replaces the one before it.
ANSWER_END = "[imbalance_sweep]: # (the sweep's answer ends here)"
HEADLINE_TABLE = "summary/headline.json"


class ReportAndAnswer(ParentPage):
    """The parent page as ``analysis`` draws it: what the door app.py hands the runner."""

    def prepare(self, spec: SweepSpec, rows: Sequence[Row]) -> PreparedPage:
        """The report's figures (when ``spec.report`` asks for them; with ``report=all`` its models'
        curves among them) as PNG files, and a sweep of several cells' answer (:func:`sweep_answer`)
        with, when ``spec.report``, its figure."""
        figures: dict[str, bytes] = {}
        if spec.multiclass is not None:  # a K-class sweep: tables only, its answer comes later
            return PreparedPage()
        if spec.report:
            from .figures import png_bytes  # matplotlib: not before a figure is drawn

            drawn = report_figures(
                rows,
                losses=spec.losses,
                models=sweep_models(binary_cells(spec), spec.model_of) if spec.all_figures else (),
                all_figures=spec.all_figures,
            )
            figures = {path: png_bytes(figure) for path, figure in drawn.items()}
        if len(spec.cells) == 1:
            return PreparedPage(figures)
        answer = sweep_answer(spec, rows)
        figure = answer_figure(answer, title=f"{spec.name}: {len(rows)} cells") if spec.report else None
        if figure is None:
            return PreparedPage(figures, answer)
        from .figures import png_bytes

        return PreparedPage(figures, answer, png_bytes(figure))

    def show_sweep(
        self,
        tracker: Tracker,
        spec: SweepSpec,
        run_id: str,
        table: Sequence[Row],
        prepared: PreparedPage | None = None,
    ) -> None:
        """The report's tables and figures when ``spec.report`` asks for them, then the answer
        (:func:`show_answer`); ``prepared`` is :meth:`prepare` of the same rows, else made now."""
        if spec.multiclass is not None:
            show_k_class_sweep(tracker, spec, run_id, table)
            return
        if prepared is None:
            prepared = self.prepare(spec, table)
        if spec.report:
            for path, columns in report_tables(table, losses=spec.losses).items():
                tracker.log_table(run_id, columns, path)
            for path, png in prepared.figures.items():
                tracker.log_bytes(run_id, png, path)
        show_answer(tracker, spec, run_id, table, prepared)

    def show_cell(self, tracker: Tracker, spec: SweepSpec, run_id: str, cell: SweepCell, row: Row) -> None:
        copy_cell(tracker, spec, run_id, cell, row, skip=set())


REPORT_AND_ANSWER = ReportAndAnswer()


def show_k_class_sweep(tracker: Tracker, spec: SweepSpec, run_id: str, table: Sequence[Row]) -> None:
    """A finished K-class sweep on its parent: a one-cell sweep's cell (:func:`copy_cell`); else,
    with ``spec.report``, the summary table (analysis/kclass_report.py) and the cells' headline
    values, and a description that says its answer comes later."""
    if len(spec.cells) == 1:
        copy_cell(tracker, spec, run_id, spec.cells[0], table[0], skip=set(sweep_params(spec)))
        return
    if spec.report:
        tracker.log_table(run_id, summary_columns(table, spec.losses), SUMMARY_TABLE)
        columns = headline_columns(spec.losses, table, k_classes=spec.k_classes)
        tracker.log_table(
            run_id, {column: [row.get(column) for row in table] for column in columns}, HEADLINE_TABLE
        )
    set_answer_note(tracker, run_id, f"Sweep {spec.name!r}: {len(table)} K-class cells. {ANSWER_LATER}")


def sweep_answer(spec: SweepSpec, rows: Sequence[Row]) -> dict[str, float]:
    """A sweep's answer: each loss's and metric's agreement with recall, and a two-model grid's flip
    prevalences."""
    answer = agreement_with_recall(rows, losses=spec.losses)
    models = two_models(spec)
    if models:
        answer.update(
            flip_prevalences(
                *models, losses=spec.losses, alpha=spec.alpha, gamma=spec.gamma, settings=spec.metrics
            )
        )
    return answer


def show_answer(
    tracker: Tracker, spec: SweepSpec, run_id: str, table: Sequence[Row], prepared: PreparedPage
) -> None:
    """The finished sweep's answer on its parent ``run_id``: a one-cell sweep's cell
    (:func:`copy_cell`); else the prepared answer (:func:`sweep_answer`) as metrics and a
    description; with ``spec.report`` also the answer's figure (shown in the description) and the
    cells' headline values as a table."""
    if len(spec.cells) == 1 or prepared.answer is None:
        copy_cell(tracker, spec, run_id, spec.cells[0], table[0], skip=set(sweep_params(spec)))
        return
    figure_link = None
    if spec.report:
        columns = headline_columns(spec.losses, table)
        tracker.log_table(
            run_id, {column: [row.get(column) for row in table] for column in columns}, HEADLINE_TABLE
        )
        if prepared.answer_figure is not None:
            tracker.log_bytes(run_id, prepared.answer_figure, ANSWER_FIGURE)
            figure_link = artifact_link(run_id, ANSWER_FIGURE)
    answer = dict(prepared.answer)
    tracker.log_metrics(run_id, answer)
    set_answer_note(tracker, run_id, answer_note(answer, n_cells=len(table), figure_link=figure_link))


def copy_cell(
    tracker: Tracker, spec: SweepSpec, run_id: str, cell: SweepCell, row: Row, *, skip: set[str]
) -> None:
    """The cell's params (but ``skip`` and those ``mlflow run`` logged as typed) and every metric
    of ``row`` onto ``run_id``, and its headline values in the run's description."""
    params = cell_params(cell, spec)
    metrics = {key: float(value) for key, value in row.items() if key not in params and key != "run_id"}  # type: ignore[arg-type]
    tracker.log(
        run_id, params={key: value for key, value in params.items() if key not in skip}, metrics=metrics
    )
    columns = headline_columns(spec.losses, [row], k_classes=spec.k_classes)
    headline = {column: row.get(column, "") for column in columns}
    set_answer_note(tracker, run_id, answer_note(metrics, n_cells=1, headline=headline))


def two_models(spec: SweepSpec) -> tuple[Model, Model] | None:
    """The grid's two models, when it has exactly two given by accuracies and cut at 0.5 (their
    flips are exact, from the score model); None otherwise."""
    if (
        spec.multiclass is not None
        or spec.file_models
        or not all(is_default(threshold) for threshold in spec.thresholds)
    ):
        return None
    pairs = list(dict.fromkeys((cell.acc_0s, cell.acc_1s) for cell in binary_cells(spec)))
    if len(pairs) != 2:
        return None
    first, second = (Model(acc_0s, acc_1s, score_model=spec.score_model) for acc_0s, acc_1s in pairs)
    return first, second


def binary_cells(spec: SweepSpec) -> list[Cell]:
    """The cells of a binary grid (a K-class grid's report draws none of the binary figures)."""
    return [cell for cell in spec.cells if isinstance(cell, Cell)]


def artifact_link(run_id: str, path: str) -> str:
    """An artifact's URL relative to the UI's page (the server's own ``get-artifact``), for an
    image in a run's description: it works wherever the UI is served, under any prefix."""
    return f"get-artifact?path={quote(path, safe='')}&run_uuid={quote(run_id, safe='')}"


def set_answer_note(tracker: Tracker, run_id: str, answer: str) -> None:
    """``answer`` at the top of the run's description, before what it said already."""
    earlier = tracker.get_note(run_id).split(ANSWER_END, 1)[-1].strip()
    tracker.set_tags(run_id, {NOTE_TAG: f"{answer}\n\n{ANSWER_END}\n\n{earlier}".strip()})
