"""The fast path (Network.feedforward/backprop in buffers, fit) against engine.textbook, the
reference it optimises: the same numbers up to float rounding, gradients and training steps."""

import numpy as np
import pytest

from engine import Network, textbook
from engine.activations import ACTIVATIONS
from engine.losses import LOSSES
from engine.optimizers import make_optimizer
from engine.spec import validate_training_config

# step is allowed only as the lone unit of a perceptron: its own test below
HIDDEN = [name for name, activation in ACTIVATIONS.items()
          if not activation.output_only and name != "step"]
# the textbook's three costs, with every output activation each allows; any other loss reaches
# both paths through the same `loss.delta` (BP1), so it adds no arithmetic to compare
PAIRINGS = [(loss, output) for loss in ("cross_entropy", "binary_cross_entropy", "mse")
            for output in sorted(LOSSES[loss].output_activations) if output != "step"]
# float rounding: only the order of additions differs (BP3's ones @ δ against δ.sum(axis=0))
TOLERANCE = {np.float64: {"rtol": 1e-12, "atol": 1e-14}, np.float32: {"rtol": 1e-6, "atol": 1e-7}}


def _network(hidden, output, loss, dtype, *, dropout=0.0, seed=0):
    units = 1 if loss == "binary_cross_entropy" else 3
    spec = {"layers": [{"units": 6, "activation": hidden, "dropout": dropout},
                       {"units": 5, "activation": hidden, "dropout": dropout},
                       {"units": units, "activation": output}], "loss": loss, "init": "xavier"}
    net = Network.from_spec(spec, input_size=4, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    for layer in net.params:  # non-zero biases, so a bias difference cannot hide
        layer["b"][...] = rng.normal(0.0, 0.5, layer["b"].shape)
    X = rng.normal(0.0, 1.0, (9, 4)).astype(dtype)
    y = rng.integers(0, net.num_classes, 9)
    return net, X, y


def _fast_pass(net, X, y, rng=None):
    """One pass of the training path; returns its workspace (δ, a, masks) and gradients."""
    workspace = net.workspace(len(X))
    workspace.x[...] = X
    net.feedforward(workspace.x, workspace, rng)
    net.backprop(net.loss.targets(y, net.sizes[-1], net.dtype), workspace)
    return workspace, [{key: grad.copy() for key, grad in layer.items()} for layer in net._grads]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("loss", "output"), PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_fast_pass_computes_the_textbooks_numbers(hidden, loss, output, dtype):
    net, X, y = _network(hidden, output, loss, dtype)
    workspace, grads = _fast_pass(net, X, y)
    reference = textbook.backprop(net, X, net.loss.targets(y, net.sizes[-1], dtype))
    close = TOLERANCE[dtype]
    np.testing.assert_allclose(workspace.output, reference.forward.activations[-1], **close)
    np.testing.assert_allclose(workspace.z_out, reference.forward.zs[-1], **close)
    for j, hidden_a in enumerate(workspace.a):
        np.testing.assert_allclose(hidden_a, reference.forward.activations[j], **close)
    for j, (got, want) in enumerate(zip(grads, reference.grads, strict=True)):
        np.testing.assert_allclose(workspace.delta[j], reference.deltas[j], **close)
        for key in ("W", "b"):
            assert got[key].dtype == want[key].dtype == dtype
            np.testing.assert_allclose(got[key], want[key], **close, err_msg=f"layer {j} d{key}")


def test_the_perceptron_too():
    net = Network.from_spec({"layers": [{"units": 1, "activation": "step"}], "loss": "mse"},
                            input_size=2, seed=0, dtype=np.float64)
    X, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]), np.array([0, 1, 1, 0])
    _, grads = _fast_pass(net, X, y)
    reference = textbook.backprop(net, X, net.loss.targets(y, 1, np.float64))
    for key in ("W", "b"):
        np.testing.assert_allclose(grads[0][key], reference.grads[0][key], **TOLERANCE[np.float64])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_draws_the_same_masks_from_the_same_generator(dtype):
    net, X, y = _network("relu", "softmax", "cross_entropy", dtype, dropout=0.4)
    workspace, grads = _fast_pass(net, X, y, np.random.default_rng(7))
    reference = textbook.backprop(net, X, net.loss.targets(y, 3, dtype), np.random.default_rng(7))
    assert set(workspace.masks) == {0, 1} and reference.forward.masks[2] is None
    for j, mask in workspace.masks.items():
        assert mask.dtype == reference.forward.masks[j].dtype == dtype
        np.testing.assert_array_equal(mask, reference.forward.masks[j])
    for got, want in zip(grads, reference.grads, strict=True):
        for key in ("W", "b"):
            np.testing.assert_allclose(got[key], want[key], **TOLERANCE[dtype])


def _reference_fit(net, X, y, config):
    """`fit`'s loop written plainly: the same shuffles and masks from one Generator, the
    textbook's gradients, the optimizer stepping each layer's own W and b."""
    config = validate_training_config(config)
    rng = np.random.default_rng(config["seed"])
    optimizer = make_optimizer(config["optimizer"])
    targets = net.loss.targets(y, net.sizes[-1], net.dtype)
    losses = []
    for _ in range(config["epochs"]):
        order, total = rng.permutation(len(X)), 0.0
        for start in range(0, len(X), config["batch_size"]):
            rows = order[start:start + config["batch_size"]]
            step = textbook.backprop(net, X[rows], targets[rows], rng)
            forward = step.forward
            total += net.loss.value(forward.zs[-1], forward.activations[-1], targets[rows]) * len(rows)
            optimizer.step(net.params, step.grads)
        losses.append(total / len(X))
    return losses


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", [
    {"name": "sgd", "learning_rate": 0.1},
    {"name": "momentum", "learning_rate": 0.05, "nesterov": True, "weight_decay": 0.01},
    {"name": "adam", "learning_rate": 0.01, "weight_decay": 0.001}])
def test_a_few_training_steps_match_the_reference_loop(optimizer, dtype):
    fast, X, y = _network("tanh", "softmax", "cross_entropy", dtype, dropout=0.25)
    plain, _, _ = _network("tanh", "softmax", "cross_entropy", dtype, dropout=0.25)
    config = {"optimizer": optimizer, "batch_size": 4, "epochs": 2, "seed": 3}
    history = fast.fit(X, y, diagnostics=False, **config)  # 3 batches an epoch, the last of 1 row
    losses = _reference_fit(plain, X, y, config)
    assert not np.array_equal(fast.weights, _network("tanh", "softmax", "cross_entropy", dtype)[0].weights)
    close = TOLERANCE[dtype]
    assert [entry["loss"] for entry in history.epochs] == pytest.approx(losses, rel=close["rtol"])
    for got, want in zip(fast.params, plain.params, strict=True):
        for key in ("W", "b"):
            np.testing.assert_allclose(got[key], want[key], **close)
