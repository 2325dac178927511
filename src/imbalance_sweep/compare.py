"""`python -m imbalance_sweep.compare`: the command keeps its name; the code is in analysis/compare.py."""

import sys

from .analysis.compare import main

if __name__ == "__main__":
    sys.exit(main())
