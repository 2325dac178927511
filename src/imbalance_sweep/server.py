"""`python -m imbalance_sweep.server`: the command keeps its name; the code is in tracking/server.py."""

import sys

from .tracking.server import main

if __name__ == "__main__":
    sys.exit(main())
