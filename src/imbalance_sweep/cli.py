"""What the command-line entry points share: one line and exit code 2 for a user's mistake, one line
and exit code 130/143 for Ctrl-C and SIGTERM, and Hydra overrides checked before Hydra acts on them
(and passed as one string where ``mlflow run -P overrides=...`` must pass them)."""

from __future__ import annotations

import contextlib
import gc
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator

from .core.checks import InvalidValue
from .interrupts import SIGNALS, Interrupted, install_interrupt_handlers
from .processes import command_line, pids, stat_fields
from .tracking.errors import TrackingError

EXIT_USER_ERROR = 2
PROGRAM = "imbalance-sweep"


# The first signal of a process that does not raise it at once: a multirun's launching process
# (joblib, Ray), or a launcher's worker process between and after its jobs.
_received: list[int] = []


def _record_signal(signal_number: int, _frame) -> None:
    if not _received:
        _received.append(signal_number)


# The process that ran run_hydra_main, as "host:pid": a launcher's worker process (joblib, Ray)
# inherits it and so knows it is one, and whom to tell of a signal.
LAUNCHER_ENV = "IMBALANCE_SWEEP_LAUNCHER"


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        number = getattr(interrupted, "signal_number", signal.SIGINT)
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
    closing its runs KILLED, and :func:`run_hydra_main` prints the one line. Raising here instead
    would have joblib (loky) kill the workers with SIGKILL while they close their runs. The signals
    stay blocked in this thread, so that the processes started from now on (loky's workers, Ray's
    daemons and workers) start with them blocked: a worker between jobs, or Ray's raylet, is not
    ended by a signal to the process group. A watcher thread, started before the block so that it
    can take the signals, learns of them through the wakeup fd (the main thread may be in a long
    blocking call), passes them on, and stops waiting after WORKERS_CLOSE_SECONDS with the one line.
    ``start_workers`` starts, signals blocked, what would later replace the handlers (``ray.init``
    installs its own) or unblock the signals (a resource tracker's start)."""
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
        signal.signal(each, _record_signal)  # one interruption is enough (see interrupts._on_signal)
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
            Interrupted(_received[0]),
            f"worker processes still at work {WORKERS_CLOSE_SECONDS:g} s after the signal were left "
            "(a run they hold stays RUNNING until the sweep runs again)",
        )
        os._exit(128 + _received[0])


def descendant_pids(root: int, marker: str) -> list[int]:
    """The processes below ``root`` (Linux /proc) whose command line contains ``marker``."""
    parents, commands = {}, {}
    for pid in pids():
        fields, arguments = stat_fields(pid), command_line(pid)
        if fields is None or arguments is None:
            continue
        commands[pid] = " ".join(arguments)
        parents[pid] = int(fields[1])
    found = []
    for pid, command in commands.items():
        ancestor = parents.get(pid)
        while ancestor and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root and marker in command:
            found.append(pid)
    return found


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


# Told the one line before it is printed (launch.py: the run `mlflow run` made records it).
_user_error_listeners: list[Callable[[str], None]] = []


def on_user_error(listener: Callable[[str], None]) -> None:
    if listener not in _user_error_listeners:
        _user_error_listeners.append(listener)


def report_user_error(error: Exception) -> int:
    """Print ``error`` as the one line a user sees; return the exit code."""
    line = f"{PROGRAM}: error: {error}"
    for listener in _user_error_listeners:
        listener(line)
    print(line, file=sys.stderr, flush=True)
    return EXIT_USER_ERROR


