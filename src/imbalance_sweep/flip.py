"""`python -m imbalance_sweep.flip`: the command keeps its name; the code is in analysis/flip.py."""

import sys  # noqa: F401

from .analysis.flip import main  # noqa: F401
from .cli import run_hydra_main  # noqa: F401

if __name__ == "__main__":
    run_hydra_main(main, config_name="flip")
