"""``python -m imbalance_sweep.flip``: the command line of the flip analysis (analysis/flip.py): the
composed ``flip`` config in, the flip points printed and logged as one run. With
``--config-name flip_long_tail``, two K-class models along a path of priors (analysis/k_flip.py)."""

from __future__ import annotations

import os
import sys
from typing import Any, cast

import hydra
from omegaconf import DictConfig, OmegaConf

from .analysis.flip import flip_spec, run_flip
from .cli import exit_on_user_error, run_hydra_main
from .core.checks import InvalidValue, shown
from .runtime.lifetime import whole_process
from .sweep.config import CONFIG_DIR

# The configs the command runs: the binary flip (the default) and the K-class one
CONFIG_NAMES = ("flip", "flip_long_tail")
CONFIG_NAME_FLAGS = ("--config-name", "-cn")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="flip")
def main(config: DictConfig) -> None:
    """Run the flip analysis; a user's mistake ends with one line on stderr and exit code 2."""
    with exit_on_user_error():
        # a composed config is a DictConfig: its container is a dict with string keys
        spec = flip_spec(cast("dict[str, Any]", OmegaConf.to_container(config, resolve=True)))
        run_flip(spec, existing_run_id=os.environ.get("MLFLOW_RUN_ID") or None)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="flip_long_tail")
def main_long_tail(config: DictConfig) -> None:
    """Run the K-class flip analysis; a user's mistake ends with one line on stderr and exit code 2."""
    from .analysis.k_flip import k_flip_spec, run_k_flip

    with exit_on_user_error():
        spec = k_flip_spec(cast("dict[str, Any]", OmegaConf.to_container(config, resolve=True)))
        run_k_flip(spec, existing_run_id=os.environ.get("MLFLOW_RUN_ID") or None)


def config_name(argv: list[str]) -> tuple[str, list[str]]:
    """The config ``--config-name NAME`` (or ``-cn``, or ``--config-name=NAME``) picks, one of
    :data:`CONFIG_NAMES` (default ``flip``), and the arguments without it."""
    name, rest, arguments = "flip", [], iter(argv)
    for arg in arguments:
        flag, equals, value = arg.partition("=")
        if flag not in CONFIG_NAME_FLAGS:
            rest.append(arg)
            continue
        given = value if equals else next(arguments, None)
        if given not in CONFIG_NAMES:
            value_text = "" if given is None else f"={shown(given)}"
            raise InvalidValue(f"{flag}{value_text} is not one of: {', '.join(CONFIG_NAMES)}")
        name = given
    return name, rest


if __name__ == "__main__":
    with whole_process():
        with exit_on_user_error():
            chosen, sys.argv[1:] = config_name(sys.argv[1:])
        run_hydra_main(main_long_tail if chosen == "flip_long_tail" else main, config_name=chosen)
