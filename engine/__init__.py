"""mlpq engine: multilayer perceptrons in pure NumPy.

docs/engine.md walks through one training step with links to the lines. The modules:

    network         Network: parameters, feedforward, backprop, predictions, fit, save/load
    training        the mini-batch loop behind fit: epochs, batches, callbacks, checkpoints
    activations     each activation's forward beside its backward, in a registry
    losses          each loss's value beside its delta (BP1), in a registry
    optimizers      SGD, momentum, Adam: objects holding their own state
    regularization  L2 weight decay: the penalty beside its gradient
    workspace       preallocated per-batch buffers (speed)
    initializers    weight initialisation (he, xavier, normal, ...)
    schedules       learning-rate schedules
    stopping        early stopping
    spec, rules     validation of model specs and training configs, every rule once, as data
    trace           one training step with every intermediate, by textbook name
    serialization   model and checkpoint files (JSON + .npz, never pickle)
    storage         atomic directory writes
    datasets        MNIST, Fashion-MNIST and toy sets
    evaluation      accuracy, precision, recall, confusion matrix
    examples        built-in teaching examples (perceptron, XOR, Nielsen's network, ...)
    flops, plan, calibration   the work, memory and time of a job before it runs
    diagnostics     per-layer health each epoch
    advice          teaching warnings about a spec
"""

from engine import datasets
from engine.network import Network
from engine.rules import SpecError, Violation
from engine.serialization import ModelFileError
from engine.training import Callback, History, TrainingError, TrainingState

load = Network.load  # read a model directory written by Network.save

__all__ = ["Network", "load", "datasets", "SpecError", "Violation", "TrainingError",
           "ModelFileError", "Callback", "History", "TrainingState"]
