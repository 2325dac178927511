"""What the command-line entry points share: one line and exit code 2 for a user's mistake, one line
and exit code 130/143 for Ctrl-C and SIGTERM, and Hydra overrides checked before Hydra acts on them
(and passed as one string where ``mlflow run -P overrides=...`` must pass them)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterator

from .checks import InvalidValue
from .tracking import TrackingError

EXIT_USER_ERROR = 2
PROGRAM = "imbalance-sweep"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: runs at work are closed KILLED (as for KeyboardInterrupt), then one line."""

    def __init__(self, signal_number: int = signal.SIGINT):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


_deferred: list[int] = []  # while a run is being created: the signal that arrived, raised after
_deferring = [False]


def _on_signal(signal_number: int, _frame) -> None:
    # One interruption is enough: a second Ctrl-C, or the SIGTERM `mlflow run` sends its command
    # after its own Ctrl-C, must not cut short the closing of the runs the first one started.
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    if _deferring[0]:
        _deferred.append(signal_number)
        return
    raise Interrupted(signal_number)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends: a run created in the block is then in the hands
    of whatever closes it (its ``closing`` entered in the block), never left RUNNING by a signal
    that arrived between the store's commit and the caller's knowing the run's id."""
    _deferring[0] = True
    try:
        yield
    finally:
        _deferring[0] = False
    if _deferred:
        raise Interrupted(_deferred.pop())


def install_interrupt_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (SIGTERM's default would end
    the process at once and leave its runs RUNNING)."""
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, _on_signal)


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


def report_user_error(error: Exception) -> int:
    """Print ``error`` as the one line a user sees; return the exit code."""
    print(f"{PROGRAM}: error: {error}", file=sys.stderr)
    return EXIT_USER_ERROR


def report_interrupt(error: KeyboardInterrupt, progress: str = "") -> int:
    """One line for Ctrl-C or SIGTERM (what was done, how to go on); return the shell's exit code."""
    number = getattr(error, "signal_number", signal.SIGINT)
    done = f"{progress}; " if progress else ""
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
        sys.exit(report_interrupt(error, getattr(error, "progress", "")))


def expand_overrides(argv: list[str]) -> list[str]:
    """Replace ``--overrides STRING`` / ``--overrides=STRING`` by the overrides STRING holds."""
    from .overrides import split_overrides

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
    """Call a ``@hydra.main`` function on ``sys.argv``: ``--overrides`` expanded, and the overrides
    checked first (nothing that instantiates code; Hydra's grammar mistakes as one line)."""
    from .app import CONFIG_DIR
    from .overrides import check_composes, refuse_code, without_safe_flags

    install_interrupt_handlers()
    os.environ.setdefault(CONTINUE_ENV, continue_command())
    with exit_on_user_error():
        sys.argv[1:] = expand_overrides(sys.argv[1:])
        overrides = without_safe_flags(sys.argv[1:])
        refuse_code(overrides)
        check_composes(CONFIG_DIR, config_name, overrides)
        main()
