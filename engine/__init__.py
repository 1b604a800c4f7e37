"""mlpq engine: multilayer perceptrons in pure NumPy."""

from engine import datasets
from engine.network import Network
from engine.rules import SpecError, Violation
from engine.training import Callback, History, TrainingError, TrainingState

try:  # engine.serialization lands in a sibling change; re-exported plainly once it exists
    from engine.serialization import ModelFileError, load
except ImportError:  # pragma: no cover
    pass

__all__ = ["Network", "load", "datasets", "SpecError", "Violation", "TrainingError",
           "ModelFileError", "Callback", "History", "TrainingState"]
