"""What a person sees of a sweep in the MLflow UI, as the sweep writes it: the prepared view that
the printed ``cells:`` link opens (tracking/views.py), stored as the sweep opens its parent; and what
the runner calls to show a finished sweep's report and answer (:class:`ParentPage`). Those are
drawn by ``analysis`` (analysis/parent_page.py) and handed to the runner by the door (app.py), so
the sweep layer imports no analysis."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..tracking.errors import TrackingError
from ..tracking.tracker import Tracker
from ..tracking.views import cells_view_tag, cells_view_text
from .config import SweepSpec

if TYPE_CHECKING:
    from .config import SweepCell

log = logging.getLogger(__name__)

Row = Mapping[str, object]


@dataclass(frozen=True)
class PreparedPage:
    """What a finished sweep's page shows that takes time to make and reads only the cells' values
    (no store): the report's figures as PNG files and the answer. Plain data, so that the worker
    that computed the cells (ahead.py) can make it while this process logs them."""

    figures: Mapping[str, bytes] = field(default_factory=dict)  # artifact path -> PNG file
    answer: Mapping[str, float] | None = None  # a sweep of several cells: its answer's metrics
    answer_figure: bytes | None = None  # the answer as a PNG, shown in the parent's description


class ParentPage(Protocol):
    """What a sweep's runs show beyond each cell's values: its report and its answer."""

    def prepare(self, spec: SweepSpec, rows: Sequence[Row]) -> PreparedPage:
        """The figures and the answer of a finished sweep whose cells' rows (params and values, in
        the grid's order; no run ids needed) are ``rows``."""
        ...

    def show_sweep(
        self,
        tracker: Tracker,
        spec: SweepSpec,
        run_id: str,
        table: Sequence[Row],
        prepared: PreparedPage | None = None,
    ) -> None:
        """The finished sweep's report (as ``spec.report`` asks) and answer, on its parent ``run_id``
        (``table``: every cell's row, in the grid's order); ``prepared``: :meth:`prepare` of the
        same rows, made already (else made now)."""
        ...

    def show_cell(self, tracker: Tracker, spec: SweepSpec, run_id: str, cell: SweepCell, row: Row) -> None:
        """A one-cell sweep's ``cell``, computed before (its ``row``), on the run ``mlflow run``
        created (``run_id``)."""
        ...


def prepare_cells_view(tracker: Tracker, spec: SweepSpec, parent_run_id: str) -> None:
    """The experiment tag the ``cells:`` link names: written by every process that opens the
    parent (the same view each time), so the link works as soon as a command prints it. Two
    processes writing it at once collide in MLflow's store (a unique key): on sqlite they take
    turns; on a server the one that loses says so and goes on (the other one's view serves)."""
    with tracker.exclusive():
        try:
            tracker.set_experiment_tag(
                cells_view_tag(parent_run_id),
                cells_view_text(parent_run_id, spec.name, spec.losses, k_classes=spec.k_classes),
            )
        except TrackingError as error:
            log.warning(
                "the view the cells link opens was not stored (%s); another process may have stored it", error
            )
