"""``python -m imbalance_sweep.flip``: the command line of the flip analysis (analysis/flip.py): the
composed ``flip`` config in, the flip points printed and logged as one run."""

from __future__ import annotations

import os
from typing import Any, cast

import hydra
from omegaconf import DictConfig, OmegaConf

from .analysis.flip import flip_spec, run_flip
from .cli import exit_on_user_error, run_hydra_main
from .runtime.lifetime import whole_process
from .sweep.config import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="flip")
def main(config: DictConfig) -> None:
    """Run the flip analysis; a user's mistake ends with one line on stderr and exit code 2."""
    with exit_on_user_error():
        # a composed config is a DictConfig: its container is a dict with string keys
        spec = flip_spec(cast("dict[str, Any]", OmegaConf.to_container(config, resolve=True)))
        run_flip(spec, existing_run_id=os.environ.get("MLFLOW_RUN_ID") or None)


if __name__ == "__main__":
    with whole_process():
        run_hydra_main(main, config_name="flip")
