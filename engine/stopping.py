"""Why a fit stops (its stop reasons), and early stopping: watch one metric per epoch, stop
after `patience` epochs without improvement, optionally put back the weights of the best epoch."""

import numpy as np

from engine.evaluation import HISTORY_METRICS

# Why a fit ended (History.stop_reason), each with the sentence a reader of its record is shown.
COMPLETED, EARLY_STOPPING, STOPPED = "completed", "early_stopping", "stopped"
STOP_REASONS = {
    COMPLETED: "ran every epoch it was given",
    EARLY_STOPPING: "stopped early: the monitored metric stopped improving",
    STOPPED: "stopped by a user (stop-and-keep) after the last complete batch",
}


class EarlyStopping:
    """`monitor` is a history key (engine.evaluation.HISTORY_METRICS: val_loss, val_accuracy,
    loss, accuracy), improving the way that table says; only a change larger than `min_delta`
    counts."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, restore_best_weights=True):
        if monitor not in HISTORY_METRICS:
            raise ValueError(f"unknown monitor {monitor!r}; one of {', '.join(HISTORY_METRICS)}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best_weights = restore_best_weights
        self.higher_is_better = HISTORY_METRICS[monitor] == "max"
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None  # (weights, biases) copies when restore_best_weights

    @classmethod
    def from_config(cls, config):
        return None if config is None else cls(**config)

    def improved(self, value):
        if self.best is None:
            return True
        if self.higher_is_better:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, entry, network):
        """Record the epoch's `entry`; True when training should stop."""
        value = entry[self.monitor]
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, entry["epoch"], 0
            if self.restore_best_weights:
                self.best_weights = (network.weights.copy(), network.biases.copy())
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, network):
        """Put back the best epoch's weights (when asked to and they are not the last ones)."""
        if self.restore_best_weights and self.best_weights is not None:
            network.weights[...], network.biases[...] = self.best_weights

    def state_dict(self):
        weights = None if self.best_weights is None else {
            "weights": self.best_weights[0].copy(), "biases": self.best_weights[1].copy()}
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": weights}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else (
            np.array(weights["weights"]), np.array(weights["biases"]))
