"""mlpq engine: multilayer perceptrons in pure NumPy."""

from engine import datasets
from engine.network import Network
from engine.rules import SpecError, Violation
from engine.serialization import ModelFileError, load
from engine.training import Callback, History, TrainingError, TrainingState

__all__ = ["Network", "load", "datasets", "SpecError", "Violation", "TrainingError",
           "ModelFileError", "Callback", "History", "TrainingState"]
