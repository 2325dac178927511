"""Ctrl-C and SIGTERM, all in this module: the handlers, the holding of a signal while a store write is
under way, the interrupted exception, the closing of the runs at work, the one line that reports it,
and the passing of a signal between a multirun's launching process and its worker processes.

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
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

from . import PROGRAM
from .processes import descendant_pids

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: runs at work are closed KILLED (as for KeyboardInterrupt), then one line.

    It carries what that line says: how far the work got (``progress``, set by the loop that was
    interrupted) and the runs the store, locked, did not let close KILLED (``unclosed``). A plain
    KeyboardInterrupt (Python's own handler: no door installed these) carries neither."""

    def __init__(self, signal_number: int = signal.SIGINT, *, progress: str = ""):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number
        self.progress = progress
        self.unclosed: list[str] = []


def _signal_number(error: KeyboardInterrupt) -> int:
    return error.signal_number if isinstance(error, Interrupted) else signal.SIGINT


# --- the handlers, and holding a signal while a write is under way ---------------------------------

_deferred: list[int] = []  # the signal that arrived in a block, raised where the outermost ends
_depth = [0]  # blocks of interrupts_deferred the main thread is in


def _on_signal(signal_number: int, _frame: FrameType | None) -> None:
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


PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies


def terminate_with_parent() -> None:
    """Get SIGTERM when the parent (``mlflow run``) dies (Linux). A scheduler's SIGTERM to ``mlflow
    run`` alone ends it at once, without passing the signal on; this process would go on unseen,
    holding its runs RUNNING. With it, the runs are closed KILLED as for any SIGTERM."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


# --- the runs at work, closed ------------------------------------------------------------------


def close_interrupted(
    interrupted: KeyboardInterrupt,
    run_id: str,
    close_killed: Callable[[str], None],
    *,
    refused: type[Exception],
) -> None:
    """A run at work when the interruption came, closed KILLED by ``close_killed``. A store that
    refuses (``refused``: it stayed locked) leaves the run RUNNING (the next run of the sweep marks
    it FAILED and computes its cell again): the interruption goes on, and names the run in its line."""
    try:
        close_killed(run_id)
    except refused:
        if isinstance(interrupted, Interrupted):
            interrupted.unclosed.append(run_id)


# --- the one line -------------------------------------------------------------------------------

# The command that repeats this one (a sweep continues where it stopped); set by the entry point.
_continue_command: list[str] = []


def set_continue_command(command: list[str]) -> None:
    _continue_command[:] = command


# The launching process's command, for a launcher's worker processes (joblib, Ray) to print.
CONTINUE_ENV = "IMBALANCE_SWEEP_COMMAND"


def continue_command() -> str:
    """This command as it was typed (``python -m imbalance_sweep grid=dense``), unless an entry point
    said, or the process is a launcher's worker (then its launching command)."""
    if _continue_command:
        return shlex.join(_continue_command)
    if os.environ.get(CONTINUE_ENV):
        return os.environ[CONTINUE_ENV]
    return shlex.join([os.path.basename(sys.orig_argv[0]), *sys.orig_argv[1:]])


def report_interrupt(error: KeyboardInterrupt) -> int:
    """One line for Ctrl-C or SIGTERM (what was done, how to go on); return the shell's exit code."""
    number = _signal_number(error)
    progress = error.progress if isinstance(error, Interrupted) else ""
    unclosed = error.unclosed if isinstance(error, Interrupted) else []
    done = f"{progress}; " if progress else ""
    if unclosed:
        done += f"left RUNNING, the store stayed locked: {', '.join(unclosed)}; "
    print(
        f"{PROGRAM}: interrupted ({signal.Signals(number).name}): {done}"
        f"run the same command to continue: {continue_command()}",
        file=sys.stderr,
        flush=True,
    )
    return 128 + number


def exit_interrupted(error: KeyboardInterrupt) -> NoReturn:
    """End the process with the interruption's one line and exit code 128+signal; in a launcher's
    worker, raise it on instead: :func:`run_job` ends the job quietly and the launching process
    prints the line."""
    if in_launchers_worker():
        raise error
    sys.exit(report_interrupt(error))


# --- a multirun's launching process and its worker processes (joblib, Ray) ------------------------

# The first signal of a process that does not raise it at once: a multirun's launching process
# (joblib, Ray), or a launcher's worker process between and after its jobs.
_received: list[int] = []


def _record_signal(signal_number: int, _frame: FrameType | None) -> None:
    if not _received:
        _received.append(signal_number)


