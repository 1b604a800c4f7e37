"""Network.trace against one step recomputed by hand in plain NumPy, and Network.input_gradients
against central finite differences of the predicted probabilities."""

import numpy as np
import pytest

from engine import Network, SpecError


def _net(layers, loss, *, seed=0, input_size=3):
    net = Network.from_spec({"layers": layers, "loss": loss, "init": "xavier"},
                            input_size=input_size, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 7)
    for layer in net.params:  # non-zero biases, so a bias mistake cannot hide
        layer["b"][...] = rng.normal(0.0, 0.5, layer["b"].shape)
    return net


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_trace_of_a_softmax_network_matches_a_hand_computed_sgd_step():
    net = _net([{"units": 4, "activation": "sigmoid"}, {"units": 2, "activation": "softmax"}],
               "cross_entropy")
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-1.0, 1.0, 0.0]])
    y = np.array([1, 0, 1])
    W1, b1 = net.params[0]["W"].copy(), net.params[0]["b"].copy()
    W2, b2 = net.params[1]["W"].copy(), net.params[1]["b"].copy()

    step = net.trace(X, y, optimizer={"name": "sgd", "learning_rate": 0.5})

    # by hand: forward
    z1 = X @ W1 + b1
    a1 = _sigmoid(z1)
    z2 = a1 @ W2 + b2
    a2 = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
    onehot = np.eye(2)[y]
    loss = -np.mean(np.log(a2[np.arange(3), y]))
    # BP1 (softmax + cross-entropy, mean over n), BP2, BP3, BP4
    d2 = (a2 - onehot) / 3
    d1 = (d2 @ W2.T) * a1 * (1 - a1)
    gW2, gb2, gW1, gb1 = a1.T @ d2, d2.sum(axis=0), X.T @ d1, d1.sum(axis=0)

    first, second = step["layers"]
    np.testing.assert_allclose(step["inputs"], X)
    for got, want in [(first["z"], z1), (first["a"], a1), (second["z"], z2), (second["a"], a2),
                      (step["output"], a2), (step["output_error"], d2), (second["delta"], d2),
                      (first["delta"], d1), (second["dC_dW"], gW2), (second["dC_db"], gb2),
                      (first["dC_dW"], gW1), (first["dC_db"], gb1),
                      (first["W"], W1), (first["b"], b1), (second["W"], W2), (second["b"], b2),
                      (first["W_after"], W1 - 0.5 * gW1), (first["b_after"], b1 - 0.5 * gb1),
                      (second["W_after"], W2 - 0.5 * gW2), (second["b_after"], b2 - 0.5 * gb2)]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert step["loss"] == pytest.approx(loss, rel=1e-12)
    assert step["weight_penalty"] == 0.0
    assert (first["layer"], first["l"], first["units"], first["fan_in"]) == (0, 1, 4, 3)
    assert (second["activation"], second["dropout_mask"]) == ("softmax", None)
    assert step["optimizer"]["name"] == "sgd" and step["symbols"]["delta"] == "δˡ"
    # the network itself did not take the step
    np.testing.assert_array_equal(net.params[0]["W"], W1)


def test_trace_of_nielsens_quadratic_cost_with_momentum_and_weight_decay():
    """BP1 with σ'(zᴸ) spelled out: δᴸ = (a - y) ⊙ σ'(z) / n; the first momentum step is
    W - η (∂C/∂W), where ∂C/∂W carries λW."""
    net = _net([{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}], "mse")
    X = np.array([[0.2, 0.4, -0.6], [1.0, -2.0, 0.5]])
    y = np.array([0, 1])
    W1, b1, W2, b2 = (net.params[0]["W"].copy(), net.params[0]["b"].copy(),
                      net.params[1]["W"].copy(), net.params[1]["b"].copy())
    lr, lam = 0.3, 0.1

    step = net.trace(X, y, optimizer={"name": "momentum", "learning_rate": lr,
                                      "momentum": 0.9, "weight_decay": lam})

    a1 = np.tanh(X @ W1 + b1)
    a2 = _sigmoid(a1 @ W2 + b2)
    target = np.eye(2)[y]
    d2 = (a2 - target) * a2 * (1 - a2) / 2
    d1 = (d2 @ W2.T) * (1 - a1**2)
    gW2, gW1 = a1.T @ d2 + lam * W2, X.T @ d1 + lam * W1
    first, second = step["layers"]
    np.testing.assert_allclose(step["targets"], target)
    np.testing.assert_allclose(second["delta"], d2, rtol=1e-10)
    np.testing.assert_allclose(first["delta"], d1, rtol=1e-10)
    np.testing.assert_allclose(second["dC_dW"], gW2, rtol=1e-10)
    np.testing.assert_allclose(first["dC_dW"], gW1, rtol=1e-10)
    np.testing.assert_allclose(first["W_after"], W1 - lr * gW1, rtol=1e-10)
    np.testing.assert_allclose(second["b_after"], b2 - lr * d2.sum(axis=0), rtol=1e-10)
    assert step["loss"] == pytest.approx(0.5 * np.sum((a2 - target) ** 2) / 2, rel=1e-12)
    assert step["weight_penalty"] == pytest.approx(0.5 * lam * (np.sum(W1**2) + np.sum(W2**2)))


