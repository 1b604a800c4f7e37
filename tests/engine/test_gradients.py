"""Backpropagation against central finite differences of an independent float64 reference,
for every allowed pairing of hidden activation, output activation and loss, with and without
L2 weight decay."""

import numpy as np
import pytest

from engine import Network
from engine.activations import ACTIVATIONS
from engine.losses import LOSSES
from tests.support import reference

HIDDEN = [name for name, act in ACTIVATIONS.items() if not act.output_only and name != "step"]
TASK_OF = {loss: "classification" if "classification" in entry.tasks else "regression"
           for loss, entry in LOSSES.items()}  # mse is checked on classes, mae and huber on values
PAIRINGS = [(loss, output) for loss, entry in LOSSES.items()
            for output in sorted(entry.output_activations) if output != "step"]
# one unit on 0/1 labels, one unit per class one-hot; regression: one target column, or three
WIDTHS = {"binary_cross_entropy": (1, 3), "mae": (1, 3), "huber": (1, 3)}
CASES = [(hidden, output, loss, units) for loss, output in PAIRINGS
         for units in WIDTHS.get(loss, (3,)) for hidden in HIDDEN]


def _network(hidden, output, loss, seed=0, units=3):
    spec = {"layers": [{"units": 5, "activation": hidden}, {"units": 4, "activation": hidden},
                       {"units": units, "activation": output}], "loss": loss, "init": "xavier",
            "task": TASK_OF[loss]}
    net = Network.from_spec(spec, input_size=6, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for layer in net.params:  # non-zero biases, so a bias bug cannot hide
        layer["b"][...] = rng.normal(0.0, 0.5, layer["b"].shape)
    X = rng.normal(0.0, 1.0, (7, 6))
    if net.task == "regression":  # values around the outputs, errors on both sides of huber's δ
        return net, X, rng.normal(0.0, 1.5, (7, units))
    y = rng.integers(0, net.num_classes, 7)
    return net, X, y


def test_every_pairing_is_covered():
    # softmax+CE, sigmoid+log loss, 5 outputs each with mse, mae and huber
    assert len(PAIRINGS) == 1 + 1 + 5 + 5 + 5
    assert len(CASES) == (8 + 2 * 5 * 2) * 5


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize(("hidden", "output", "loss", "units"), CASES)
def test_backprop_matches_finite_differences(hidden, output, loss, units, weight_decay):
    net, X, y = _network(hidden, output, loss, units=units)
    activations = [hidden, hidden, output]
    expected_loss = reference.total_loss(net.params, activations, loss, X, y, weight_decay)
    assert net.compute_loss(X, y, weight_decay) == pytest.approx(expected_loss, rel=1e-12)
    numeric = reference.numeric_gradients(net.params, activations, loss, X, y, weight_decay)
    analytic = net.gradients(X, y, weight_decay=weight_decay)
    for index, (got, want) in enumerate(zip(analytic, numeric, strict=True)):
        for key in ("W", "b"):
            assert got[key].shape == want[key].shape
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-8,
                                       err_msg=f"layer {index} d{key}")


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
def test_activation_backward_matches_finite_differences(name):
    """Each activation's own local gradient, including softmax's Jacobian-vector product."""
    activation = ACTIVATIONS[name]
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, (4, 5))
    upstream = rng.normal(0.0, 1.0, (4, 5))
    eps = 1e-6
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        shifted = z.copy()
        shifted[index] += eps
        plus = np.sum(upstream * reference.activation(name, shifted))
        shifted[index] -= 2 * eps
        minus = np.sum(upstream * reference.activation(name, shifted))
        numeric[index] = (plus - minus) / (2 * eps)
    output = activation.forward(z.copy())
    np.testing.assert_allclose(output, reference.activation(name, z), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation.backward(upstream.copy(), output), numeric,
                               rtol=1e-6, atol=1e-8)


def test_perceptron_gradient_is_the_perceptron_rule():
    """step's straight-through gradient with mse: dW = -mean((y - prediction) x), worked by hand."""
    net = Network.from_spec({"layers": [{"units": 1, "activation": "step"}], "loss": "mse"},
                            input_size=2, dtype=np.float64)
    net.params = [{"W": np.array([[0.5], [-1.0]]), "b": np.array([0.25])}]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    # z = 0.75, -0.75, -0.25, 0.25 -> predictions 1, 0, 0, 1; errors y - p = -1, 1, 1, -1
    grads = net.gradients(X, y)
    np.testing.assert_array_equal(grads[0]["W"], [[-(-1 + 1) / 4], [-(1 + 1) / 4]])
    np.testing.assert_array_equal(grads[0]["b"], [-(-1 + 1 + 1 - 1) / 4])


def test_gradients_are_float32_for_the_default_network():
    net, X, y = _network("relu", "softmax", "cross_entropy")
    net32 = Network.from_spec(net.spec, input_size=6, seed=0)
    net32.params = net.params
    grads = net32.gradients(X, y)
    assert all(layer[key].dtype == np.float32 for layer in grads for key in ("W", "b"))
    np.testing.assert_allclose(grads[0]["W"], net.gradients(X, y)[0]["W"], rtol=1e-3, atol=1e-5)


def test_training_pass_with_dropout_matches_finite_differences_under_the_same_mask():
    """Inverted dropout: the mask drawn in the training pass scales forward and backward alike."""
    spec = {"layers": [{"units": 6, "activation": "tanh", "dropout": 0.5},
                       {"units": 5, "activation": "relu", "dropout": 0.3},
                       {"units": 3, "activation": "softmax"}], "loss": "cross_entropy"}
    net = Network.from_spec(spec, input_size=4, seed=2, dtype=np.float64)
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, 9)
    workspace = net.workspace(len(X))
    workspace.x[...] = X
    net.feedforward(workspace.x, workspace, np.random.default_rng(11))
    masks = {index: mask.copy() for index, mask in workspace.masks.items()}
    assert set(masks) == {0, 1}
    for index, rate in ((0, 0.5), (1, 0.3)):  # survivors scaled by 1/(1 - rate), the rest 0
        assert set(np.unique(masks[index])) <= {0.0, 1.0 / (1.0 - rate)}
    net.backprop(net.loss.targets(y, 3, np.float64), workspace)
    numeric = reference.numeric_gradients(net.params, ["tanh", "relu", "softmax"], "cross_entropy",
                                          X, y, masks=masks)
    for index, want in enumerate(numeric):
        np.testing.assert_allclose(net._grads[index]["W"], want["W"], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(net._grads[index]["b"], want["b"], rtol=1e-6, atol=1e-8)


def test_dropout_drops_the_requested_fraction_and_keeps_the_mean():
    spec = {"layers": [{"units": 400, "activation": "relu", "dropout": 0.25},
                       {"units": 2, "activation": "softmax"}], "loss": "cross_entropy"}
    net = Network.from_spec(spec, input_size=3, seed=0)
    workspace = net.workspace(500)
    workspace.x[...] = 1.0
    net.feedforward(workspace.x, workspace, np.random.default_rng(0))
    mask = workspace.masks[0]
    assert np.mean(mask == 0.0) == pytest.approx(0.25, abs=0.01)
    assert np.mean(mask) == pytest.approx(1.0, abs=0.02)
    net.feedforward(workspace.x, workspace)  # inference: no mask at all
    assert workspace.masks == {}
