"""Ctrl-C or SIGTERM arriving inside a write to the tracking store: the write ends first, then the
runs at work are closed KILLED at once (a write cut by the signal kept sqlite's write lock from the
writes that close them, each waiting out MLflow's 20 s busy timeout; CI, 2026-11-30)."""

import os
import signal
import time

import pytest
import sqlalchemy
from mlflow import MlflowClient

from imbalance_sweep.runtime import signals
from imbalance_sweep.runtime.signals import Interrupted, install_interrupt_handlers, interrupts_deferred
from imbalance_sweep.tracking.tracker import Tracker


@pytest.fixture
def handlers():
    """The project's SIGINT and SIGTERM handlers for the test, Python's own again after it."""
    saved = {each: signal.getsignal(each) for each in signals.SIGNALS}
    install_interrupt_handlers()
    yield
    for each, handler in saved.items():
        signal.signal(each, handler)
    signals._deferred.clear()


def signal_inside(statement_start: str, how: signal.Signals):
    """Send ``how`` to this process once sqlite has run the first statement that starts so: inside
    the write, its transaction open."""
    sent = []

    def send(_connection, _cursor, statement, *_args):
        if statement.startswith(statement_start) and not sent:
            sent.append(statement)
            os.kill(os.getpid(), how)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "after_cursor_execute", send)
    return send, sent


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_a_cells_write_lets_it_end_then_closes_the_runs_killed(tracking_uri, handlers, how):
    tracker = Tracker(tracking_uri, "signalled")
    parent = tracker.start_run("sweep", tags={})
    cell = tracker.start_run("cell", tags={}, parent_run_id=parent)
    send, sent = signal_inside("INSERT INTO metrics", how)
    started = time.monotonic()
    try:
        with pytest.raises(Interrupted) as interrupted, tracker.closing(parent), tracker.closing(cell):
            tracker.log(cell, params={"seed": 1}, metrics={"loss/bce": 0.25})
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "after_cursor_execute", send)
    assert sent and interrupted.value.signal_number == how
    assert time.monotonic() - started < 10  # not a busy timeout's 20 s
    assert interrupted.value.unclosed == []
    client = MlflowClient(tracking_uri)
    stored = client.get_run(cell)
    assert stored.info.status == "KILLED" and stored.data.metrics == {"loss/bce": 0.25}  # the write ended
    assert client.get_run(parent).info.status == "KILLED"


def test_blocks_nest_and_the_outermost_raises(handlers):
    with pytest.raises(Interrupted):
        with interrupts_deferred():
            with interrupts_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)  # the handler has run: the signal is held
            reached = True  # the inner block's end raised nothing
        pytest.fail("the outermost block's end raises")
    assert reached
