"""mlpq engine: multilayer perceptrons in pure NumPy."""

from engine import datasets
from engine.network import Network
from engine.rules import SpecError, Violation
from engine.serialization import ModelFileError
from engine.training import Callback, History, TrainingError, TrainingState

load = Network.load  # read a model directory written by Network.save

__all__ = ["Network", "load", "datasets", "SpecError", "Violation", "TrainingError",
           "ModelFileError", "Callback", "History", "TrainingState"]
