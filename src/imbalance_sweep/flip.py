"""`python -m imbalance_sweep.flip`: the command keeps its name; the code is in analysis/flip.py."""

from .analysis.flip import main
from .cli import run_hydra_main

if __name__ == "__main__":
    run_hydra_main(main, config_name="flip")
