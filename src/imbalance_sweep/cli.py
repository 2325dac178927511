"""What the command-line entry points share: one line and exit code 2 for a user's mistake, and
Hydra overrides passed as one string (as ``mlflow run -P overrides=...`` must pass them)."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Callable, Iterator

from .checks import InvalidValue
from .tracking import TrackingError

EXIT_USER_ERROR = 2


def report_user_error(error: Exception) -> int:
    """Print ``error`` as the one line a user sees; return the exit code."""
    print(f"imbalance-sweep: error: {error}", file=sys.stderr)
    return EXIT_USER_ERROR


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Bad input or an unusable tracking store ends the process with one line, not a traceback."""
    try:
        yield
    except (InvalidValue, TrackingError) as error:
        sys.exit(report_user_error(error))


def expand_overrides(argv: list[str]) -> list[str]:
    """Replace ``--overrides STRING`` / ``--overrides=STRING`` by the overrides STRING holds."""
    expanded, rest = [], iter(argv)
    for arg in rest:
        if arg == "--overrides":
            expanded.extend(shlex.split(next(rest, "")))
        elif arg.startswith("--overrides="):
            expanded.extend(shlex.split(arg.split("=", 1)[1]))
        else:
            expanded.append(arg)
    return expanded


def run_hydra_main(main: Callable[[], None]) -> None:
    """Call a ``@hydra.main`` function with ``--overrides`` expanded in ``sys.argv``."""
    sys.argv[1:] = expand_overrides(sys.argv[1:])
    main()
