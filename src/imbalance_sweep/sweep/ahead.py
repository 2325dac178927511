"""A sweep's cells computed one ahead of their logging, in a thread of their own.

A cell's numbers are numpy's work, which releases the GIL in its loops; its logging is MLflow's and
sqlite's. On two cores the next cell's numbers come while MLflow logs the one before: a sampled
grid of small cells takes the time of its logging, not of both. The cells are computed one at a time
and in order, so a cell's numbers are the same as computed in the main thread, bit for bit.

The thread is a daemon: Ctrl-C and SIGTERM are the main thread's (runtime signals), and a process
ending on one does not wait for the cell being computed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Computer(threading.Thread, Generic[Item, Result]):
    """Computes what it is handed, in order, until handed None."""

    def __init__(self, compute: Callable[[Item], Result]):
        super().__init__(name="imbalance-sweep cells", daemon=True)
        self._compute = compute
        self._jobs: queue.SimpleQueue[tuple[Item, Future[Result]] | None] = queue.SimpleQueue()

    def submit(self, item: Item) -> Future[Result]:
        future: Future[Result] = Future()
        self._jobs.put((item, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            item, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._compute(item))
            except BaseException as error:  # the main thread raises it, as if it had computed the item
                future.set_exception(error)


class ComputedAhead(Generic[Item, Result]):
    """``compute`` of each of ``items``, asked for in their order: asking for item k starts item k+1.

    Use as a context manager: leaving it (normally or on an error) cancels what is not started and
    lets the thread end.
    """

    def __init__(self, compute: Callable[[Item], Result], items: Sequence[Item]):
        self._items = list(items)
        self._computer: _Computer[Item, Result] = _Computer(compute)
        self._futures: dict[int, Future[Result]] = {}

    def __enter__(self) -> ComputedAhead[Item, Result]:
        self._computer.start()
        self._submit(0)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for future in self._futures.values():
            future.cancel()
        self._computer.stop()

    def _submit(self, index: int) -> None:
        if index < len(self._items) and index not in self._futures:
            self._futures[index] = self._computer.submit(self._items[index])

    def result(self, index: int) -> Result:
        """``compute(items[index])`` (its error raised here), item ``index + 1`` started meanwhile."""
        self._submit(index)
        self._submit(index + 1)
        return self._futures.pop(index).result()
