"""Spec validation: every rule has a failing input here, with its path and rule asserted."""

import inspect
import json

import numpy
import pytest

from engine.flops import flops_per_sample
from engine.optimizers import OPTIMIZERS
from engine.schedules import SCHEDULES
from engine.spec import (
    MODEL_DEFAULTS,
    SCHEDULE_RULES,
    TRAINING_DEFAULTS,
    Limits,
    SpecError,
    Violation,
    count_parameters,
    validate_job_work,
    validate_model_spec,
    validate_training_config,
)

HIDDEN = {"units": 8, "activation": "relu"}
SOFTMAX_10 = {"units": 10, "activation": "softmax"}
LINEAR_1 = {"units": 1, "activation": "identity"}


def model(*layers, **fields):
    return {"layers": list(layers), **fields}


# (id, spec, keyword arguments, expected path, expected rule)
MODEL_CASES = [
    ("spec not an object", [1, 2], {}, "", "type"),
    ("unknown top-level key", model(SOFTMAX_10, optimiser="adam"), {}, "optimiser", "unknown_key"),
    ("layers missing", {"loss": "cross_entropy"}, {}, "layers", "required"),
    ("layers not an array", {"layers": {"units": 3}}, {}, "layers", "type"),
    ("layers empty", model(), {}, "layers", "not_empty"),
    ("layer not an object", model("relu", SOFTMAX_10), {}, "layers[0]", "type"),
    ("unknown layer key", model({**HIDDEN, "size": 3}, SOFTMAX_10), {}, "layers[0].size", "unknown_key"),
    ("units missing", model({"activation": "relu"}, SOFTMAX_10), {}, "layers[0].units", "required"),
    ("activation missing", model({"units": 3}, SOFTMAX_10), {}, "layers[0].activation", "required"),
    ("units is a bool", model({"units": True, "activation": "relu"}, SOFTMAX_10), {}, "layers[0].units", "type"),
    ("units is a float", model({"units": 3.0, "activation": "relu"}, SOFTMAX_10), {}, "layers[0].units", "type"),
    ("units is a string", model({"units": "3", "activation": "relu"}, SOFTMAX_10), {}, "layers[0].units", "type"),
    ("units zero", model({"units": 0, "activation": "relu"}, SOFTMAX_10), {}, "layers[0].units", "range"),
    ("unknown activation", model({"units": 3, "activation": "gelu"}, SOFTMAX_10), {}, "layers[0].activation", "choice"),
    ("activation not a string", model({"units": 3, "activation": 1}, SOFTMAX_10), {}, "layers[0].activation", "type"),
    ("dropout one", model({**HIDDEN, "dropout": 1.0}, SOFTMAX_10), {}, "layers[0].dropout", "range"),
    ("dropout negative", model({**HIDDEN, "dropout": -0.1}, SOFTMAX_10), {}, "layers[0].dropout", "range"),
    ("dropout NaN", model({**HIDDEN, "dropout": float("nan")}, SOFTMAX_10), {}, "layers[0].dropout", "finite"),
    ("dropout a bool", model({**HIDDEN, "dropout": False}, SOFTMAX_10), {}, "layers[0].dropout", "type"),
    ("dropout on the output layer", model(HIDDEN, {**SOFTMAX_10, "dropout": 0.5}), {}, "layers[1].dropout", "output_dropout"),
    ("unknown loss", model(SOFTMAX_10, loss="hinge"), {}, "loss", "choice"),
    ("unknown init", model(SOFTMAX_10, init="zeros"), {}, "init", "choice"),
    ("input_size zero", model(SOFTMAX_10, input_size=0), {}, "input_size", "range"),
    ("input_size disagrees with data", model(SOFTMAX_10, input_size=2), {"input_size": 784},
     "input_size", "input_size_mismatch"),
    ("softmax on a hidden layer", model(HIDDEN, {"units": 4, "activation": "softmax"}, SOFTMAX_10), {},
     "layers[1].activation", "output_only"),
    ("step in a hidden layer", model({"units": 3, "activation": "step"}, {"units": 1, "activation": "sigmoid"}, loss="mse"),
     {}, "layers[0].activation", "perceptron_only"),
    ("step with two units", model({"units": 2, "activation": "step"}, loss="mse"), {},
     "layers[0].activation", "perceptron_only"),
    ("step without mse", model({"units": 1, "activation": "step"}, loss="binary_cross_entropy"), {},
     "layers[0].activation", "perceptron_only"),
    ("softmax with mse", model(HIDDEN, SOFTMAX_10, loss="mse"), {}, "loss", "activation_needs_loss"),
    ("softmax with binary cross-entropy", model(HIDDEN, {"units": 1, "activation": "softmax"}, loss="binary_cross_entropy"),
     {}, "loss", "activation_needs_loss"),
    ("cross_entropy without softmax", model(HIDDEN, {"units": 10, "activation": "sigmoid"}), {},
     "layers[1].activation", "loss_needs_activation"),
    ("binary cross-entropy on tanh", model(HIDDEN, {"units": 1, "activation": "tanh"}, loss="binary_cross_entropy"),
     {}, "layers[1].activation", "loss_needs_activation"),
    ("binary cross-entropy, 3 units for 10 classes", model(HIDDEN, {"units": 3, "activation": "sigmoid"}, loss="binary_cross_entropy"),
     {"num_classes": 10}, "layers[1].units", "output_width"),
    ("single unit outside [0, 1]", model(HIDDEN, {"units": 1, "activation": "identity"}, loss="mse"), {},
     "layers[1].activation", "single_unit_output"),
    ("softmax over one unit", model(HIDDEN, {"units": 1, "activation": "softmax"}), {},
     "layers[1].units", "softmax_width"),
    ("output narrower than the classes", model(HIDDEN, {"units": 9, "activation": "softmax"}), {"num_classes": 10},
     "layers[1].units", "output_width"),
    ("one unit for ten classes", model(HIDDEN, {"units": 1, "activation": "sigmoid"}, loss="binary_cross_entropy"),
     {"num_classes": 10}, "layers[1].units", "output_width"),
    ("too many layers", model(*[HIDDEN] * 3, SOFTMAX_10), {"limits": Limits(max_layers=3)}, "layers", "max_layers"),
    ("too many units", model({"units": 5000, "activation": "relu"}, SOFTMAX_10), {"limits": Limits()},
     "layers[0].units", "max_units"),
    ("too many parameters", model({"units": 4096, "activation": "relu"}, {"units": 4096, "activation": "relu"}, SOFTMAX_10),
     {"input_size": 784, "limits": Limits()}, "layers", "max_parameters"),
    ("unknown task", model(SOFTMAX_10, task="ranking"), {}, "task", "choice"),
    ("regression with a classification loss", model(HIDDEN, LINEAR_1, task="regression", loss="cross_entropy"),
     {}, "loss", "task_loss"),
    ("classification with a regression loss", model(HIDDEN, {"units": 1, "activation": "sigmoid"}, loss="mae"),
     {}, "loss", "task_loss"),
    ("regression through softmax", model(HIDDEN, {"units": 2, "activation": "softmax"}, task="regression", loss="mse"),
     {}, "loss", "activation_needs_loss"),
    ("regression output wider than the targets", model(HIDDEN, {"units": 2, "activation": "identity"}, task="regression"),
     {"num_targets": 1}, "layers[1].units", "output_width"),
    ("a regression dataset classified", model(HIDDEN, {"units": 1, "activation": "sigmoid"}, task="classification", loss="binary_cross_entropy"),
     {"dataset_task": "regression"}, "task", "dataset_task"),
    ("huber_delta zero", model(HIDDEN, LINEAR_1, task="regression", loss="huber", huber_delta=0.0), {},
     "huber_delta", "range"),
    ("huber_delta with another loss", model(HIDDEN, LINEAR_1, task="regression", huber_delta=2.0), {},
     "huber_delta", "loss_parameter"),
]

