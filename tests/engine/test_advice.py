"""Each teaching warning fires on the setup it is about and stays silent on a sound neighbour."""

import numpy as np
import pytest

from engine.advice import RULES, advise
from engine.data_advice import profile

MNIST = {"input_size": 784, "samples": 60000, "dataset": "mnist"}
RELU_NET = {"layers": [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}],
            "loss": "cross_entropy", "init": "he"}
ADAM = {"optimizer": {"name": "adam", "learning_rate": 0.001}, "batch_size": 128}
DIABETES = {"input_size": 10, "samples": 353, "dataset": "diabetes", "dataset_task": "regression"}
IRIS = {"input_size": 4, "samples": 120, "dataset": "iris", "dataset_task": "classification"}
IRIS_NET = {"layers": [{"units": 16, "activation": "relu"}, {"units": 3, "activation": "softmax"}]}
NAMES = ("a", "b", "c", "d")


def _table(X, y=(0, 1, 2) * 40):
    """advise()'s data arguments for a 4-column, 3-class table of 120 rows."""
    X = np.broadcast_to(np.asarray(X, dtype=np.float32), (120, 4))
    return {**IRIS, "data": profile(X, np.array(y), feature_names=NAMES, classes=("x", "y", "z"))}


STANDARD = np.random.default_rng(0).standard_normal((120, 4))


def _regression_net(output="identity"):
    return {"layers": [{"units": 16, "activation": "relu"}, {"units": 1, "activation": output}],
            "task": "regression"}


def _sigmoid_stack(hidden, activation="sigmoid"):
    return {"layers": [{"units": 32, "activation": activation}] * hidden
            + [{"units": 10, "activation": "softmax"}], "loss": "cross_entropy", "init": "xavier"}


def _sgd(rate, name="sgd", **extra):
    return {"optimizer": {"name": name, "learning_rate": rate, **extra}, "batch_size": 128}


# rule id -> (setup where it fires, setup where it must not); each is advise()'s arguments
CASES = {
    "vanishing_gradients": (
        (_sigmoid_stack(3), ADAM, MNIST),
        (_sigmoid_stack(2, "tanh"), ADAM, MNIST)),
    "sgd_learning_rate_diverges": (
        (RELU_NET, _sgd(5.0), MNIST),
        (RELU_NET, _sgd(0.5), MNIST)),
    "adam_learning_rate_high": (
        (RELU_NET, {"optimizer": {"name": "adam", "learning_rate": 0.1}}, MNIST),
        (RELU_NET, ADAM, MNIST)),
    "xor_without_hidden_layer": (
        ({"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"},
         {"batch_size": 4}, {"input_size": 2, "samples": 4, "dataset": "xor"}),
        ({"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"},
         {"batch_size": 4}, {"input_size": 2, "samples": 4, "dataset": "and"})),
    "batch_larger_than_dataset": (
        (RELU_NET, {"batch_size": 100}, {"input_size": 784, "samples": 64}),
        (RELU_NET, {"batch_size": 64}, {"input_size": 784, "samples": 64})),
    "softmax_with_mse": (
        ({**RELU_NET, "loss": "mse"}, ADAM, MNIST),
        (RELU_NET, ADAM, MNIST)),
    "saturating_output_with_mse": (
        ({"layers": [{"units": 30, "activation": "sigmoid"}, {"units": 10, "activation": "sigmoid"}],
          "loss": "mse", "init": "xavier"}, ADAM, MNIST),
        ({"layers": [{"units": 30, "activation": "sigmoid"}, {"units": 10, "activation": "identity"}],
          "loss": "mse", "init": "xavier"}, ADAM, MNIST)),
    "more_parameters_than_samples": (
        (RELU_NET, ADAM, {"input_size": 784, "samples": 1000}),
        (RELU_NET, ADAM, MNIST)),
    "normal_init_with_sigmoid": (
        ({**_sigmoid_stack(1), "init": "normal"}, ADAM, MNIST),
        ({**_sigmoid_stack(1), "init": "xavier"}, ADAM, MNIST)),
    "regression_output_bounded": (
        (_regression_net("sigmoid"), ADAM, DIABETES),
        (_regression_net("identity"), ADAM, DIABETES)),
    "classification_data_as_regression": (
        (_regression_net(), ADAM, IRIS),
        (IRIS_NET, ADAM, IRIS)),
    "constant_columns": (
        (IRIS_NET, ADAM, _table(STANDARD * [1, 0, 1, 1])),
        (IRIS_NET, ADAM, _table(STANDARD))),
    "unscaled_columns": (
        (IRIS_NET, ADAM, _table(STANDARD * [1, 1, 255, 1])),
        (IRIS_NET, ADAM, _table(STANDARD))),
    "class_imbalance": (
        (IRIS_NET, ADAM, _table(STANDARD, [0] * 110 + [1] * 5 + [2] * 5)),
        (IRIS_NET, ADAM, _table(STANDARD, [0] * 60 + [1] * 30 + [2] * 30))),
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)
    assert len(RULES) >= 7


