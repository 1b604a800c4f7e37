"""Validation of model specs and training configs: every rule declared once, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.activations import ACTIVATIONS, OUTPUT_ONLY_ACTIVATIONS
from engine.evaluation import HISTORY_METRICS, VALIDATION_PREFIX
from engine.flops import flops_per_sample, format_flops, training_samples
from engine.initializers import INITIALIZERS
from engine.losses import LOSSES
from engine.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS
from engine.rules import (
    INVALID,
    OPTIONAL,
    Rule,
    SpecError,
    Violation,
    check_object,
    check_value,
    defaults,
    join,
    json_type,
)
from engine.schedules import SCHEDULES
from engine.tasks import DEFAULT_TASK, TASKS, check_monitor, check_target_width, check_task

__all__ = ["Limits", "SpecError", "Violation", "MODEL_DEFAULTS", "TRAINING_DEFAULTS",
           "validate_model_spec", "validate_training_config", "validate_job_work", "count_parameters"]


@dataclass(frozen=True)
class Limits:
    """Service caps; library use passes `limits=None` (no caps).

    The real limit on training length is `max_job_flops`, the estimated work of the whole job
    (engine.flops); `max_epochs` is only a sanity cap. 1e14 FLOPs: the engine trains at about
    77 GFLOP/s on one core (784-1024-1024-10, batch 128, one MNIST epoch by CPU time, 2026-12-02)
    and 30 GFLOP/s of wall time on a busy 2-core host, so the cap is about 20 minutes of a quiet
    worker and an hour of a busy one; a 50-epoch 784-1024-1024-10 MNIST job is 2.9e13."""

    max_layers: int = 16
    max_units: int = 4096
    max_epochs: int = 100_000
    max_parameters: int = 20_000_000
    max_batch_size: int = 60000
    max_job_flops: int = 10**14


# ---- the rules, once --------------------------------------------------------------------------

LAYER_RULES = {
    "units": Rule("integer", minimum=1),
    "activation": Rule("name", choices=ACTIVATIONS, what="activation"),
    "dropout": Rule("number", default=0.0, minimum=0.0, below=1.0),
}
# Which loss takes which of these fields, and its default, is declared by the loss
# (`parameters`); what values are legal is declared here. Each is filled only for its loss.
LOSS_PARAMETER_RULES = {
    "huber_delta": Rule("number", default=OPTIONAL, above=0.0),
}
MODEL_RULES = {  # "layers" is checked by _check_layers
    "task": Rule("name", default=DEFAULT_TASK, choices=TASKS, what="task"),
    # the default loss is the task's (engine.tasks): this one is the default task's
    "loss": Rule("name", default=TASKS[DEFAULT_TASK].default_loss, choices=LOSSES, what="loss"),
    "init": Rule("name", default="he", choices=INITIALIZERS, what="initializer"),
    "input_size": Rule("integer", default=OPTIONAL, minimum=1),
    **LOSS_PARAMETER_RULES,
}
TRAINING_RULES = {  # "optimizer", "early_stopping" and "lr_schedule" are nested objects
    "batch_size": Rule("integer", default=128, minimum=1),
    "epochs": Rule("integer", default=10, minimum=1),
    "seed": Rule("integer", default=0, minimum=0, maximum=2**32 - 1),
    "shuffle": Rule("boolean", default=True),
    "validation_split": Rule("number", default=0.0, minimum=0.0, below=1.0),
}
# Which hyperparameters an optimizer takes, and their defaults, is declared by its class's
# __init__ signature (read as `hyperparameters`); what values are legal for each hyperparameter is declared here.
HYPERPARAMETER_RULES = {
    "learning_rate": Rule("number", above=0.0),
    "weight_decay": Rule("number", minimum=0.0),
    "momentum": Rule("number", minimum=0.0, below=1.0),
    "nesterov": Rule("boolean"),
    "beta1": Rule("number", minimum=0.0, below=1.0),
    "beta2": Rule("number", minimum=0.0, below=1.0),
    "epsilon": Rule("number", above=0.0),
}
MONITORS = tuple(HISTORY_METRICS)  # validation metrics first: the default monitors val_loss
EARLY_STOPPING_RULES = {
    "patience": Rule("integer", default=3, minimum=0),
    "min_delta": Rule("number", default=0.0, minimum=0.0),
    "monitor": Rule("name", default="val_loss", choices=MONITORS, what="monitored metric"),
    "restore_best_weights": Rule("boolean", default=True),
}
SCHEDULE_RULES = {
    "constant": {},
    "step": {
        "step_size": Rule("integer", default=10, minimum=1),
        "gamma": Rule("number", default=0.5, above=0.0, maximum=1.0),
    },
    "cosine": {"min_learning_rate": Rule("number", default=0.0, minimum=0.0)},
}


def _optimizer_rules(name: str) -> dict[str, Rule]:
    """The rules for optimizer `name`'s hyperparameters, defaults from its class."""
    declared = OPTIMIZERS[name].hyperparameters
    return {
        key: Rule(**{**HYPERPARAMETER_RULES[key].__dict__, "default": default})
        for key, default in declared.items()
    }


