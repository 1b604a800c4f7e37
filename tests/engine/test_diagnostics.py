"""Per-layer health in each history entry, against direct computation in plain NumPy."""

import numpy as np
import pytest

from engine import Callback, Network
from engine.diagnostics import FIELDS, SAMPLE_ROWS, layer_health, sample_rows
from tests.support import reference

LAYERS = [{"units": 12, "activation": "relu"}, {"units": 8, "activation": "tanh"},
          {"units": 6, "activation": "sigmoid"}, {"units": 3, "activation": "softmax"}]


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return X, y


class WeightsBeforeLastStep(Callback):
    """The flat weights after the second-to-last batch: what the last step starts from."""

    def on_batch_end(self, state):
        if state.batch == state.batches - 1:
            self.weights = state.network.weights.astype(np.float64)


def test_every_field_matches_a_direct_computation():
    X, y = _data()
    net = Network.from_spec({"layers": LAYERS}, input_size=5, seed=1, dtype=np.float64)
    before = WeightsBeforeLastStep()
    history = net.fit(X, y, epochs=2, batch_size=64, callbacks=[before],
                      optimizer={"name": "sgd", "learning_rate": 0.2})
    entries = history.epochs[-1]["layers"]
    assert [entry["layer"] for entry in entries] == [0, 1, 2, 3]
    assert all(set(entry) == set(FIELDS) for entry in entries)

    rows = sample_rows(len(X))
    assert len(rows) == SAMPLE_ROWS and rows[0] == 0 and rows[-1] == len(X) - 1
    params = [{key: np.array(value) for key, value in layer.items()} for layer in net.params]
    names = [layer["activation"] for layer in LAYERS]
    grads = reference.numeric_gradients(params, names, "cross_entropy", X[rows], y[rows])
    a = X[rows]
    offset = 0
    for entry, layer, name, grad in zip(entries, params, names, grads, strict=True):
        a = reference.activation(name, a @ layer["W"] + layer["b"])
        W = layer["W"]
        previous = before.weights[offset:offset + W.size].reshape(W.shape)
        offset += W.size
        assert entry["units"] == W.shape[1] and entry["activation"] == name
        assert entry["weight_norm"] == pytest.approx(np.sqrt(np.sum(W**2)), rel=1e-12)
        assert entry["grad_norm"] == pytest.approx(np.sqrt(np.sum(grad["W"] ** 2)), rel=1e-5)
        assert entry["update_ratio"] == pytest.approx(
            np.linalg.norm(W - previous) / np.linalg.norm(previous), rel=1e-9)
        assert entry["activation_mean"] == pytest.approx(a.mean(), rel=1e-9)
        assert entry["activation_std"] == pytest.approx(a.std(), rel=1e-9)
        if name == "relu":
            assert entry["dead_fraction"] == pytest.approx(np.mean((a <= 0).all(axis=0)))
        else:
            assert entry["dead_fraction"] is None
        if name in ("sigmoid", "tanh"):
            low, high = (0.0, 1.0) if name == "sigmoid" else (-1.0, 1.0)
            margin = 0.01 * (high - low)
            want = np.mean((a <= low + margin) | (a >= high - margin))
            assert entry["saturated_fraction"] == pytest.approx(want)
        else:
            assert entry["saturated_fraction"] is None


def test_dead_and_saturated_units_are_counted():
    net = Network.from_spec({"layers": [{"units": 4, "activation": "relu"},
                                        {"units": 5, "activation": "sigmoid"},
                                        {"units": 2, "activation": "softmax"}]},
                            input_size=3, dtype=np.float64)
    net.params[0]["b"][1] = -1e3  # unit 1 never fires: dead
    net.params[0]["b"][3] = -1e3
    net.params[1]["W"][...] = 0.0
    net.params[1]["b"][...] = [50.0, -50.0, 0.0, 50.0, 0.0]  # 3 of 5 units pinned at 0 or 1
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.zeros(40, dtype=int)
    relu, sigmoid, _ = layer_health(net, X, y)
    assert relu["dead_fraction"] == 0.5
    assert sigmoid["saturated_fraction"] == pytest.approx(3 / 5)
    assert relu["update_ratio"] is None  # no step taken


def test_diagnostics_change_nothing_in_training():
    X, y = _data(300)
    config = {"epochs": 3, "batch_size": 32, "validation_split": 0.2, "seed": 3}
    plain, measured = (Network.from_spec({"layers": LAYERS}, input_size=5) for _ in range(2))
    without = plain.fit(X, y, diagnostics=False, **config)
    with_layers = measured.fit(X, y, **config)
    np.testing.assert_array_equal(plain.weights, measured.weights)
    assert "layers" not in without.epochs[0] and len(with_layers.epochs[0]["layers"]) == 4
    assert [e["loss"] for e in without.epochs] == [e["loss"] for e in with_layers.epochs]


def test_a_single_batch_epoch_and_tiny_data_still_measure_the_last_step():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = Network.from_spec({"layers": [{"units": 3, "activation": "tanh"},
                                        {"units": 1, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy"}, input_size=2)
    history = net.fit(X, y, epochs=2, batch_size=4, optimizer={"name": "sgd", "learning_rate": 0.5})
    for entry in history.epochs:
        assert all(layer["update_ratio"] > 0 for layer in entry["layers"])
        assert entry["layers"][1]["saturated_fraction"] is not None
