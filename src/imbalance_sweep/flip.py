"""`python -m imbalance_sweep.flip`: the command keeps its name; the code is in analysis/flip.py."""

from .analysis.flip import main
from .cli import run_hydra_main, whole_process

if __name__ == "__main__":
    with whole_process():
        run_hydra_main(main, config_name="flip")