def _schedule_rules(name: str) -> dict[str, Rule]:
    return SCHEDULE_RULES.get(name, {})


MODEL_DEFAULTS = defaults(MODEL_RULES)
TRAINING_DEFAULTS = {
    "optimizer": {"name": DEFAULT_OPTIMIZER, **defaults(_optimizer_rules(DEFAULT_OPTIMIZER))},
    **defaults(TRAINING_RULES),
    "early_stopping": None,
    "lr_schedule": {"name": "constant"},
}


# ---- model spec -------------------------------------------------------------------------------

PERCEPTRON_LOSS = "mse"  # with step's straight-through slope of 1, mse's gradient is the perceptron rule


def _check_layers(layers: object, violations: list) -> list:
    if not isinstance(layers, list | tuple):
        violations.append(Violation("layers", "type", f"must be an array of layers, got {json_type(layers)}"))
        return []
    if not layers:
        violations.append(Violation("layers", "not_empty", "at least one layer (the output layer) is required"))
    checked = [check_object(layer, LAYER_RULES, f"layers[{index}]", violations, what="a layer")
               for index, layer in enumerate(layers)]
    return [layer if layer is not None else dict.fromkeys(LAYER_RULES, INVALID) for layer in checked]


def _hidden_activations(layers: list, violations: list) -> None:
    """Softmax only on the output layer; dropout (applied to a layer's outputs) only on
    hidden layers, since dropping outputs would drop predictions."""
    output_dropout = layers[-1]["dropout"]
    if output_dropout not in (INVALID, 0.0):
        violations.append(Violation(f"layers[{len(layers) - 1}].dropout", "output_dropout",
                                    "dropout is only allowed on hidden layers (it drops a layer's "
                                    f"outputs), got {output_dropout:g} on the output layer"))
    for index, layer in enumerate(layers[:-1]):
        name = layer["activation"]
        if name in OUTPUT_ONLY_ACTIVATIONS:
            violations.append(Violation(f"layers[{index}].activation", "output_only",
                                        f"{name} is only allowed on the output layer"))


def _perceptron(layers: list, loss: object, violations: list) -> None:
    """`step` has no useful gradient: it is only allowed as Rosenblatt's perceptron, a single
    layer of one step unit trained with mse (which then updates by the perceptron rule)."""
    for index, layer in enumerate(layers):
        if layer["activation"] != "step":
            continue
        if INVALID in (layer["units"], loss):
            continue
        if not (len(layers) == 1 and layer["units"] == 1 and loss == PERCEPTRON_LOSS):
            violations.append(Violation(f"layers[{index}].activation", "perceptron_only",
                                        "step is only allowed in the perceptron setup: a single layer "
                                        f"of 1 step unit with the {PERCEPTRON_LOSS} loss"))