BASE_TRAINING = {"validation_split": 0.1}
TRAINING_CASES = [
    ("config not an object", "adam", {}, "", "type"),
    ("unknown key", {"epoch": 3}, {}, "epoch", "unknown_key"),
    ("epochs zero", {"epochs": 0}, {}, "epochs", "range"),
    ("epochs a float", {"epochs": 2.5}, {}, "epochs", "type"),
    ("epochs a bool", {"epochs": True}, {}, "epochs", "type"),
    ("batch_size zero", {"batch_size": 0}, {}, "batch_size", "range"),
    ("seed negative", {"seed": -1}, {}, "seed", "range"),
    ("seed too large", {"seed": 2**32}, {}, "seed", "range"),
    ("shuffle an int", {"shuffle": 1}, {}, "shuffle", "type"),
    ("validation_split one", {"validation_split": 1.0}, {}, "validation_split", "range"),
    ("validation_split a string", {"validation_split": "0.1"}, {}, "validation_split", "type"),
    ("optimizer not an object", {"optimizer": "adam"}, {}, "optimizer", "type"),
    ("unknown optimizer", {"optimizer": {"name": "rmsprop"}}, {}, "optimizer.name", "choice"),
    ("unknown optimizer key", {"optimizer": {"name": "sgd", "decay": 0.1}}, {}, "optimizer.decay", "unknown_key"),
    ("learning rate zero", {"optimizer": {"learning_rate": 0}}, {}, "optimizer.learning_rate", "range"),
    ("learning rate infinite", {"optimizer": {"learning_rate": float("inf")}}, {}, "optimizer.learning_rate", "finite"),
    ("momentum one", {"optimizer": {"name": "momentum", "momentum": 1.0}}, {}, "optimizer.momentum", "range"),
    ("nesterov a string", {"optimizer": {"name": "momentum", "nesterov": "yes"}}, {}, "optimizer.nesterov", "type"),
    ("beta1 one", {"optimizer": {"beta1": 1.0}}, {}, "optimizer.beta1", "range"),
    ("beta2 negative", {"optimizer": {"beta2": -0.5}}, {}, "optimizer.beta2", "range"),
    ("epsilon zero", {"optimizer": {"epsilon": 0.0}}, {}, "optimizer.epsilon", "range"),
    ("weight decay negative", {"optimizer": {"weight_decay": -1e-4}}, {}, "optimizer.weight_decay", "range"),
    ("another optimizer's key, bad value", {"optimizer": {"name": "sgd", "momentum": 2}}, {},
     "optimizer.momentum", "range"),
    ("early_stopping not an object", {"early_stopping": 3}, {}, "early_stopping", "type"),
    ("patience negative", {**BASE_TRAINING, "early_stopping": {"patience": -1}}, {}, "early_stopping.patience", "range"),
    ("min_delta negative", {**BASE_TRAINING, "early_stopping": {"min_delta": -0.1}}, {}, "early_stopping.min_delta", "range"),
    ("unknown monitor", {**BASE_TRAINING, "early_stopping": {"monitor": "val_f1"}}, {}, "early_stopping.monitor", "choice"),
    ("restore_best_weights a string", {**BASE_TRAINING, "early_stopping": {"restore_best_weights": "no"}}, {},
     "early_stopping.restore_best_weights", "type"),
    ("unknown early_stopping key", {**BASE_TRAINING, "early_stopping": {"patients": 3}}, {},
     "early_stopping.patients", "unknown_key"),
    ("val_loss monitored without validation data", {"early_stopping": {"patience": 3}}, {},
     "early_stopping.monitor", "needs_validation"),
    ("unknown schedule", {"lr_schedule": {"name": "exponential"}}, {}, "lr_schedule.name", "choice"),
    ("step_size zero", {"lr_schedule": {"name": "step", "step_size": 0}}, {}, "lr_schedule.step_size", "range"),
    ("gamma above one", {"lr_schedule": {"name": "step", "gamma": 1.5}}, {}, "lr_schedule.gamma", "range"),
    ("constant takes no parameters", {"lr_schedule": {"name": "constant", "gamma": 0.5}}, {},
     "lr_schedule.gamma", "unknown_key"),
    ("cosine floor above the rate", {"optimizer": {"learning_rate": 0.01}, "lr_schedule": {"name": "cosine", "min_learning_rate": 0.1}},
     {}, "lr_schedule.min_learning_rate", "above_learning_rate"),
    ("regression monitors accuracy", {**BASE_TRAINING, "early_stopping": {"monitor": "val_accuracy"}},
     {"task": "regression"}, "early_stopping.monitor", "task_metric"),
    ("classification monitors r2", {**BASE_TRAINING, "early_stopping": {"monitor": "r2"}},
     {"task": "classification"}, "early_stopping.monitor", "task_metric"),
    ("too many epochs", {"epochs": 100_001}, {"limits": Limits()}, "epochs", "max_epochs"),
    ("batch too large", {"batch_size": 60001}, {"limits": Limits()}, "batch_size", "max_batch_size"),
]


