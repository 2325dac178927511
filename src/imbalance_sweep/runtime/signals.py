"""Ctrl-C and SIGTERM as an exception that closes the runs at work, raised only where that is safe.

The handler raises :class:`Interrupted` in the main thread at its next bytecode, which may be inside
a write to the tracking store. A sqlite write cut there leaves its transaction, and the write lock,
in a connection SQLAlchemy no longer uses: every write that would close the runs KILLED then waits
out MLflow's 20 s busy timeout, try after try, until the process ends (seen in CI, and in 5 of 12
Ctrl-Cs of a `mode=expected` sweep). So the raising waits while a block of
:func:`interrupts_deferred` runs (each write to a database store; the creation of a run until its
closing holds it) and happens where the outermost block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: runs at work are closed KILLED (as for KeyboardInterrupt), then one line."""

    def __init__(self, signal_number: int = signal.SIGINT):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


_deferred: list[int] = []  # the signal that arrived in a block, raised where the outermost ends
_depth = [0]  # blocks of interrupts_deferred the main thread is in


def _on_signal(signal_number: int, _frame) -> None:
    # One interruption is enough: a second Ctrl-C, or the SIGTERM `mlflow run` sends its command
    # after its own Ctrl-C, must not cut short the closing of the runs the first one started.
    for each in SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if _depth[0]:
        _deferred.append(signal_number)
        return
    raise Interrupted(signal_number)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends (blocks nest: until the outermost ends). A
    block that raises leaves a held signal for the next block's end. Other threads get no signals:
    for them the block holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
    if _deferred and not _depth[0]:
        raise Interrupted(_deferred.pop())


def install_interrupt_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (SIGTERM's default would end
    the process at once and leave its runs RUNNING)."""
    for each in SIGNALS:
        signal.signal(each, _on_signal)
