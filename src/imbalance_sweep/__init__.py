"""imbalance-sweep: what validation losses and metrics tell you when one class is rare.

The core (grid, simulator, losses, metrics, evaluation) is pure numpy; MLflow and Hydra live in
``tracking`` and ``app``.
"""

from .checks import InvalidValue
from .evaluation import evaluate
from .expectations import expected
from .losses import BACKENDS, LOSS_NAMES
from .metrics import METRIC_NAMES
from .simulator import simulate

__all__ = ["BACKENDS", "LOSS_NAMES", "METRIC_NAMES", "InvalidValue", "evaluate", "expected", "simulate"]
__version__ = "0.1.0"
