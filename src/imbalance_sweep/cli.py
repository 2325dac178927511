"""What the command-line entry points share: one line and exit code 2 for a user's mistake, one line
and exit code 130/143 for Ctrl-C and SIGTERM (runtime/ does both), and Hydra overrides checked before
Hydra acts on them (and passed as one string where ``mlflow run -P overrides=...`` must pass them)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

from .core.checks import InvalidValue
from .runtime.signals import become_launching_process, raise_if_workers_were_interrupted
from .runtime.user_errors import exit_in_one_line, report_user_error
from .tracking.errors import USER_ERRORS

__all__ = [
    "exit_on_user_error",
    "expand_overrides",
    "report_user_error",
    "run_hydra_main",
]


def exit_on_user_error() -> contextlib.AbstractContextManager[None]:
    """Bad input or an unusable tracking store ends the process with one line, not a traceback;
    so does an interruption (its runs were closed KILLED on the way out)."""
    return exit_in_one_line(USER_ERRORS)


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

    become_launching_process()
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
        raise_if_workers_were_interrupted()
