"""mlpq engine: multilayer perceptrons in pure NumPy.

docs/engine.md walks through one training step with links to the lines. The modules:

    textbook        the reference: feedforward and backprop as the textbook writes them
    network         Network: the same feedforward and backprop made fast; predictions, fit, save/load
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
    trace           one training step with every intermediate, by textbook name; saliency
    serialization   model and checkpoint files (JSON + .npz, never pickle)
    storage         atomic directory writes
    datasets        MNIST, Fashion-MNIST, toy sets, and the built-in tables (table_datasets)
    tables          a table's preprocessing, which a model carries: standardised numbers, one-hot
                    categories, the target's classes or scale (cells in table_encoding,
                    checks of a stored one in table_checks)
    evaluation      accuracy, precision, recall, confusion matrix; which way each metric improves
    tasks           classification or regression: each task's loss and metrics, a target's scale
    metrics         each task's per-epoch metrics: accuracy; rmse, mae, r2 in the target's units
    examples        built-in teaching examples (perceptron, XOR, Nielsen's network, ...)
    flops, plan, calibration   the work, memory and time of a job before it runs
    diagnostics     per-layer health each epoch
    advice          teaching warnings about a spec (data_advice: about a table's training data)
"""

from engine import datasets
from engine.network import Network
from engine.rules import SpecError, Violation
from engine.serialization import ModelFileError
from engine.training import Callback, History, TrainingError, TrainingState

load = Network.load  # read a model directory written by Network.save

__all__ = ["Network", "load", "datasets", "SpecError", "Violation", "TrainingError",
           "ModelFileError", "Callback", "History", "TrainingState"]
