"""``python -m imbalance_sweep [hydra overrides]``.

``--overrides "a=1 b=2"`` is also accepted: one string of overrides, split as a shell would, so
that ``mlflow run -P overrides=...`` can pass any number of them as one parameter.
"""

from .app import main
from .cli import run_hydra_main
from .runtime.lifetime import whole_process

if __name__ == "__main__":
    with whole_process():
        run_hydra_main(main, config_name="config")
