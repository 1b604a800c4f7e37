"""The mini-batch training loop behind `Network.fit`: epochs, callbacks, early stopping,
learning-rate schedules, and checkpoints that resume bit-identically."""

import math
import time

import numpy as np

from engine.diagnostics import Diagnostics
from engine.flops import training_samples
from engine.metrics import measure, tally, validation_keys
from engine.optimizers import make_optimizer
from engine.schedules import SCHEDULES
from engine.spec import validate_training_config
from engine.stopping import COMPLETED, EARLY_STOPPING, STOPPED, EarlyStopping

HOOKS = ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class TrainingError(RuntimeError):
    """Training cannot go on, e.g. "non-finite loss at epoch 3, batch 17"; `.epoch`, `.batch`."""

    def __init__(self, message, *, epoch=None, batch=None):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class Callback:
    """Override any hook; each receives the `TrainingState`. Hooks left alone cost nothing."""

    def on_train_begin(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass


class TrainingState:
    """What callbacks see: `epoch` (1-based, current), `epochs`, `batch` (1-based), `batches`,
    `samples_seen` (this fit), `history` (per-epoch entries so far), `network`,
    `learning_rate`, and `stop()`, honoured after the current batch."""

    def __init__(self, network, epochs, batches, history):
        self.network, self.epochs, self.batches, self.history = network, epochs, batches, history
        self.epoch = self.batch = self.samples_seen = 0
        self.learning_rate = None
        self.stop_requested = False

    def stop(self):
        self.stop_requested = True


class History:
    """`.epochs`: the per-epoch entries; `.history`: the same as a dict of lists (Keras);
    `.stop_reason`: one of engine.stopping.STOP_REASONS; `.best_epoch`: 1-based or None."""

    def __init__(self, epochs, stop_reason, best_epoch):
        self.epochs, self.stop_reason, self.best_epoch = epochs, stop_reason, best_epoch

    @property
    def history(self):
        keys = self.epochs[0].keys() if self.epochs else ()
        return {key: [entry[key] for entry in self.epochs] for key in keys}

    def __repr__(self):
        return f"<History {len(self.epochs)} epochs, {self.stop_reason}, best {self.best_epoch}>"


class Run:
    """Everything a fit needs to continue exactly where it left off after an epoch."""

    def __init__(self, network, config):
        self.config = config
        self.optimizer = make_optimizer(config["optimizer"])
        self.rng = np.random.default_rng(config["seed"])
        self.stopping = EarlyStopping.from_config(config["early_stopping"])
        self.completed_epochs = 0
        self.epoch_complete = True
        self.history = []
        self.diagnostics = None  # a Diagnostics when each epoch measures per-layer health
        # the optimizer sees the whole network as one weight vector and one bias vector
        self.param_groups = [{"W": network.weights, "b": network.biases}]
        self.grad_groups = [{"W": network.weight_grads, "b": network.bias_grads}]


def train(network, X, y, config, *, callbacks=(), resume_from=None, validation_data=None,
          diagnostics=True):
    """Fit `network` on (X, y); see `Network.fit`. Returns a History.

    With `diagnostics`, each epoch's entry carries `layers`: per-layer health measured on a
    fixed sample of the training rows (engine.diagnostics)."""
    if resume_from is not None:
        config = {**resume_from["training_config"], **config}
    config = validate_training_config(config, has_validation_data=validation_data is not None,
                                      task=network.task)
    # the training set's values are checked only if the loss turns non-finite (see run_epoch):
    # a pass over all of X would cost a few percent of an epoch
    X, y = _as_training_data(network, X, y, check_finite=False)
    (X, y), validation = _split(network, X, y, config["validation_split"], validation_data)
    run = Run(network, config)
    if diagnostics:
        run.diagnostics = Diagnostics(X, y)
    if resume_from is not None:
        restore(network, run, resume_from)
    network.training_config, network.history, network._training = config, run.history, run
    hooks = {name: [getattr(callback, name) for callback in callbacks or ()
                    if getattr(type(callback), name, None) is not getattr(Callback, name)]
             for name in HOOKS}
    batches = math.ceil(len(X) / config["batch_size"])
    state = TrainingState(network, config["epochs"], batches, run.history)
    _call(hooks["on_train_begin"], state)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # a diverging run raises TrainingError below instead of spraying RuntimeWarnings
        stop_reason = _epochs(network, run, X, y, validation, state, hooks)
    if run.stopping is not None and run.epoch_complete:
        run.stopping.restore(network)
    _call(hooks["on_train_end"], state)
    return History(run.history, stop_reason, _best_epoch(run))


def _epochs(network, run, X, y, validation, state, hooks):
    """Run the remaining epochs; returns the stop reason."""
    stop_reason = COMPLETED
    for epoch_index in range(run.completed_epochs, run.config["epochs"]):
        if state.stop_requested:
            stop_reason = STOPPED
            break
        entry = run_epoch(network, run, X, y, epoch_index, state, hooks["on_batch_end"])
        if not run.epoch_complete:
            stop_reason = STOPPED
            break
        if validation is not None:
            entry.update(measure(network, *validation, validation=True))
        entry["seconds"] = time.perf_counter() - entry.pop("started")
        run.history.append(entry)
        run.completed_epochs = epoch_index + 1
        early_stop = run.stopping is not None and run.stopping.update(entry, network)
        _call(hooks["on_epoch_end"], state)
        if early_stop:
            stop_reason = EARLY_STOPPING
            break
    return stop_reason


def run_epoch(network, run, X, y, epoch_index, state, batch_hooks):
    """One pass over (X, y) in shuffled mini-batches; returns the epoch's history entry."""
    config, optimizer, rng = run.config, run.optimizer, run.rng
    schedule = dict(config["lr_schedule"])
    optimizer.learning_rate = SCHEDULES[schedule.pop("name")](
        config["optimizer"]["learning_rate"], epoch_index, config["epochs"], **schedule)
    state.epoch, state.learning_rate = epoch_index + 1, optimizer.learning_rate
    started = time.perf_counter()
    n, batch_size, units = len(X), config["batch_size"], network.sizes[-1]
    targets = network.loss.targets(y, units, network.dtype)
    order = rng.permutation(n) if config["shuffle"] else None
    loss_sum, metrics = 0.0, tally(network, y)
    run.epoch_complete = False
    seen_before = state.samples_seen
    for batch, start in enumerate(range(0, n, batch_size), start=1):
        stop = min(start + batch_size, n)
        workspace = network.workspace(stop - start)
        if order is None:
            x, batch_targets, labels = X[start:stop], targets[start:stop], y[start:stop]
        else:  # gather the shuffled rows into the preallocated batch buffer
            rows = order[start:stop]
            x = np.take(X, rows, axis=0, out=workspace.x, mode="clip")  # "raise" would buffer
            batch_targets, labels = targets[rows], y[rows]
        output = network.feedforward(x, workspace, rng)
        loss = network.loss.value(workspace.z_out, output, batch_targets)
        if not math.isfinite(loss):
            _check_finite(X)  # bad data is a ValueError naming rows, not a training failure
            raise TrainingError(f"non-finite loss at epoch {epoch_index + 1}, batch {batch}",
                                epoch=epoch_index + 1, batch=batch)
        loss_sum += loss * (stop - start)
        metrics.add(output, labels)
        network.backprop(batch_targets, workspace)
        if stop == n and run.diagnostics is not None:
            run.diagnostics.before_last_step(network)  # to measure this step's update
        optimizer.step(run.param_groups, run.grad_groups)
        if batch_hooks:
            state.batch, state.samples_seen = batch, state.samples_seen + stop - start
            _call(batch_hooks, state)
            if state.stop_requested and stop < n:
                return None
    run.epoch_complete = True
    state.batch, state.samples_seen = state.batches, seen_before + n  # also without batch hooks
    seconds = time.perf_counter() - started
    entry = {"epoch": epoch_index + 1, "loss": loss_sum / n, **metrics.result(),
             **dict.fromkeys(validation_keys(network.task)), "learning_rate": optimizer.learning_rate,
             "seconds": None, "samples_per_second": n / seconds if seconds > 0 else None,
             "started": started}
    if run.diagnostics is not None:  # after samples_per_second: it measures training alone
        entry["layers"] = run.diagnostics.measure(network)
    return entry


def _call(hooks, state):
    for hook in hooks:
        hook(state)


def _as_training_data(network, X, y, check_finite=True):
    X = network._check_inputs(X)
    y = network._check_labels(y, len(X))
    X = np.ascontiguousarray(X, dtype=network.dtype)  # the one conversion of the whole set
    if check_finite:
        _check_finite(X)
    return X, y


def _check_finite(X):
    # a finite sum proves every value finite; only a non-finite sum (NaN, inf, or finite
    # values overflowing the sum) pays for the exact check
    if not np.isfinite(np.add.reduce(X, axis=None)) and not np.isfinite(X).all():
        rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise ValueError(f"X contains NaN or infinite values (rows {rows[:5].tolist()}"
                         f"{' ...' if len(rows) > 5 else ''})")


def _split(network, X, y, validation_split, validation_data):
    """Validation data as given, else the LAST `validation_split` fraction of (X, y), unshuffled
    (as Keras does): the split is the same for every epoch and every seed."""
    if validation_data is not None:
        X_val, y_val = _as_training_data(network, *validation_data)
        return (X, y), (X_val, y_val)
    if not validation_split:
        return (X, y), None
    split_at = training_samples(len(X), validation_split)
    if split_at == 0 or split_at == len(X):
        raise ValueError(f"validation_split {validation_split} of {len(X)} samples leaves an "
                         "empty training or validation set")
    return (X[:split_at], y[:split_at]), (X[split_at:], y[split_at:])


def _best_epoch(run):
    if run.stopping is not None:
        return run.stopping.best_epoch
    if not run.history:
        return None
    key = "val_loss" if run.history[-1]["val_loss"] is not None else "loss"
    return min(run.history, key=lambda entry: entry[key])["epoch"]


def checkpoint(network):
    """Plain data to resume training after the last complete epoch: nested dicts and lists
    whose leaves are NumPy arrays or JSON values (the RNG state holds integers above 2**64,
    which Python's json writes exactly)."""
    run = network._training
    if run is None:
        raise TrainingError("nothing to checkpoint: the network has not been trained")
    if not run.epoch_complete:
        raise TrainingError("a checkpoint is only taken after a complete epoch; training stopped "
                            f"during epoch {run.completed_epochs + 1}")
    return {
        "epoch": run.completed_epochs,
        "training_config": run.config,
        "history": [dict(entry) for entry in run.history],
        "spec": network.spec,
        "input_size": network.input_size,
        "params": [{key: value.copy() for key, value in layer.items()} for layer in network.params],
        "optimizer": _copy_arrays(run.optimizer.state_dict()),
        "rng": run.rng.bit_generator.state,
        "early_stopping": None if run.stopping is None else run.stopping.state_dict(),
    }


def restore(network, run, saved):
    """Put a checkpoint's weights and loop state into `network` and `run`."""
    network.params = saved["params"]
    state = saved["optimizer"]
    if state.get("name") == run.optimizer.name:  # another optimizer starts afresh
        # moments and step count from the checkpoint; hyperparameters from the (new) config
        settings = {key: value for key, value in run.config["optimizer"].items() if key != "name"}
        run.optimizer.load_state_dict({**state, **settings})
    run.rng.bit_generator.state = saved["rng"]
    run.history.extend(dict(entry) for entry in saved["history"])
    run.completed_epochs = int(saved["epoch"])
    if run.stopping is not None and saved.get("early_stopping") is not None:
        run.stopping.load_state_dict(saved["early_stopping"])


def _copy_arrays(value):
    if isinstance(value, dict):
        return {key: _copy_arrays(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_arrays(item) for item in value]
    return value.copy() if isinstance(value, np.ndarray) else value