def violations_of(validate, value, kwargs):
    with pytest.raises(SpecError) as raised:
        validate(value, **kwargs)
    return raised.value.violations


@pytest.mark.parametrize(("spec", "kwargs", "path", "rule"),
                         [case[1:] for case in MODEL_CASES], ids=[case[0] for case in MODEL_CASES])
def test_model_rule_is_enforced(spec, kwargs, path, rule):
    found = violations_of(validate_model_spec, spec, kwargs)
    assert (path, rule) in [(violation.path, violation.rule) for violation in found], found
    assert all(violation.message for violation in found)


@pytest.mark.parametrize(("config", "kwargs", "path", "rule"),
                         [case[1:] for case in TRAINING_CASES], ids=[case[0] for case in TRAINING_CASES])
def test_training_rule_is_enforced(config, kwargs, path, rule):
    found = violations_of(validate_training_config, config, kwargs)
    assert (path, rule) in [(violation.path, violation.rule) for violation in found], found


def test_the_issue_example_is_valid_and_gets_defaults():
    spec = {"layers": [{"units": 256, "activation": "relu"},
                       {"units": 128, "activation": "relu", "dropout": 0.2},
                       {"units": 10, "activation": "softmax"}],
            "loss": "cross_entropy", "init": "he"}
    checked = validate_model_spec(spec, input_size=784, num_classes=10, limits=Limits())
    assert checked["layers"][0] == {"units": 256, "activation": "relu", "dropout": 0.0}
    assert checked["input_size"] == 784
    assert spec["layers"][0] == {"units": 256, "activation": "relu"}  # the input is not modified
    assert json.loads(json.dumps(checked)) == checked


