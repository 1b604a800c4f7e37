"""Each task's metrics, tallied batch by batch: accuracy (classification); rmse, mae and r²
in the target's own units (regression). Training records them per epoch, `Network.evaluate`
on a whole set; what each metric is called is engine.tasks', which way it improves is
engine.evaluation's."""

from __future__ import annotations

import numpy as np

from engine.evaluation import VALIDATION_PREFIX
from engine.tasks import TASKS


def count_correct(output, labels):
    """How many rows of `output` (n, units) predict `labels`; one unit means P(class 1)."""
    if output.shape[1] == 1:
        return int(np.count_nonzero((output[:, 0] > 0.5) == labels))
    return int(np.count_nonzero(output.argmax(axis=1) == labels))


class AccuracyTally:
    """Correct predictions over the rows seen."""

    def __init__(self, y, scale=None):
        self.correct = self.rows = 0

    def add(self, output, labels):
        self.correct += count_correct(output, labels)
        self.rows += len(labels)

    def result(self) -> dict:
        return {"accuracy": self.correct / max(self.rows, 1)}


class RegressionTally:
    """Squared and absolute errors per output column, in the target's units (`scale`, a
    TargetScale; the trained units when None), over the rows seen:

        rmse = √(mean of e²)   mae = mean of |e|   over every row and output column
        r²   = 1 - Σe² / Σ(y - ȳ)²  per column, averaged over columns (scikit-learn's
               `r2_score`), with ȳ the mean of the whole set `y` given at the start

    A constant column has r² 1 when it is predicted exactly, else 0 (as scikit-learn)."""

    def __init__(self, y, scale=None):
        y = np.asarray(y, dtype=np.float64)
        self.std = np.ones(y.shape[1]) if scale is None else scale.std
        spread = (y - y.mean(axis=0)) * self.std
        self.total_squares = np.einsum("ij,ij->j", spread, spread)
        self.squares = np.zeros(y.shape[1])
        self.absolute = np.zeros(y.shape[1])
        self.rows = 0

    def add(self, output, targets):
        errors = (np.asarray(output, dtype=np.float64) - targets) * self.std
        self.squares += np.einsum("ij,ij->j", errors, errors)
        self.absolute += np.abs(errors).sum(axis=0)
        self.rows += len(errors)

    def result(self) -> dict:
        values = max(self.rows * len(self.squares), 1)
        constant = self.total_squares == 0
        safe = np.where(constant, 1.0, self.total_squares)
        r2 = np.where(constant, (self.squares == 0).astype(np.float64), 1.0 - self.squares / safe)
        return {"rmse": float(np.sqrt(self.squares.sum() / values)),
                "mae": float(self.absolute.sum() / values), "r2": float(r2.mean())}


TALLIES = {"classification": AccuracyTally, "regression": RegressionTally}


def tally(network, y):
    """A fresh tally of `network`'s task over the whole set y (checked by the network: labels,
    or (n, outputs) standardised values); feed it `add(output, y rows)` batch by batch."""
    return TALLIES[network.task](y, network.target_scale)


def history_keys(task: str) -> tuple[str, ...]:
    """The metrics an epoch's entry records for `task`, loss first: ("loss", "accuracy")."""
    return ("loss", *TASKS[task].metrics)


def validation_keys(task: str) -> tuple[str, ...]:
    return tuple(VALIDATION_PREFIX + key for key in history_keys(task))


def measure(network, X, y, *, validation=False) -> dict:
    """{"loss", and the task's metrics} of the network on (X, y) in inference mode (each key
    with the val_ prefix when `validation`); y as `Network._check_labels` returns it. The loss
    is in the units trained on."""
    totals = tally(network, y)
    loss = [0.0]

    def accumulate(start, stop, workspace, output):
        rows = y[start:stop]
        targets = network.loss.targets(rows, network.sizes[-1], network.dtype)
        loss[0] += network.loss.value(workspace.z_out, output, targets) * (stop - start)
        totals.add(output, rows)

    network.forward_all(X, accumulate)
    prefix = VALIDATION_PREFIX if validation else ""
    scores = {"loss": loss[0] / max(len(X), 1), **totals.result()}
    return {prefix + key: value for key, value in scores.items()}


def regression_metrics(predicted, actual) -> dict:
    """{"rmse", "mae", "r2"} of predicted against actual values, both (n,) or (n, k), in the
    same units."""
    actual = np.asarray(actual, dtype=np.float64)
    actual = actual.reshape(len(actual), -1)
    totals = RegressionTally(actual)
    totals.add(np.asarray(predicted, dtype=np.float64).reshape(actual.shape), actual)
    return totals.result()
