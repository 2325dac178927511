"""A user's mistake as one line on stderr and exit code 2, never a traceback; an interruption in the
same block ends with its own line (signals.exit_interrupted)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from . import PROGRAM
from .signals import exit_interrupted

EXIT_USER_ERROR = 2

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


@contextlib.contextmanager
def exit_in_one_line(user_errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """The block's ``user_errors`` (bad input, an unusable store) end the process with one line, not
    a traceback; so does an interruption (its runs were closed KILLED on the way out). The layer
    that knows which exceptions are a user's names them (tracking.errors.USER_ERRORS)."""
    try:
        yield
    except user_errors as error:
        sys.exit(report_user_error(error))
    except KeyboardInterrupt as error:
        exit_interrupted(error)
