"""`python -m imbalance_sweep.server`: the command keeps its name; the code is in tracking/server.py."""

import sys  # noqa: F401

from .cli import run_hydra_main  # noqa: F401
from .tracking.server import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
