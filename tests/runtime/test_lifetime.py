"""runtime/lifetime.py: a whole command's process imports without the cyclic collector and ends with
its objects frozen; a process that only calls a door (a test, a session) keeps its collector."""

import subprocess
import sys

from imbalance_sweep.runtime import lifetime

WHOLE_COMMAND = """
import gc
from imbalance_sweep.runtime.lifetime import imports_done, whole_process
with whole_process():
    print(gc.isenabled(), gc.get_freeze_count() == 0)
    import json  # an import of the command
    imports_done()
    print(gc.isenabled(), gc.get_freeze_count() > 0)
    imports_done()  # a second call changes nothing
    print(gc.isenabled())
"""


def test_a_whole_command_imports_without_the_collector_then_turns_it_on_with_the_imports_frozen():
    done = subprocess.run([sys.executable, "-c", WHOLE_COMMAND], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True", "True", "True"]


def test_outside_a_whole_process_the_collector_is_left_as_it_is():
    import gc

    frozen = gc.get_freeze_count()
    assert not lifetime._whole_process
    lifetime.imports_done()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
