"""Activations and losses: known values, and numerical stability at ±1000 (no warning, no NaN)."""

import warnings

import numpy as np
import pytest

from engine import Network
from engine.activations import (
    ACTIVATIONS,
    DYING_ACTIVATIONS,
    OUTPUT_ONLY_ACTIVATIONS,
    SATURATING_ACTIVATIONS,
)
from engine.losses import LOSSES

EXTREME = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


@pytest.fixture(autouse=True)
def strict_floating_point():
    """Every overflow, underflow-to-NaN or invalid operation fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


def test_registry_names_match_the_contract():
    assert set(ACTIVATIONS) == {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "step"}
    assert OUTPUT_ONLY_ACTIVATIONS == {"softmax"}
    assert set(LOSSES) == {"cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"}
    assert ACTIVATIONS["softmax"].requires_loss == "cross_entropy"


def test_each_activation_declares_whether_its_units_can_die_or_saturate():
    """Traits of the activation, read by diagnostics, advice and sweeps (no list elsewhere)."""
    for activation in ACTIVATIONS.values():
        for trait in ("output_only", "can_die", "saturates"):
            assert isinstance(getattr(activation, trait), bool), (activation, trait)
    assert DYING_ACTIVATIONS == {"relu", "leaky_relu"}
    assert SATURATING_ACTIVATIONS == {"sigmoid", "tanh"}


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - OUTPUT_ONLY_ACTIVATIONS))
def test_the_traits_say_what_the_slope_does(name):
    """`saturates`: the slope vanishes at both ends. `can_die`: pushed negative, a unit is never
    active (a <= 0) and its slope drops below the full slope it has when active."""
    activation = ACTIVATIONS[name]
    z = np.array([[-30.0, 30.0]])
    a = activation.forward(z.copy())
    negative, positive = activation.backward(np.ones_like(z), a)[0]
    assert (max(negative, positive) < 1e-6) == activation.saturates
    assert (a[0, 0] <= 0.0 and negative < positive == 1.0) == activation.can_die


@pytest.mark.parametrize(("name", "expected"), [
    ("identity", [-1000.0, -30.0, 0.0, 30.0, 1000.0]),
    ("sigmoid", [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]),
    ("tanh", [-1.0, -1.0, 0.0, 1.0, 1.0]),
    ("relu", [0.0, 0.0, 0.0, 30.0, 1000.0]),
    ("leaky_relu", [-10.0, -0.3, 0.0, 30.0, 1000.0]),
    ("step", [0.0, 0.0, 1.0, 1.0, 1.0]),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_at_extremes(name, expected, dtype):
    z = EXTREME.astype(dtype)
    output = ACTIVATIONS[name].forward(z.copy())
    assert output.dtype == dtype
    np.testing.assert_allclose(output[0], expected, rtol=1e-6, atol=1e-30)
    grad = ACTIVATIONS[name].backward(np.ones_like(z), output)
    assert np.isfinite(grad).all()


def test_softmax_at_extremes_sums_to_one():
    for dtype in (np.float32, np.float64):
        output = ACTIVATIONS["softmax"].forward(np.vstack([EXTREME, -EXTREME, EXTREME * 0]).astype(dtype))
        np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-6)
        assert output[0, -1] == 1.0 and output[1, 0] == 1.0
        np.testing.assert_allclose(output[2], 0.2, rtol=1e-6)


def test_forward_can_work_in_place():
    for name, activation in ACTIVATIONS.items():
        z = EXTREME.copy()
        expected = activation.forward(z.copy())
        result = activation.forward(z, out=z)
        assert result is z, name
        np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_at_extremes_are_exact_and_finite(dtype):
    z = np.array([[1000.0, -1000.0], [0.0, 0.0]], dtype=dtype)
    softmax = ACTIVATIONS["softmax"]
    cross_entropy = LOSSES["cross_entropy"]
    a = softmax.forward(z.copy())
    labels = np.array([1, 0])
    # sample 1: -log softmax = 2000 (log-sum-exp, no clipping); sample 2: log 2
    assert cross_entropy.value(z, a, labels) == pytest.approx((2000.0 + np.log(2)) / 2, rel=1e-6)
    np.testing.assert_allclose(cross_entropy.delta(z, a, labels, softmax),
                               [[0.5, -0.5], [-0.25, 0.25]], atol=1e-7)
    logits = np.array([[1000.0], [-1000.0], [0.0]], dtype=dtype)
    sigmoid, log_loss = ACTIVATIONS["sigmoid"], LOSSES["binary_cross_entropy"]
    targets = log_loss.targets(np.array([0, 0, 1]), 1, dtype)
    value = log_loss.value(logits, sigmoid.forward(logits.copy()), targets)
    assert value == pytest.approx((1000.0 + 0.0 + np.log(2)) / 3, rel=1e-6)
    # k sigmoid units on one-hot targets: the per-unit log losses summed, averaged over samples
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], dtype=dtype)
    targets = log_loss.targets(np.array([2, 0]), 3, dtype)
    np.testing.assert_array_equal(targets, [[0, 0, 1], [1, 0, 0]])
    outputs = sigmoid.forward(logits.copy())
    # sample 1: 1000 (unit 0 says yes wrongly) + log 2 + 1000 (unit 2 says no wrongly); sample 2: 3 log 2
    assert log_loss.value(logits, outputs, targets) == pytest.approx(
        (2000.0 + np.log(2) + 3 * np.log(2)) / 2, rel=1e-6)
    np.testing.assert_allclose(log_loss.delta(logits, outputs, targets, sigmoid),
                               [[0.5, 0.25, -0.5], [-0.25, 0.25, 0.25]], atol=1e-7)


def _network(hidden, output, loss, units):
    spec = {"layers": [{"units": 8, "activation": hidden}, {"units": units, "activation": output}],
            "loss": loss, "init": "he"}
    return Network.from_spec(spec, input_size=5, seed=0)


@pytest.mark.parametrize("hidden", ["identity", "sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize(("output", "loss", "units"), [
    ("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 1),
    ("sigmoid", "binary_cross_entropy", 4), ("sigmoid", "mse", 3),
    ("tanh", "mse", 3), ("identity", "mse", 2)])
def test_network_survives_inputs_of_plus_minus_1000(hidden, output, loss, units):
    net = _network(hidden, output, loss, units)
    X = np.tile(EXTREME, (4, 1)) * np.array([[1], [-1], [0.5], [-0.5]])
    y = np.arange(4) % net.num_classes
    probabilities = net.predict_proba(X)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(net.compute_loss(X, y))
    assert all(np.isfinite(layer[key]).all() for layer in net.gradients(X, y) for key in "Wb")
    metrics = net.evaluate(X, y)
    assert np.isfinite(metrics["loss"]) and 0.0 <= metrics["accuracy"] <= 1.0


def test_perceptron_survives_plus_minus_1000():
    net = Network.from_spec({"layers": [{"units": 1, "activation": "step"}], "loss": "mse"},
                            input_size=5, seed=0)
    X = np.tile(EXTREME, (2, 1)) * np.array([[1], [-1]])
    assert set(net.predict(X)) <= {0, 1}
    np.testing.assert_array_equal(net.predict_proba(X).sum(axis=1), 1.0)
