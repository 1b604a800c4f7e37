"""What a network learns: the tasks (classification, regression), the rules a task adds to a
model spec (engine.spec calls them), and a regression target's scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluation import VALIDATION_PREFIX
from engine.losses import LOSSES
from engine.rules import INVALID, Violation


@dataclass(frozen=True)
class Task:
    """A task: its `default_loss` and the `metrics` each epoch records beside the loss (their
    directions are engine.evaluation's METRICS)."""

    name: str
    default_loss: str
    metrics: tuple[str, ...]


CLASSIFICATION, REGRESSION = "classification", "regression"
DEFAULT_TASK = CLASSIFICATION
TASKS: dict[str, Task] = {task.name: task for task in (
    Task(CLASSIFICATION, "cross_entropy", ("accuracy",)),
    Task(REGRESSION, "mse", ("rmse", "mae", "r2")),
)}


# ---- the rules a task adds (engine.spec runs them) -----------------------------------------


def check_task(model: dict, violations: list, *, dataset_task: str | None) -> None:
    """The loss must train the task (each loss's `tasks`), and a regression dataset's numbers
    are not classes. The other way round is allowed: a classification dataset's class indexes
    can be regressed on (engine.advice warns)."""
    task, loss = model["task"], model["loss"]
    if INVALID not in (task, loss) and task not in LOSSES[loss].tasks:
        allowed = ", ".join(name for name, each in LOSSES.items() if task in each.tasks)
        violations.append(Violation("loss", "task_loss",
                                    f"the {task} task needs one of the losses {allowed}, not {loss}"))
    if task == "classification" and dataset_task == "regression":
        violations.append(Violation("task", "dataset_task",
                                    "the dataset's target is a number (a regression dataset), not "
                                    "a class: set task to regression, with an identity output layer"))


def check_target_width(output: dict, last: str, num_targets: int | None, violations: list) -> None:
    """A regression network has one output unit per target column (`num_targets`, when known)."""
    units = output["units"]
    if num_targets is None or units is INVALID or units == num_targets:
        return
    columns = f"{num_targets} target column{'s' if num_targets != 1 else ''}"
    violations.append(Violation(f"{last}.units", "output_width",
                                f"the output layer has {units} unit{'s' if units != 1 else ''} but "
                                f"the data has {columns}: a regression network has one output "
                                f"unit per target column, use {num_targets}"))


def check_monitor(stopping: dict | None, task: str | None, violations: list) -> None:
    """Early stopping can only watch a metric the task records (regression has no accuracy)."""
    if not stopping or task is None or not isinstance(stopping.get("monitor"), str):
        return
    recorded = ("loss", *TASKS[task].metrics)
    if stopping["monitor"].removeprefix(VALIDATION_PREFIX) not in recorded:
        choices = ", ".join(prefix + name for prefix in (VALIDATION_PREFIX, "") for name in recorded)
        violations.append(Violation("early_stopping.monitor", "task_metric",
                                    f"{task} does not record {stopping['monitor']}; monitor one "
                                    f"of {choices}"))


@dataclass(frozen=True, eq=False)
class TargetScale:
    """How a regression target was standardised for training, column by column:
    value = mean + std · z, where z is what the network learns and outputs.

    `mean` and `std` are float64 arrays of shape (outputs,); std > 0. The network itself
    standardises nothing: the data side hands it standardised targets and this scale, so that
    predictions and metrics come back in the target's own units."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self):
        mean = np.atleast_1d(np.asarray(self.mean, dtype=np.float64))
        std = np.atleast_1d(np.asarray(self.std, dtype=np.float64))
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(f"target scale: mean {list(mean.shape)} and std {list(std.shape)} "
                             "must be numbers or equal-length lists")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("target scale: mean must be finite and std finite and > 0")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def of(cls, value) -> TargetScale | None:
        """A TargetScale from None, a TargetScale, a (mean, std) pair or {"mean", "std"}."""
        if value is None or isinstance(value, TargetScale):
            return value
        if isinstance(value, dict):
            if set(value) != {"mean", "std"}:
                raise ValueError(f"target scale: expected keys mean and std, got {sorted(value)}")
            return cls(value["mean"], value["std"])
        mean, std = value
        return cls(mean, std)

    @classmethod
    def of_preprocessing(cls, preprocessing) -> TargetScale | None:
        """The scale of a regression target in a table preprocessing dict (engine.tables:
        {"target": {"task": "regression", "mean", "std", ...}, ...}); None for any other."""
        target = preprocessing.get("target") if isinstance(preprocessing, dict) else None
        if not isinstance(target, dict) or target.get("task") != REGRESSION:
            return None
        return cls(target.get("mean"), target.get("std"))

    @property
    def outputs(self) -> int:
        return len(self.mean)

    def decode(self, z) -> np.ndarray:
        """Standardised values (n, outputs) in the target's units, float64."""
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def encode(self, values) -> np.ndarray:
        """Values in the target's units (n, outputs) standardised, float64."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def __eq__(self, other):
        return (isinstance(other, TargetScale) and np.array_equal(self.mean, other.mean)
                and np.array_equal(self.std, other.std))

    __hash__ = None

    def __repr__(self):
        return f"TargetScale(mean={self.mean.tolist()}, std={self.std.tolist()})"


def check_values(y, n: int, outputs: int, dtype) -> np.ndarray:
    """Regression targets as finite (n, outputs) values of `dtype`; y is (n, outputs), or (n,)
    for one output unit (class indexes regressed on are numbers too)."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_:
        raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
    if y.shape == (n,) and outputs == 1:
        y = y.reshape(n, 1)
    if y.shape != (n, outputs):
        shapes = f"({n},) or ({n}, 1)" if outputs == 1 else f"({n}, {outputs})"
        raise ValueError(f"y must be {shapes} target values, one column per output unit, got "
                         f"shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        rows = np.flatnonzero(~np.isfinite(y).all(axis=1))
        raise ValueError(f"y contains NaN or infinite values (rows {rows[:5].tolist()}"
                         f"{' ...' if len(rows) > 5 else ''})")
    return y