def test_model_defaults_are_filled():
    checked = validate_model_spec({"layers": [SOFTMAX_10]})
    assert checked == {"layers": [{**SOFTMAX_10, "dropout": 0.0}], **MODEL_DEFAULTS}
    assert MODEL_DEFAULTS == {"task": "classification", "loss": "cross_entropy", "init": "he"}


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, {"loss": "mse"}),  # the task's default loss
    ({"loss": "mae"}, {"loss": "mae"}),
    ({"loss": "huber"}, {"loss": "huber", "huber_delta": 1.0}),  # the loss's own default
    ({"loss": "huber", "huber_delta": 0.5}, {"loss": "huber", "huber_delta": 0.5}),
])
def test_regression_specs_get_their_task_defaults(fields, expected):
    checked = validate_model_spec(model(HIDDEN, LINEAR_1, task="regression", **fields),
                                  input_size=3, num_targets=1, dataset_task="regression")
    assert checked == {"layers": [{**HIDDEN, "dropout": 0.0}, {**LINEAR_1, "dropout": 0.0}],
                       "task": "regression", "init": "he", "input_size": 3, **expected}


def test_a_regression_output_may_be_bounded_or_wide():
    """One identity unit is a value, not P(class 1); a sigmoid output is allowed (the plan
    warns); several outputs regress several target columns; a classification dataset may be
    regressed on (the plan warns), its class count then says nothing about the output."""
    sigmoid = {"units": 1, "activation": "sigmoid"}
    assert validate_model_spec(model(HIDDEN, sigmoid, task="regression"))["loss"] == "mse"
    wide = model(HIDDEN, {"units": 3, "activation": "identity"}, task="regression")
    assert validate_model_spec(wide, num_targets=3)["layers"][-1]["units"] == 3
    assert validate_model_spec(model(HIDDEN, LINEAR_1, task="regression"), num_classes=3,
                               num_targets=1, dataset_task="classification")["task"] == "regression"


