"""A forked child's results come back in order, its errors are raised here, it ignores the signals
this process handles, and it never outlives this process (closed, or killed with SIGKILL)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.runtime.forked import ChildLost, ForkedResults


def gone(pid, seconds=10.0):
    """Whether ``pid`` has ended (no process, or a zombie nobody reaped) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_results_come_back_in_order_with_their_bits():
    values = [0.1, float("nan"), -0.0, 1e-310, float("inf")]
    with ForkedResults(
        lambda: ({"value": value, "index": index} for index, value in enumerate(values))
    ) as results:
        back = [results.next() for _ in values]
        with pytest.raises(ChildLost):
            results.next()  # the end
    assert [row["index"] for row in back] == list(range(len(values)))
    assert [repr(row["value"]) for row in back] == [repr(value) for value in values]
    assert str(back[2]["value"]) == "-0.0"


def test_a_childs_error_is_raised_here_after_the_results_before_it():
    def produce():
        yield 1
        raise InvalidValue("acc_0s=2 must be a number in [0, 1]")

    with ForkedResults(produce) as results:
        assert results.next() == 1
        with pytest.raises(InvalidValue, match=r"^acc_0s=2 must be a number in \[0, 1\]$"):
            results.next()


def test_an_error_that_cannot_cross_the_pipe_is_said_as_text():
    class Local(Exception):  # a class pickle cannot find by name
        pass

    def produce():
        raise Local("only here")
        yield

    with ForkedResults(produce) as results, pytest.raises(RuntimeError, match=r"^Local: only here$"):
        results.next()


def test_a_child_killed_mid_way_is_child_lost():
    def produce():
        yield "first"
        os.kill(os.getpid(), signal.SIGKILL)
        yield "never"

    with ForkedResults(produce) as results:
        assert results.next() == "first"
        with pytest.raises(ChildLost):
            results.next()


def test_the_child_ignores_ctrl_c_and_sigterm_and_is_reaped_on_close():
    def produce():
        yield os.getpid()
        while True:
            yield "more"  # blocks once the pipe is full

    with ForkedResults(produce) as results:
        child = results.next()
        for each in (signal.SIGINT, signal.SIGTERM):
            os.kill(child, each)
        time.sleep(0.2)
        assert results.next() == "more"  # still there
    with pytest.raises(ProcessLookupError):  # killed and reaped: no zombie left
        os.kill(child, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_its_parent(tmp_path):
    script = textwrap.dedent(
        """
        import os, sys, time
        from imbalance_sweep.runtime.forked import ForkedResults

        def produce():
            yield os.getpid()
            time.sleep(60)  # a long cell: no write would tell it the parent is gone
            yield 0

        results = ForkedResults(produce).__enter__()
        print(results.next(), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not gone(child, seconds=0.2)
        parent.kill()
        parent.wait(10)
        assert gone(child)
    finally:
        parent.kill()
        parent.wait(10)