def _loss_pairing(output: dict, last: str, loss: object, violations: list,
                  task: object = DEFAULT_TASK) -> None:
    """The output layer and the loss must fit, as each declares: an activation's
    `requires_loss` (softmax's gradient is fused with cross_entropy) and a loss's
    `output_activations` (binary_cross_entropy: sigmoid units, one or one per class). A single
    output unit is read as P(class 1), so its outputs must lie in [0, 1]; a softmax over one
    unit is constant 1."""
    activation, units = output["activation"], output["units"]
    if INVALID in (activation, loss):
        return
    required = ACTIVATIONS[activation].requires_loss
    if required and loss != required:
        violations.append(Violation("loss", "activation_needs_loss",
                                    f"a {activation} output layer needs the {required} loss, not {loss}"))
    elif activation not in LOSSES[loss].output_activations:
        allowed = ", ".join(sorted(LOSSES[loss].output_activations))
        violations.append(Violation(f"{last}.activation", "loss_needs_activation",
                                    f"the {loss} loss needs an output activation among {allowed}, not {activation}"))
    low, high = ACTIVATIONS[activation].range
    if units == 1 and task != "regression" and not (low >= 0.0 and high <= 1.0):
        violations.append(Violation(f"{last}.activation", "single_unit_output",
                                    "a single output unit is read as P(class 1), so its "
                                    f"activation must give values in [0, 1] (sigmoid), not {activation}"))
    if activation == "softmax" and units == 1:
        violations.append(Violation(f"{last}.units", "softmax_width",
                                    "a softmax output layer needs at least 2 units"))


def _output_width(output: dict, last: str, num_classes: int | None, violations: list) -> None:
    """The output layer has one unit per class (or one sigmoid unit for 2 classes); no classes
    (None, or 0 for a regression dataset) means no check."""
    units = output["units"]
    if not num_classes or units is INVALID or units == num_classes:
        return
    if units == 1 and num_classes == 2:
        return
    hint = " (or 1 sigmoid unit)" if num_classes == 2 else ""
    violations.append(Violation(f"{last}.units", "output_width",
                                f"the output layer has {units} unit{'s' if units != 1 else ''} but the dataset has "
                                f"{num_classes} classes: use {num_classes} units{hint}"))


def count_parameters(layers: list, input_size: int) -> int:
    """Weights plus biases of a stack of layers: sum of (fan_in + 1) * fan_out."""
    total, fan_in = 0, input_size
    for layer in layers:
        total += (fan_in + 1) * layer["units"]
        fan_in = layer["units"]
    return total


def _model_limits(layers: list, input_size: int | None, limits: Limits, violations: list) -> None:
    if len(layers) > limits.max_layers:
        violations.append(Violation("layers", "max_layers",
                                    f"at most {limits.max_layers} layers are allowed, got {len(layers)}"))
    for index, layer in enumerate(layers):
        if layer["units"] is not INVALID and layer["units"] > limits.max_units:
            violations.append(Violation(f"layers[{index}].units", "max_units",
                                        f"at most {limits.max_units} units per layer are allowed, got {layer['units']}"))
    if input_size is None or any(layer["units"] is INVALID for layer in layers):
        return
    parameters = count_parameters(layers, input_size)
    if parameters > limits.max_parameters:
        violations.append(Violation("layers", "max_parameters",
                                    f"the network has {parameters:,} parameters; at most "
                                    f"{limits.max_parameters:,} are allowed"))


