"""`python -m imbalance_sweep.compare`: the command keeps its name; the code is in analysis/compare.py."""

import sys

from .analysis.compare import main
from .cli import whole_process

if __name__ == "__main__":
    with whole_process():
        status = main()
    sys.exit(status)