def test_a_spec_that_names_no_task_takes_the_datasets():
    """Train on a regression table without saying so: the task (and so the default loss)
    comes from the data; a spec that names its task keeps it."""
    checked = validate_model_spec(model(HIDDEN, LINEAR_1), input_size=3, num_targets=1,
                                  dataset_task="regression")
    assert (checked["task"], checked["loss"]) == ("regression", "mse")
    assert validate_model_spec(model(HIDDEN, {"units": 2, "activation": "softmax"}),
                               num_classes=2, dataset_task="classification")["task"] == "classification"
    assert validate_model_spec(model(HIDDEN, {"units": 2, "activation": "softmax"}),
                               num_classes=2)["task"] == "classification"  # no dataset: the default


def test_regression_metrics_can_be_monitored():
    for monitor in ("val_rmse", "val_mae", "val_r2", "loss", "rmse", "r2"):
        config = validate_training_config({"validation_split": 0.2,
                                           "early_stopping": {"monitor": monitor}}, task="regression")
        assert config["early_stopping"]["monitor"] == monitor


@pytest.mark.parametrize("spec", [
    model({"units": 2, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}, loss="binary_cross_entropy"),
    model({"units": 1, "activation": "step"}, loss="mse", init="normal"),
    model({"units": 64, "activation": "sigmoid"}, {"units": 10, "activation": "sigmoid"}, loss="mse"),
    model({"units": 2, "activation": "softmax"}),
])
def test_allowed_pairings_for_two_or_ten_classes(spec):
    classes = spec["layers"][-1]["units"] if spec["layers"][-1]["units"] > 1 else 2
    assert validate_model_spec(spec, num_classes=classes)["loss"] == spec.get("loss", "cross_entropy")


def test_every_violation_is_collected_not_just_the_first():
    spec = {"layers": [{"units": -1, "activation": "softmax", "extra": 1},
                       {"units": 3, "activation": "relu", "dropout": 2}],
            "loss": "cross_entropy", "init": "zeros"}
    found = violations_of(validate_model_spec, spec, {"num_classes": 10})
    assert {(v.path, v.rule) for v in found} == {
        ("layers[0].extra", "unknown_key"), ("layers[0].units", "range"),
        ("layers[1].dropout", "range"), ("init", "choice"),
        ("layers[0].activation", "output_only"),
        ("layers[1].activation", "loss_needs_activation"), ("layers[1].units", "output_width")}


def test_error_message_names_path_and_reason():
    with pytest.raises(SpecError) as raised:
        validate_model_spec(model({"units": 4, "activation": "softmax"}, SOFTMAX_10))
    assert raised.value.violations == [
        Violation("layers[0].activation", "output_only", "softmax is only allowed on the output layer")]
    assert str(raised.value) == "layers[0].activation: softmax is only allowed on the output layer"
    assert isinstance(raised.value, ValueError)


def test_limits_apply_only_when_given():
    big = model({"units": 5000, "activation": "relu"}, SOFTMAX_10)
    assert validate_model_spec(big, input_size=784)["layers"][0]["units"] == 5000
    assert validate_training_config({"epochs": 1000})["epochs"] == 1000


def test_count_parameters_by_hand():
    # 784-256-128-10: (784+1)*256 + (256+1)*128 + (128+1)*10
    layers = [{"units": 256}, {"units": 128}, {"units": 10}]
    assert count_parameters(layers, 784) == 200960 + 32896 + 1290


def test_training_defaults():
    assert validate_training_config(None) == TRAINING_DEFAULTS
    assert validate_training_config({}) == TRAINING_DEFAULTS
    assert TRAINING_DEFAULTS["optimizer"] == {"name": "adam", **OPTIMIZERS["adam"].hyperparameters}
    assert TRAINING_DEFAULTS["early_stopping"] is None