def _loss_parameters(model: dict, violations: list) -> dict:
    """The loss's own fields (its `parameters`), defaults filled; refused with another loss."""
    loss = model["loss"]
    if loss is INVALID:
        return {}
    own = LOSSES[loss].parameters
    for key in LOSS_PARAMETER_RULES:
        if key in model and key not in own:
            owners = ", ".join(name for name, each in LOSSES.items() if key in each.parameters)
            violations.append(Violation(key, "loss_parameter",
                                        f"{key} only applies to the {owners} loss, not {loss}"))
    return {key: model.get(key, default) for key, default in own.items()}


def validate_model_spec(spec: object, *, input_size: int | None = None,
                        num_classes: int | None = None, limits: Limits | None = None,
                        num_targets: int | None = None, dataset_task: str | None = None) -> dict:
    """Check a model spec against every rule; return a new dict with every default filled.

    `input_size`, `num_classes` (classification), `num_targets` (regression: the target's
    columns) and `dataset_task` come from the dataset when known; a spec that names no task
    takes the dataset's. Raises SpecError listing every violation.
    """
    violations: list[Violation] = []
    model = check_object(spec, MODEL_RULES, "", violations, nested=("layers",), what="the model")
    if model is None:
        raise SpecError(violations)
    if "task" not in spec and dataset_task in TASKS:
        model["task"] = dataset_task
    if "loss" not in spec and model["task"] is not INVALID:
        model["loss"] = TASKS[model["task"]].default_loss
    if "layers" not in model:
        violations.append(Violation("layers", "required", "layers is required"))
    layers = _check_layers(model.get("layers", []), violations)
    declared_size = model.get("input_size", INVALID)
    if input_size is not None and declared_size not in (INVALID, input_size):
        violations.append(Violation("input_size", "input_size_mismatch",
                                    f"the spec says {declared_size} inputs but the data has {input_size}"))
    if input_size is None and declared_size is not INVALID:
        input_size = declared_size
    if layers:
        last = f"layers[{len(layers) - 1}]"
        _hidden_activations(layers, violations)
        _perceptron(layers, model["loss"], violations)
        _loss_pairing(layers[-1], last, model["loss"], violations, model["task"])
        if model["task"] == "regression":
            check_target_width(layers[-1], last, num_targets, violations)
        else:
            _output_width(layers[-1], last, num_classes, violations)
    check_task(model, violations, dataset_task=dataset_task)
    parameters = _loss_parameters(model, violations)
    if limits is not None:
        _model_limits(layers, input_size, limits, violations)
    if violations:
        raise SpecError(violations)
    result = {"layers": layers, "task": model["task"], "loss": model["loss"],
              "init": model["init"], **parameters}
    if input_size is not None:
        result["input_size"] = input_size
    return result


# ---- training config --------------------------------------------------------------------------


def _check_named(obj: object, path: str, registry: Mapping, what: str, rules_for,
                 default_name: str, violations: list, *, shared: Mapping = {}) -> dict | None:
    """Check `{"name": ..., **parameters}` where the allowed parameters depend on the name.

    Keys in `shared` but not among the name's own parameters are checked, then dropped from
    the result: the contract's optimizer JSON carries momentum and beta1 side by side."""
    if not isinstance(obj, Mapping):
        violations.append(Violation(path, "type", f"must be an object, got {json_type(obj)}"))
        return None
    name = check_value(obj.get("name", default_name), Rule("name", choices=registry, what=what),
                        join(path, "name"), violations)
    if name is INVALID:
        return None
    own = rules_for(name)
    unused = [key for key in shared if key in obj and key not in own]
    for key in unused:
        check_value(obj[key], shared[key], join(path, key), violations)
    checked = check_object(obj, own, path, violations, nested=("name", *unused), what=f"{what} {name}")
    return {"name": name, **{key: checked[key] for key in own}}