def report_interrupt(error: KeyboardInterrupt, progress: str = "") -> int:
    """One line for Ctrl-C or SIGTERM (what was done, how to go on); return the shell's exit code."""
    number = getattr(error, "signal_number", signal.SIGINT)
    done = f"{progress}; " if progress else ""
    unclosed = getattr(error, "unclosed", [])  # runs the store, locked, did not let close KILLED
    if unclosed:
        done += f"left RUNNING, the store stayed locked: {', '.join(unclosed)}; "
    print(
        f"{PROGRAM}: interrupted ({signal.Signals(number).name}): {done}"
        f"run the same command to continue: {continue_command()}",
        file=sys.stderr,
        flush=True,
    )
    return 128 + number


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Bad input or an unusable tracking store ends the process with one line, not a traceback;
    so does an interruption (its runs were closed KILLED on the way out)."""
    try:
        yield
    except (InvalidValue, TrackingError) as error:
        sys.exit(report_user_error(error))
    except KeyboardInterrupt as error:
        if in_launchers_worker():
            raise  # run_job ends the job quietly: the launching process prints the line
        sys.exit(report_interrupt(error, getattr(error, "progress", "")))


# Whether this process is one command from start to exit (a door's ``__main__``), not a test or a
# Python session that calls a door and goes on.
_whole_process: list[bool] = []


@contextlib.contextmanager
def whole_process() -> Iterator[None]:
    """A door's ``__main__``: the command is the whole process. At its end its objects are the OS's
    to free: frozen, the interpreter's final collections skip them (0.5 to 1 s of a command's exit
    once MLflow's thousands of modules are loaded)."""
    _whole_process.append(True)
    try:
        yield
    finally:
        gc.freeze()


def imports_done() -> None:
    """Heavy imports (MLflow, Hydra) are in: in a whole process, keep the collector's full passes
    off their objects, which live as long as the process (a few tenths of a second of a sweep)."""
    if _whole_process and not gc.get_freeze_count():
        gc.freeze()


def expand_overrides(argv: list[str]) -> list[str]:
    """Replace ``--overrides STRING`` / ``--overrides=STRING`` by the overrides STRING holds."""
    from .sweep.overrides import split_overrides

    expanded, rest = [], iter(argv)
    for arg in rest:
        if arg == "--overrides":
            expanded.extend(split_overrides(next(rest, "")))
        elif arg.startswith("--overrides="):
            expanded.extend(split_overrides(arg.split("=", 1)[1]))
        else:
            expanded.append(arg)
    return expanded


def run_hydra_main(main: Callable[[], None], *, config_name: str) -> None:
    """Call a ``@hydra.main`` function on ``sys.argv``: ``--overrides`` expanded, ``-m`` put first,
    and the overrides checked first (nothing that instantiates code; Hydra's grammar mistakes as one line)."""
    from .sweep.config import CONFIG_DIR
    from .sweep.overrides import (
        MULTIRUN_FLAGS,
        SWEPT_KEYS_ENV,
        check_composes,
        refuse_code,
        swept_keys,
        without_safe_flags,
    )

    install_interrupt_handlers()
    os.environ.setdefault(CONTINUE_ENV, continue_command())
    os.environ[LAUNCHER_ENV] = _this_process()
    with exit_on_user_error():
        arguments = expand_overrides(sys.argv[1:])
        # -m anywhere (Hydra's parser takes it only before the overrides or after them all)
        flags = [arg for arg in arguments if arg in MULTIRUN_FLAGS]
        sys.argv[1:] = flags + [arg for arg in arguments if arg not in MULTIRUN_FLAGS]
        overrides = without_safe_flags(sys.argv[1:])
        refuse_code(overrides)
        if overrides:  # shipped configs compose (tests/sweep/test_config.py); only overrides break them
            check_composes(CONFIG_DIR, config_name, overrides)
        swept = swept_keys(overrides)
        if swept and not flags:
            raise InvalidValue(
                f"{swept[0]} is given several values (a sweep): add -m to run one sweep per value, "
                "or give one value (a list in brackets is one value)"
            )
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept)  # for the jobs of a multirun
        main()
        if _received:  # a multirun's launching process, its workers' runs closed (launch_in_workers)
            with _report_lock:
                _stand_down.set()
            raise Interrupted(_received[0])
