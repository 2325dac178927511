"""Work done in a forked child process while this one goes on, its results read back in order.

A sweep's cells are numpy work and its logging is MLflow's Python: in one process they take turns,
and a thread would not help (both hold the GIL most of the time). A child forked once the imports
are in shares them for free, computes ahead, and hands each result back through a pipe.

The child is this process's helper and nothing else:

* Ctrl-C and SIGTERM are this process's to handle (they close its runs KILLED): the child ignores
  them, and is killed (SIGKILL) and reaped when this process is done with it, however that happens.
* It dies with this process (``PR_SET_PDEATHSIG`` on Linux; elsewhere, at its next write to the
  closed pipe): a killed command leaves no worker computing.
* It never runs this process's exit handlers, flushes its buffers or closes its files and store
  connections: it ends with ``os._exit``, and the objects it inherits are frozen away from its
  collector, so no finalizer of theirs runs in it.
* An exception in it comes back as a result and is raised here, where the same call would have
  raised it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Iterable
from typing import Any

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
F_SETPIPE_SZ = 1031  # fcntl(2), Linux: a pipe's capacity
PIPE_BYTES = 1 << 20  # the child may run this far ahead of the reader (Linux's default maximum)
HEADER = struct.Struct("<Q")  # each message: its length, then its pickle


class ChildLost(RuntimeError):
    """The child ended without sending what was asked of it (killed by the OS, out of memory)."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether a forked child would run beside this process: a POSIX fork and a second CPU."""
    return hasattr(os, "fork") and usable_cpus() >= 2


class ForkedResults:
    """The items of ``produce()``, an iterable run in a forked child, read here one by one in order.

    Use as a context manager: entering forks, leaving kills and reaps the child. :meth:`next` gives
    the next item, or raises what the child raised producing it (:class:`ChildLost` if it died).
    """

    def __init__(self, produce: Callable[[], Iterable[object]]):
        self._produce = produce
        self._pid: int | None = None
        self._reader: int | None = None
        self._ended = False

    def __enter__(self) -> ForkedResults:
        reader, writer = os.pipe()
        with contextlib.suppress(OSError):  # Linux: a larger pipe lets the child run further ahead
            fcntl.fcntl(writer, F_SETPIPE_SZ, PIPE_BYTES)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(reader)
            _run_child(self._produce, writer, parent)
        os.close(writer)
        self._pid, self._reader = pid, reader
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def next(self) -> Any:
        """The next item the child produced (waiting for it), or what the child raised."""
        if self._reader is None or self._ended:
            raise ChildLost("the forked worker has no more results")
        kind, payload = _receive(self._reader)
        if kind == "item":
            return payload
        self._ended = True
        if kind == "error":
            raise payload
        raise ChildLost("the forked worker ended before its work was done")

    def close(self) -> None:
        """Kill the child (it has nothing left that this process wants) and reap it."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None
        if self._reader is not None:
            os.close(self._reader)
            self._reader = None


def _run_child(produce: Callable[[], Iterable[object]], writer: int, parent: int) -> None:
    """The child's whole life: produce, send, ``os._exit``."""
    try:
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, signal.SIG_IGN)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)  # a signal here must not wake the parent's watcher
        gc.freeze()  # the parent's objects: never collected (finalized) here
        _die_with(parent)
        try:
            for item in produce():
                _send(writer, "item", item)
        except Exception as error:
            _send(writer, "error", _picklable(error))
        else:
            _send(writer, "end", None)
    except BaseException:  # a broken pipe (the parent is gone) or anything else: the child just ends
        pass
    finally:
        os._exit(0)


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux), or now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _picklable(error: Exception) -> Exception:
    """``error`` if it survives the pipe, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any failure to round-trip
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _send(writer: int, kind: str, payload: object) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(writer, view) :]


def _receive(reader: int) -> tuple[str, Any]:
    header = _read_exactly(reader, HEADER.size)
    if header is None:
        return "lost", None
    data = _read_exactly(reader, HEADER.unpack(header)[0])
    if data is None:
        return "lost", None
    kind, payload = pickle.loads(data)
    return str(kind), payload


def _read_exactly(reader: int, size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the pipe (the child is gone)."""
    parts: list[bytes] = []
    while size:
        part = os.read(reader, min(size, PIPE_BYTES))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
