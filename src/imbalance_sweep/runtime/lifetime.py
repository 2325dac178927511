"""A command's process from start to exit, as the doors' ``__main__`` runs it: when the cyclic
garbage collector runs.

MLflow's import makes thousands of modules' objects, which live as long as the process. The
collector would walk them again and again while they are made, and once more at exit, when the
OS frees them anyway: about 0.1 to 0.2 s of CPU at start and 0.5 to 1 s at exit, in a command of a
few seconds. Only a whole process is changed: a test or a Python session that calls a door keeps
the collector as it is.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Whether this process is one command from start to exit (a door's ``__main__``), not a test or a
# Python session that calls a door and goes on.
_whole_process: list[bool] = []


@contextlib.contextmanager
def whole_process() -> Iterator[None]:
    """A door's ``__main__``: the command is the whole process. Its imports (MLflow's thousands of
    modules) run without the cyclic collector, which would walk them again and again as they grow
    (:func:`imports_done` turns it back on); at its end its objects are the OS's to free: frozen, the
    interpreter's final collections skip them (0.5 to 1 s of a command's exit)."""
    _whole_process.append(True)
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()


def in_whole_process() -> bool:
    """Whether this process is one command from start to exit (a door's ``__main__``): only such a
    process forks a worker (sweep/ahead.py), not a test or a session that calls a door."""
    return bool(_whole_process)


def imports_done() -> None:
    """The door's heavy imports (MLflow, Hydra) are in: in a whole process, their objects, which live
    as long as the process, are kept off the collector's passes, and the collector is on again."""
    if _whole_process and not gc.isenabled():
        gc.freeze()
        gc.enable()
