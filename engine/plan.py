"""A plan before training: parameters, memory, FLOPs, estimated time and teaching warnings.

Memory counts what training holds at once, in the network's dtype: the weights, their
gradients, the optimizer's state (one array per slot: momentum's velocity, Adam's m and v)
and the activations of one batch (the `Workspace` buffers: input, z/a, output, δ and dropout
masks). The training set itself is not counted. FLOPs come from `engine.flops`, the count the
service's work limit uses; time divides them by a worker's measured speed (see
`engine.calibration`), never by a constant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine.advice import advise
from engine.flops import flops_per_sample, job_flops
from engine.optimizers import OPTIMIZERS
from engine.rules import SpecError, Violation, json_type
from engine.spec import validate_model_spec, validate_training_config

DTYPE = np.dtype(np.float32)  # what Network builds by default, and what the service trains in


def plan(spec: Mapping, *, input_size: int, samples: int, batch_size: int | None = None,
         flops_per_second: float | Mapping | None = None, dataset: str | None = None,
         num_classes: int | None = None, num_targets: int | None = None,
         dataset_task: str | None = None, data: Mapping | None = None) -> dict:
    """The plan of training `spec` on `samples` rows of `input_size` values.

    `spec` is a job spec {"model": ..., "training": ...} (training optional) or a bare model
    spec {"layers": ...}; SpecError if it breaks a rule. `batch_size` overrides the training
    config's. `flops_per_second` is a measured worker speed: a number, or a record such as
    `engine.calibration.measure_speed()` or `JobStore.worker_speed()` returns
    ({"flops_per_second", "seconds_per_batch", "worker", "measured_at", ...}); None when no
    speed is known, and then the plan estimates no time. `dataset` names the data for the
    warnings (e.g. "xor"). `samples` counts the whole training set, validation split included.
    `num_classes` (classification), `num_targets` (regression: the target's columns) and
    `dataset_task` (the dataset's own task) are checked against the spec when given; `data`
    is a table's training-data profile (`engine.data_advice.profile`) for its warnings.
    """
    if not isinstance(spec, Mapping):
        raise SpecError([Violation("", "type", f"must be an object, got {json_type(spec)}")])
    bare = "layers" in spec  # a model spec on its own
    model_spec, training_spec = (spec, None) if bare else (spec.get("model"), spec.get("training"))
    model = validate_model_spec(model_spec, input_size=input_size, num_classes=num_classes,
                                num_targets=num_targets, dataset_task=dataset_task)
    training = dict(validate_training_config(training_spec, task=model["task"]))
    if batch_size is not None:
        training["batch_size"] = int(batch_size)
    samples = int(samples)
    train_rows = int(samples * (1.0 - training["validation_split"]))  # as training splits
    epochs, batch = training["epochs"], training["batch_size"]
    layers = _layers(model, input_size)
    batches = math.ceil(train_rows / batch) if train_rows else 0
    per_epoch = job_flops(model["layers"], input_size, train_rows, 1)
    per_job = job_flops(model["layers"], input_size, train_rows, epochs)
    return {
        "input_size": int(input_size),
        "samples": {"total": samples, "training": train_rows, "validation": samples - train_rows},
        "epochs": epochs, "batch_size": batch, "batches_per_epoch": batches,
        "optimizer": training["optimizer"]["name"],
        "layers": layers,
        "parameters": sum(layer["parameters"] for layer in layers),
        "memory": _memory(model, input_size, min(batch, max(train_rows, 1)), training, layers),
        "flops": {"per_sample": flops_per_sample(model["layers"], input_size),
                  "per_epoch": per_epoch, "per_job": per_job},
        "time": _time(per_epoch, batches, epochs, flops_per_second),
        "warnings": advise(model, training, input_size=input_size, samples=train_rows,
                           dataset=dataset, dataset_task=dataset_task, data=data),
    }


def _layers(model: dict, input_size: int) -> list[dict]:
    rows, fan_in = [], input_size
    for j, layer in enumerate(model["layers"]):
        units = layer["units"]
        rows.append({"layer": j, "units": units, "activation": layer["activation"],
                     "fan_in": fan_in, "weights": fan_in * units, "biases": units,
                     "parameters": (fan_in + 1) * units, "dropout": layer["dropout"]})
        fan_in = units
    return rows


def _memory(model: dict, input_size: int, batch: int, training: dict, layers: list) -> dict:
    """Bytes held while training (see the module docstring); `batch` rows of activations."""
    size = DTYPE.itemsize
    parameters = sum(layer["parameters"] for layer in layers)
    slots = len(OPTIMIZERS[training["optimizer"]["name"]].SLOTS)
    units = [layer["units"] for layer in layers]
    dropped = sum(layer["units"] for layer in layers[:-1] if layer["dropout"])
    # Workspace: x, z (or a) per layer, the output, δ per layer, a mask and a copy per dropout layer
    values = batch * (input_size + sum(units) + units[-1] + sum(units) + 2 * dropped)
    memory = {"dtype": DTYPE.name, "weights_bytes": parameters * size,
              "gradients_bytes": parameters * size,
              "optimizer_state_bytes": slots * parameters * size,
              "activations_bytes": values * size, "activations_batch": batch}
    memory["total_bytes"] = sum(value for key, value in memory.items()
                                if key.endswith("_bytes"))
    return memory


def _time(per_epoch: int, batches: int, epochs: int, speed) -> dict:
    """Seconds per epoch and per job from a measured speed: FLOPs / (FLOPs per second), plus
    the probe's fixed cost per batch (Python and call overhead that tiny batches pay)."""
    if isinstance(speed, Mapping):
        record = dict(speed)
    elif speed is not None:
        record = {"flops_per_second": float(speed)}
    else:
        record = None
    rate = record.get("flops_per_second") if record else None
    if not rate or rate <= 0:
        return {"speed": record, "seconds_per_epoch": None, "seconds_per_job": None,
                "note": "no worker speed has been measured yet, so no time is estimated"}
    per_batch = float(record.get("seconds_per_batch") or 0.0)
    epoch_seconds = per_epoch / rate + batches * per_batch
    return {"speed": record, "seconds_per_epoch": epoch_seconds,
            "seconds_per_job": epoch_seconds * epochs,
            "note": "estimated from the worker speed measured at start; evaluation, checkpoints "
                    "and other jobs on the machine come on top"}