def test_contract_example_training_config_is_accepted():
    config = {"optimizer": {"name": "adam", "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999,
                            "epsilon": 1e-8, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
              "batch_size": 128, "epochs": 10, "seed": 0, "shuffle": True, "validation_split": 0.1,
              "early_stopping": {"patience": 3, "min_delta": 0.0, "monitor": "val_loss",
                                 "restore_best_weights": True},
              "lr_schedule": {"name": "constant"}}
    checked = validate_training_config(config, limits=Limits())
    # momentum and nesterov belong to another optimizer: accepted, checked, not kept
    assert checked["optimizer"] == {"name": "adam", "learning_rate": 0.001, "beta1": 0.9,
                                    "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0}
    assert checked["early_stopping"] == config["early_stopping"]


def test_partial_nested_objects_get_their_defaults():
    checked = validate_training_config({"optimizer": {"name": "momentum", "nesterov": True},
                                        "early_stopping": {"monitor": "loss"},
                                        "lr_schedule": {"name": "step"}})
    assert checked["optimizer"] == {"name": "momentum", "learning_rate": 0.01, "momentum": 0.9,
                                    "nesterov": True, "weight_decay": 0.0}
    assert checked["early_stopping"] == {"patience": 3, "min_delta": 0.0, "monitor": "loss",
                                         "restore_best_weights": True}
    assert checked["lr_schedule"] == {"name": "step", "step_size": 10, "gamma": 0.5}


def test_validation_data_passed_to_fit_allows_val_monitoring():
    config = {"early_stopping": {"patience": 2}}
    assert validate_training_config(config, has_validation_data=True)["early_stopping"]["patience"] == 2


def test_integers_from_numpy_are_plain_ints():
    checked = validate_training_config({"epochs": numpy.int64(3), "validation_split": numpy.float32(0.5)})
    assert type(checked["epochs"]) is int and type(checked["validation_split"]) is float


def test_schedule_rules_match_the_schedule_functions():
    assert set(SCHEDULE_RULES) == set(SCHEDULES)
    for name, rules in SCHEDULE_RULES.items():
        signature = inspect.signature(SCHEDULES[name])
        keyword_defaults = {key: parameter.default for key, parameter in signature.parameters.items()
                            if parameter.default is not inspect.Parameter.empty}
        assert keyword_defaults == {key: rule.default for key, rule in rules.items()}, name


# ---- the work cap -----------------------------------------------------------------------------

WIDE = {"layers": [{"units": 4096, "activation": "relu"}, {"units": 4096, "activation": "relu"},
                   {"units": 10, "activation": "softmax"}]}


DEFAULT_LIMITS = Limits()


def _job(model, training, dataset_size=60000, limits=DEFAULT_LIMITS):
    model = validate_model_spec(model, input_size=784 if dataset_size > 4 else 2)
    training = validate_training_config(training)
    return validate_job_work(model, training, dataset_size=dataset_size, limits=limits)


def test_work_over_the_cap_names_estimate_limit_and_remedies():
    with pytest.raises(SpecError) as raised:
        _job(WIDE, {"epochs": 500})
    (violation,) = raised.value.violations
    assert (violation.path, violation.rule) == ("training.epochs", "max_job_flops")
    # 500 epochs x 60,000 samples x 1.138e8 FLOPs per sample (engine.flops)
    assert violation.message.startswith("this job is about 3.4e15 FLOPs of training (500 epochs x "
                                        "60,000 samples x 1.1e8 FLOPs per sample), over the limit of 1e14")
    assert violation.message.endswith("fewer epochs, a smaller network or a smaller dataset")


def test_default_cap_admits_50_epochs_of_784_1024_1024_10_and_tiny_long_jobs():
    big = {"layers": [{"units": 1024, "activation": "relu"}, {"units": 1024, "activation": "relu"},
                      {"units": 10, "activation": "softmax"}]}
    assert _job(big, {"epochs": 50}) == 50 * 60000 * flops_per_sample([1024, 1024, 10], 784)
    xor = {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
           "loss": "binary_cross_entropy"}
    assert _job(xor, {"epochs": 100_000}, dataset_size=4) == 100_000 * 4 * 50


def test_validation_rows_are_not_trained_on():
    small = {"layers": [{"units": 10, "activation": "softmax"}]}
    per_sample = flops_per_sample([10], 784)
    assert _job(small, {"epochs": 2, "validation_split": 0.1}) == 2 * 54000 * per_sample
    limits = Limits(max_job_flops=2 * 54000 * per_sample)
    assert _job(small, {"epochs": 2, "validation_split": 0.1}, limits=limits)
    with pytest.raises(SpecError, match="over the limit"):
        _job(small, {"epochs": 2}, limits=limits)


def test_library_use_has_no_work_cap():
    assert _job(WIDE, {"epochs": 500}, limits=None) > Limits().max_job_flops