# The process that runs Hydra's main, as "host:pid": a launcher's worker process (joblib, Ray)
# inherits it and so knows it is one, and whom to tell of a signal.
LAUNCHER_ENV = "IMBALANCE_SWEEP_LAUNCHER"


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def become_launching_process() -> None:
    """This process runs Hydra's main (one job, or a multirun's launching process): Ctrl-C and SIGTERM
    raise :class:`Interrupted`, and the worker processes a launcher starts inherit whom to tell of a
    signal and the command that continues the sweep."""
    install_interrupt_handlers()
    os.environ.setdefault(CONTINUE_ENV, continue_command())
    os.environ[LAUNCHER_ENV] = _this_process()


def in_launchers_worker() -> bool:
    """Whether this process runs jobs for a multirun launched by another process (joblib, Ray)."""
    return os.environ.get(LAUNCHER_ENV, _this_process()) != _this_process()


def _tell_launcher(signal_number: int) -> None:
    """A worker interrupted on its own (its pid signalled): the whole multirun stops, as for a signal
    to the launching process. A launcher that got the signal already ignores it."""
    host, _, pid = os.environ.get(LAUNCHER_ENV, "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid), signal_number)


def run_job(job: Callable[[], None]) -> None:
    """Run one Hydra job, Ctrl-C and SIGTERM closing its runs KILLED.

    In a launcher's worker process the job then ends quietly: the launching process prints the one
    line and exits 128+signal, and an exception out of the job would have joblib kill the other
    workers (SIGKILL) while they close their runs. A worker starts with the signals blocked (see
    :func:`launch_in_workers`) and takes them only while a job runs; an interrupted worker starts
    no further job."""
    if threading.current_thread() is not threading.main_thread():
        job()  # signals reach the main thread only: nothing to install
        return
    if not in_launchers_worker():
        install_interrupt_handlers()
        job()
        return
    if _received:
        return
    try:
        try:
            install_interrupt_handlers()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # a signal that waited arrives now
            job()
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            for each in SIGNALS:
                signal.signal(each, _record_signal)
    except KeyboardInterrupt as interrupted:
        number = _signal_number(interrupted)
        _record_signal(number, None)
        _tell_launcher(number)


# How long a multirun's launching process waits, after a signal, for its workers to close their runs.
WORKERS_CLOSE_SECONDS = 30.0
_stand_down = threading.Event()  # the launching process reports the interruption itself
_report_lock = threading.Lock()
_wakeup: list[socket.socket] = []


def launch_in_workers(worker_marker: str, start_workers: Callable[[], None] | None = None) -> None:
    """Set the signal rules of a multirun's launching process whose jobs run in worker processes.

    Ctrl-C or SIGTERM is recorded and passed on to the workers (its descendants whose command line
    holds ``worker_marker``); the launcher then waits for its jobs to end normally, each worker
    closing its runs KILLED, and :func:`raise_if_workers_were_interrupted` raises the interruption
    for the one line. Raising at once instead would have joblib (loky) kill the workers with SIGKILL
    while they close their runs. The signals stay blocked in this thread, so that the processes
    started from now on (loky's workers, Ray's daemons and workers) start with them blocked: a
    worker between jobs, or Ray's raylet, is not ended by a signal to the process group. A watcher
    thread, started before the block so that it can take the signals, learns of them through the
    wakeup fd (the main thread may be in a long blocking call), passes them on, and stops waiting
    after WORKERS_CLOSE_SECONDS with the one line. ``start_workers`` starts, signals blocked, what
    would later replace the handlers (``ray.init`` installs its own) or unblock the signals (a
    resource tracker's start)."""
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    _wakeup[:] = [reader, writer]  # both open for the process's life: a later signal still writes
    watcher = threading.Thread(
        target=_watch, args=(reader, worker_marker), name="imbalance-sweep-signal-watch", daemon=True
    )
    watcher.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    if start_workers:
        start_workers()
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # in case starting them unblocked the signals
    for each in SIGNALS:
        signal.signal(each, _record_signal)  # one interruption is enough (see _on_signal)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)


def _watch(reader: socket.socket, worker_marker: str) -> None:
    while (number := reader.recv(1)[0]) not in SIGNALS:
        pass
    _record_signal(number, None)
    for pid in descendant_pids(os.getpid(), worker_marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, number)
    if _stand_down.wait(WORKERS_CLOSE_SECONDS):
        return
    with _report_lock:
        if _stand_down.is_set():
            return
        report_interrupt(
            Interrupted(
                _received[0],
                progress=f"worker processes still at work {WORKERS_CLOSE_SECONDS:g} s after the signal "
                "were left (a run they hold stays RUNNING until the sweep runs again)",
            )
        )
        os._exit(128 + _received[0])


def raise_if_workers_were_interrupted() -> None:
    """After a multirun whose launching process passed a signal on (:func:`launch_in_workers`) and
    whose workers closed their runs: the interruption, for this process's one line."""
    if _received:
        with _report_lock:
            _stand_down.set()
        raise Interrupted(_received[0])
