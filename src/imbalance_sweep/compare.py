"""`python -m imbalance_sweep.compare`: the command keeps its name; the code is in analysis/compare.py."""

import sys  # noqa: F401

from .analysis.compare import main  # noqa: F401
from .cli import run_hydra_main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