def test_trace_of_an_adam_step_and_agreement_with_the_training_backprop():
    net = _net([{"units": 5, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}],
               "binary_cross_entropy", input_size=2)
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    step = net.trace(X, y)  # the training defaults: Adam, η = 0.001
    assert step["optimizer"]["name"] == "adam"
    engine_grads = net.gradients(X, y)  # the fast path training runs
    for layer, grads in zip(step["layers"], engine_grads, strict=True):
        np.testing.assert_allclose(layer["dC_dW"], grads["W"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer["dC_db"], grads["b"], rtol=1e-10, atol=1e-14)
        # Adam's first step: m̂ = g, v̂ = g², so W' = W - η g / (|g| + ε)
        g = layer["dC_dW"]
        np.testing.assert_allclose(layer["W_after"], layer["W"] - 0.001 * g / (np.abs(g) + 1e-8),
                                   rtol=1e-10, atol=1e-14)
    # BP1 for the fused log loss: δᴸ = (σ(z) - y) / n
    np.testing.assert_allclose(step["output_error"][:, 0], (step["output"][:, 0] - y) / 4)


def test_trace_with_dropout_records_the_mask_it_used():
    net = _net([{"units": 6, "activation": "relu", "dropout": 0.5},
                {"units": 3, "activation": "softmax"}], "cross_entropy")
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 2, 1, 0])
    step = net.trace(X, y, optimizer={"name": "sgd"}, seed=4)
    hidden, out = step["layers"]
    mask = hidden["dropout_mask"]
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < np.count_nonzero(mask) < mask.size
    a_in = hidden["a"] * mask  # what the output layer read
    np.testing.assert_allclose(out["z"], a_in @ out["W"] + out["b"], rtol=1e-12)
    np.testing.assert_allclose(out["dC_dW"], a_in.T @ out["delta"], rtol=1e-12)
    relu_slope = (hidden["a"] > 0).astype(float)
    np.testing.assert_allclose(hidden["delta"], (out["delta"] @ out["W"].T) * mask * relu_slope)
    again = net.trace(X, y, optimizer={"name": "sgd"}, seed=4)
    np.testing.assert_array_equal(again["layers"][0]["dropout_mask"], mask)


def test_trace_rejects_bad_inputs_and_optimizers():
    net = _net([{"units": 2, "activation": "softmax"}], "cross_entropy")
    with pytest.raises(ValueError, match="shape"):
        net.trace(np.zeros((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        net.trace(np.zeros((2, 3)), np.array([0, 5]))
    with pytest.raises(SpecError, match="learning_rate"):
        net.trace(np.zeros((2, 3)), np.array([0, 1]), optimizer={"name": "sgd", "learning_rate": -1})


# ---- input gradients ---------------------------------------------------------------------------

INPUT_CASES = [
    ([{"units": 5, "activation": "tanh"}, {"units": 3, "activation": "softmax"}], "cross_entropy"),
    ([{"units": 4, "activation": "sigmoid"}, {"units": 1, "activation": "sigmoid"}],
     "binary_cross_entropy"),
    ([{"units": 4, "activation": "leaky_relu"}, {"units": 3, "activation": "sigmoid"}], "mse"),
    ([{"units": 4, "activation": "tanh"}, {"units": 3, "activation": "identity"}], "mse"),
    ([{"units": 4, "activation": "relu"}, {"units": 3, "activation": "sigmoid"}],
     "binary_cross_entropy"),
]


@pytest.mark.parametrize(("layers", "loss"), INPUT_CASES)
def test_input_gradients_match_finite_differences(layers, loss):
    net = _net(layers, loss, input_size=4, seed=2)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 4))
    for target in range(net.num_classes):
        got = net.input_gradients(X, target)
        assert got.shape == X.shape
        eps, want = 1e-6, np.zeros_like(X)
        for i in range(X.shape[1]):
            up, down = X.copy(), X.copy()
            up[:, i] += eps
            down[:, i] -= eps
            want[:, i] = (net.predict_proba(up)[:, target]
                          - net.predict_proba(down)[:, target]) / (2 * eps)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_input_gradients_take_one_target_per_row_and_check_it():
    net = _net(*INPUT_CASES[0], input_size=4)
    X = np.random.default_rng(0).normal(size=(3, 4))
    targets = np.array([2, 0, 1])
    rows = net.input_gradients(X, targets)
    for row, target in enumerate(targets):
        np.testing.assert_allclose(rows[row], net.input_gradients(X[row:row + 1], target)[0])
    with pytest.raises(ValueError, match="labels"):
        net.input_gradients(X, 3)
    with pytest.raises(ValueError, match="shape"):
        net.input_gradients(X[:, :2], 0)