def _ids(args):
    model, training, data = args
    return {warning["id"] for warning in advise(model, training, **data)}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_when_it_should(rule_id):
    assert rule_id in _ids(CASES[rule_id][0])


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_is_silent_otherwise(rule_id):
    assert rule_id not in _ids(CASES[rule_id][1])


def test_a_warning_carries_its_reason_suggestion_and_facts():
    model = {"layers": [{"units": 64, "activation": "sigmoid"}] * 3 + [{"units": 10, "activation": "sigmoid"}],
             "loss": "mse", "init": "normal"}
    warnings = {w["id"]: w for w in advise(model, _sgd(3.0), **MNIST)}
    vanishing = warnings["vanishing_gradients"]
    assert vanishing["facts"]["layers"] == [0, 1, 2]
    assert vanishing["reason"].startswith("3 hidden layers (0, 1 and 2) use sigmoid")
    assert "relu" in vanishing["suggestion"] and vanishing["title"]
    assert warnings["normal_init_with_sigmoid"]["facts"]["fan_in"] == 784
    # Nielsen's η = 3.0 with quadratic cost on sigmoid outputs trains: no divergence warning
    assert "sgd_learning_rate_diverges" not in warnings


def test_momentum_counts_towards_the_effective_rate():
    fired = advise(RELU_NET, _sgd(0.5, "momentum", momentum=0.9), **MNIST)
    facts = next(w["facts"] for w in fired if w["id"] == "sgd_learning_rate_diverges")
    assert facts["effective"] == pytest.approx(5.0)
    assert not advise(RELU_NET, _sgd(0.1, "momentum", momentum=0.9), **MNIST)


def test_a_sound_network_gets_no_warnings():
    assert advise(RELU_NET, ADAM, **MNIST) == []


@pytest.mark.parametrize(("output", "interval"), [
    ("sigmoid", "[0, 1]"), ("tanh", "[-1, 1]"), ("relu", "[0, ∞]"), ("softmax", "[0, 1]")])
def test_a_bounded_regression_output_names_its_range(output, interval):
    """Read from each activation's declared range; the classification-only advice about
    sigmoid or softmax with mse stays silent, its suggestion (softmax) being wrong here."""
    warnings = {w["id"]: w for w in advise({**_regression_net(output), "loss": "mse"}, ADAM,
                                           **DIABETES)}
    assert set(warnings) == {"regression_output_bounded"}
    assert warnings["regression_output_bounded"]["facts"] == {"output": output, "range": interval}
    assert f"{output} output only gives values in {interval}" in warnings["regression_output_bounded"]["reason"]


def test_the_data_profile_names_what_it_found():
    X = STANDARD * [1, 0, 255, 1] + [0, 7, 0, 0]
    found = profile(X, np.array([0] * 100 + [1] * 20), feature_names=NAMES, classes=("x", "y"))
    assert found["constant"] == ["b"]
    assert [item["name"] for item in found["unscaled"]] == ["b", "c"]  # b: mean 7
    assert found["class_counts"] == {"x": 100, "y": 20}
    warning = next(w for w in advise(IRIS_NET, ADAM, **{**IRIS, "data": found})
                   if w["id"] == "unscaled_columns")
    assert "'c'" in warning["reason"] and "std" in warning["reason"]
