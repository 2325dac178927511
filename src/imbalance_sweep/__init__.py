"""imbalance-sweep: what validation losses and metrics tell you when one class is rare.

The layers are folders: ``core`` (pure numpy; this API is its), ``sweep``, ``tracking`` (MLflow,
and only there) and ``analysis``; ``app`` is the Hydra entry point.
"""

from .core.checks import InvalidValue
from .core.evaluation import evaluate
from .core.expectations import expected
from .core.losses import BACKENDS, LOSS_NAMES
from .core.metrics import METRIC_NAMES
from .core.simulator import simulate

__all__ = ["BACKENDS", "LOSS_NAMES", "METRIC_NAMES", "InvalidValue", "evaluate", "expected", "simulate"]
__version__ = "0.1.0"
