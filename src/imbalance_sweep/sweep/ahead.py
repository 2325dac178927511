"""A sweep's cells computed ahead by a forked worker while this process logs the ones before.

Logging a cell (its run, one batch, its end) is MLflow's Python, about three times a cell's numpy
work on a 100,000-sample cell; one after the other, a sweep waits for both. A worker forked once the
parent is open (runtime/forked.py) computes the cells in the sweep's order and sends each one's
values back; then, when this process runs the whole sweep, it draws the report's figures and works
out the answer from those same values (``ParentPage.prepare``), so that matplotlib's import and
the drawing are done by the time the last cell is logged. A cell's values are the same function of
the same inputs in either process, so nothing stored changes, bit for bit: only when it is ready.

The worker is used when it can help and is safe (``SweepSpec.computes_ahead``): in a command's own
process (a door's ``__main__``, runtime/lifetime.py: not a test or a Python session that calls a
door, whose state a fork would copy, nor a launcher's worker: joblib's and Ray's run many sweeps side
by side already), for a sweep of two cells or more to compute with the numpy backend (Keras and
TensorFlow must not run in a forked child), with a second CPU. Otherwise each cell is computed in
turn here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..runtime.forked import ChildLost, ForkedResults
from .config import SweepSpec
from .params import cell_params

if TYPE_CHECKING:  # parent_page imports the tracker, and so MLflow
    from .config import SweepCell
    from .parent_page import ParentPage, PreparedPage

log = logging.getLogger(__name__)

CellValues = Callable[["SweepCell"], dict[str, float]]


class CellsAhead:
    """The values of ``todo``'s cells, in their order, from a worker or computed on demand; and, when
    the worker prepared it, the finished sweep's page."""

    def __init__(
        self,
        todo: Sequence[SweepCell],
        compute: CellValues,
        results: ForkedResults | None = None,
        *,
        prepares: bool = False,
    ):
        self._todo = list(todo)
        self._next = 0
        self._compute = compute
        self._results = results
        self._prepares = prepares  # the worker sends the page after the cells

    def values(self, cell: SweepCell) -> dict[str, float]:
        """``cell``'s values: the worker's when it computes the cells (they are asked for in its
        order), else computed now."""
        if self._results is None:
            return self._compute(cell)
        if self._next >= len(self._todo) or self._todo[self._next] != cell:
            raise RuntimeError(f"cell {cell.name!r} asked out of the worker's order")
        self._next += 1
        try:
            values: dict[str, float] = self._results.next()
        except ChildLost:  # killed (say, by the OS for memory): this process computes the rest
            log.warning("the worker computing cells ahead was lost; the sweep goes on without it")
            self._results = None
            return self._compute(cell)
        return values

    def prepared(self) -> PreparedPage | None:
        """The page the worker prepared from every cell's values (all asked for first), or None if
        it prepared none or could not (this process then prepares it, and meets any error itself)."""
        if self._results is None or not self._prepares or self._next != len(self._todo):
            return None
        try:
            page: PreparedPage = self._results.next()
        except Exception:  # ChildLost, or its error: if real, met again here when the page is made
            return None
        return page


@contextlib.contextmanager
def cells_ahead(
    spec: SweepSpec, todo: Sequence[SweepCell], compute: CellValues, page: ParentPage | None
) -> Iterator[CellsAhead]:
    """:class:`CellsAhead` for ``todo``: with a forked worker when ``spec.computes_ahead``, which also
    prepares ``page`` (not None: ``todo`` is the whole sweep, so its rows are the sweep's table);
    the worker is killed and reaped on leaving, however that happens."""
    if not spec.computes_ahead(len(todo)):
        yield CellsAhead(todo, compute)
        return

    def produce() -> Iterator[object]:
        rows = []
        for cell in todo:
            values = compute(cell)
            yield values
            if page is not None:
                rows.append({**cell_params(cell, spec), **values})
        if page is not None:
            yield page.prepare(spec, rows)

    with ForkedResults(produce) as results:
        yield CellsAhead(todo, compute, results, prepares=page is not None)