def _training_cross_rules(config: dict, has_validation_data: bool, violations: list,
                          task: str | None = None) -> None:
    """Monitoring a val_* metric needs validation data, and a metric the task records;
    cosine's floor stays under the rate."""
    stopping = config["early_stopping"]
    check_monitor(stopping, task, violations)
    if (stopping and str(stopping["monitor"]).startswith(VALIDATION_PREFIX)
            and config["validation_split"] == 0.0 and not has_validation_data):
        violations.append(Violation("early_stopping.monitor", "needs_validation",
                                    f"monitoring {stopping['monitor']} needs validation data: set "
                                    "validation_split > 0 or monitor loss"))
    schedule, optimizer = config["lr_schedule"], config["optimizer"]
    if schedule and optimizer and schedule["name"] == "cosine":
        floor, rate = schedule["min_learning_rate"], optimizer["learning_rate"]
        if INVALID not in (floor, rate) and floor > rate:
            violations.append(Violation("lr_schedule.min_learning_rate", "above_learning_rate",
                                        f"must be <= the learning rate {rate:g}, got {floor:g}"))


def _training_limits(config: dict, limits: Limits, violations: list) -> None:
    for key, cap in (("epochs", limits.max_epochs), ("batch_size", limits.max_batch_size)):
        value = config[key]
        if value is not INVALID and value > cap:
            violations.append(Violation(key, f"max_{key}", f"at most {cap} is allowed, got {value}"))


def validate_job_work(model: dict, training: dict, *, dataset_size: int,
                      limits: Limits | None) -> int:
    """The estimated training work of a job (engine.flops), checked against `max_job_flops`.

    `model` and `training` are validated (defaults filled, `model["input_size"]` set);
    `dataset_size` is the training set's row count before the validation split. Returns the
    estimate; raises SpecError on `training.epochs` (the first thing to lower) when over."""
    samples = training_samples(dataset_size, training["validation_split"])
    per_sample = flops_per_sample(model["layers"], model["input_size"])
    work = training["epochs"] * samples * per_sample
    if limits is not None and work > limits.max_job_flops:
        raise SpecError([Violation("training.epochs", "max_job_flops", (
            f"this job is about {format_flops(work)} FLOPs of training ({training['epochs']:,} "
            f"epochs x {samples:,} samples x {format_flops(per_sample)} FLOPs per sample), over "
            f"the limit of {format_flops(limits.max_job_flops)}: use fewer epochs, a smaller "
            "network or a smaller dataset"))])
    return work


def validate_training_config(config: object = None, *, limits: Limits | None = None,
                             has_validation_data: bool = False, task: str | None = None) -> dict:
    """Check a training config; return a new dict with every default filled.

    Every key is optional (`None` means all defaults). `has_validation_data` says the caller
    passes validation data itself, so val_* metrics can be monitored without a split; `task`
    (the model's, when known) limits early stopping to the metrics that task records.
    Raises SpecError listing every violation.
    """
    violations: list[Violation] = []
    nested = ("optimizer", "early_stopping", "lr_schedule")
    checked = check_object({} if config is None else config, TRAINING_RULES, "", violations,
                            nested=nested, what="the training config")
    if checked is None:
        raise SpecError(violations)
    optimizer = _check_named(checked.get("optimizer", {}), "optimizer", OPTIMIZERS, "optimizer",
                             _optimizer_rules, DEFAULT_OPTIMIZER, violations,
                             shared=HYPERPARAMETER_RULES)
    stopping = checked.get("early_stopping")
    if stopping is not None:
        stopping = check_object(stopping, EARLY_STOPPING_RULES, "early_stopping", violations,
                                 what="early_stopping")
    schedule = _check_named(checked.get("lr_schedule", {}), "lr_schedule", SCHEDULES,
                            "learning-rate schedule", _schedule_rules, "constant", violations)
    result = {"optimizer": optimizer, **{key: checked[key] for key in TRAINING_RULES},
              "early_stopping": stopping, "lr_schedule": schedule}
    _training_cross_rules(result, has_validation_data, violations, task)
    if limits is not None:
        _training_limits(result, limits, violations)
    if violations:
        raise SpecError(violations)
    return result
