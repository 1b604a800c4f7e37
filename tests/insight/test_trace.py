"""POST /v1/trace against a hand trace in plain NumPy (Nielsen's BP1-BP4 written out)."""

from __future__ import annotations

import numpy as np
import pytest

from api.insight.schemas import MAX_PARAMETERS, MAX_SAMPLES

XOR = {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]], "labels": [0, 1, 1, 0]}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def trace(client, body):
    response = client.post("/v1/trace", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_sigmoid_network_matches_a_hand_trace(client):
    W1, b1 = np.array([[0.5, -0.3], [0.8, 0.2]]), np.array([0.1, -0.1])
    W2, b2 = np.array([[1.2], [-0.7]]), np.array([0.05])
    body = {"model": {"layers": [{"units": 2, "activation": "sigmoid"},
                                 {"units": 1, "activation": "sigmoid"}],
                      "loss": "binary_cross_entropy"},
            **XOR, "optimizer": {"name": "sgd", "learning_rate": 0.5},
            "weights": [{"W": W1.tolist(), "b": b1.tolist()}, {"W": W2.tolist(), "b": b2.tolist()}]}
    got = trace(client, body)

    X, y = np.array(XOR["inputs"], float), np.array(XOR["labels"], float)[:, None]
    n = len(X)
    z1 = X @ W1 + b1
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + b2
    a2 = sigmoid(z2)
    C = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))
    # BP1 for cross-entropy on a sigmoid: δᴸ = ∇ₐC ⊙ σ'(zᴸ) = (a - y) / n (C is a mean)
    grad_a = (-(y / a2) + (1 - y) / (1 - a2)) / n
    d2 = grad_a * a2 * (1 - a2)
    d1 = (d2 @ W2.T) * a1 * (1 - a1)  # BP2
    dW2, db2 = a1.T @ d2, d2.sum(axis=0)  # BP4, BP3
    dW1, db1 = X.T @ d1, d1.sum(axis=0)

    assert got["loss"] == pytest.approx(C, rel=1e-12)
    np.testing.assert_allclose(got["inputs"], X)
    np.testing.assert_allclose(got["output"], a2, rtol=1e-12)
    np.testing.assert_allclose(got["output_error"], d2, rtol=1e-10)
    first, second = got["layers"]
    assert (first["layer"], first["l"], second["layer"], second["l"]) == (0, 1, 1, 2)
    for layer, z, a, delta, dW, db, W, b in ((first, z1, a1, d1, dW1, db1, W1, b1),
                                             (second, z2, a2, d2, dW2, db2, W2, b2)):
        np.testing.assert_allclose(layer["W"], W)
        np.testing.assert_allclose(layer["z"], z, rtol=1e-12)
        np.testing.assert_allclose(layer["a"], a, rtol=1e-12)
        np.testing.assert_allclose(layer["delta"], delta, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(layer["dC_dW"], dW, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(layer["dC_db"], db, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(layer["W_after"], W - 0.5 * dW, rtol=1e-12)
        np.testing.assert_allclose(layer["b_after"], b - 0.5 * db, rtol=1e-12)
    assert got["symbols"]["output_error"] == "δᴸ" and got["dtype"] == "float64"


def test_relu_softmax_with_weight_decay_matches_a_hand_trace(client):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 4))
    y = np.array([0, 2, 1, 2, 0])
    W1, b1 = rng.normal(size=(4, 3)), rng.normal(size=3)
    W2, b2 = rng.normal(size=(3, 3)), rng.normal(size=3)
    lr, decay = 0.1, 0.01
    got = trace(client, {
        "model": {"layers": [{"units": 3, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
        "inputs": X.tolist(), "labels": y.tolist(),
        "optimizer": {"name": "sgd", "learning_rate": lr, "weight_decay": decay},
        "weights": [{"W": W1.tolist(), "b": b1.tolist()}, {"W": W2.tolist(), "b": b2.tolist()}]})
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2 + b2
    a2 = np.exp(z2 - z2.max(axis=1, keepdims=True))
    a2 /= a2.sum(axis=1, keepdims=True)
    one_hot = np.eye(3)[y]
    d2 = (a2 - one_hot) / len(X)  # BP1 for softmax with cross-entropy
    d1 = (d2 @ W2.T) * (z1 > 0)  # BP2
    dW2 = a1.T @ d2 + decay * W2
    dW1 = X.T @ d1 + decay * W1
    assert got["loss"] == pytest.approx(-np.mean(np.log(a2[np.arange(5), y])), rel=1e-12)
    assert got["weight_penalty"] == pytest.approx(0.5 * decay * ((W1**2).sum() + (W2**2).sum()))
    np.testing.assert_allclose(got["layers"][0]["dC_dW"], dW1, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(got["layers"][1]["dC_dW"], dW2, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(got["layers"][0]["W_after"], W1 - lr * dW1, rtol=1e-12)
    np.testing.assert_allclose(got["layers"][1]["b_after"], b2 - lr * d2.sum(axis=0), rtol=1e-12)


def test_without_weights_the_initializer_draws_them_from_the_seed(client):
    body = {"model": {"layers": [{"units": 3, "activation": "tanh"},
                                 {"units": 1, "activation": "sigmoid"}],
                      "loss": "binary_cross_entropy", "init": "xavier"}, **XOR, "seed": 4}
    first, again = trace(client, body), trace(client, body)
    other = trace(client, {**body, "seed": 5})
    assert first["layers"][0]["W"] == again["layers"][0]["W"] != other["layers"][0]["W"]
    assert first["optimizer"]["name"] == "adam"  # the training default


BASE = {"model": {"layers": [{"units": 2, "activation": "sigmoid"},
                             {"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"},
        **XOR}


@pytest.mark.parametrize("change, field", [
    ({"inputs": [[0, 1]] * (MAX_SAMPLES + 1), "labels": [1] * (MAX_SAMPLES + 1)}, "inputs"),
    ({"model": {"layers": [{"units": MAX_PARAMETERS, "activation": "relu"},
                           {"units": 1, "activation": "sigmoid"}],
                "loss": "binary_cross_entropy"}}, "model.layers"),
    ({"labels": [0, 1, 2, 0]}, "labels[2]"),
    ({"labels": [0, 1]}, "labels"),
    ({"inputs": [[0, 0], [0], [1, 0], [1, 1]]}, "inputs[1]"),
    ({"inputs": [[0, None]] + XOR["inputs"][1:]}, "inputs[0][1]"),
    ({"weights": [{"W": [[1, 2]], "b": [0, 0]}, {"W": [[1], [2]], "b": [0]}]}, "weights[0].W"),
    ({"weights": [{"W": [[1, 2], [3, 4]], "b": [0, 0]}]}, "weights"),
    ({"optimizer": {"name": "sgd", "learning_rate": -1}}, "optimizer.learning_rate"),
    ({"model": {"layers": [{"units": 2, "activation": "softmax"},
                           {"units": 1, "activation": "sigmoid"}]}}, "model.layers[0].activation"),
    ({"extra": 1}, "extra"),
])
def test_bad_bodies_name_the_field(client, change, field):
    response = client.post("/v1/trace", json={**BASE, **change})
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == 422 and field in body["errors"], body


def test_a_step_that_overflows_is_refused(client):
    huge = {"W": [[1e300, 1e300], [1e300, 1e300]], "b": [0, 0]}
    response = client.post("/v1/trace", json={
        "model": {"layers": [{"units": 2, "activation": "relu"}, {"units": 2, "activation": "softmax"}]},
        "inputs": [[1e300, 1e300]], "labels": [0], "weights": [huge, huge]})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"inputs", "weights"}


def test_not_json_is_415(client):
    assert client.post("/v1/trace", data="x", content_type="text/plain").status_code == 415
