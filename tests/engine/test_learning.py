"""The engine learns: the tutorials' logic gates, and MNIST with the tutorial network."""

import numpy as np
import pytest

from engine import Callback, Network, datasets

GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_xor_with_2_3_1_and_log_loss(hidden):
    y = np.array([0, 1, 1, 0])
    net = Network.from_spec({"layers": [{"units": 3, "activation": hidden},
                                        {"units": 1, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy", "init": "xavier"},
                            input_size=2, seed=0)
    history = net.fit(GATE_INPUTS, y, epochs=1500, batch_size=4,
                      optimizer={"name": "adam", "learning_rate": 0.05})
    np.testing.assert_array_equal(net.predict(GATE_INPUTS), y)
    assert history.epochs[-1]["accuracy"] == 1.0
    assert net.num_classes == 2
    probabilities = net.predict_proba(GATE_INPUTS)
    assert probabilities.shape == (4, 2)
    assert np.all(probabilities[np.arange(4), y] > 0.9)


def test_xor_dataset_from_the_loader():
    (X, y), _ = datasets.load("xor")
    net = Network.from_spec({"layers": [{"units": 3, "activation": "tanh"},
                                        {"units": 1, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy", "init": "xavier"},
                            input_size=X.shape[1], seed=1)
    net.fit(X, y, epochs=1500, batch_size=len(X), optimizer={"name": "adam", "learning_rate": 0.05})
    assert net.evaluate(X, y)["accuracy"] == 1.0


def test_xor_with_one_sigmoid_unit_per_class():
    """k sigmoid outputs on one-hot targets: each unit learns "is it my class?"; the
    prediction is the unit with the largest output."""
    y = np.array([0, 1, 1, 0])
    net = Network.from_spec({"layers": [{"units": 4, "activation": "tanh"},
                                        {"units": 2, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy", "init": "xavier"},
                            input_size=2, num_classes=2, seed=0)
    history = net.fit(GATE_INPUTS, y, epochs=1500, batch_size=4,
                      optimizer={"name": "adam", "learning_rate": 0.05})
    assert history.epochs[-1]["accuracy"] == 1.0
    np.testing.assert_array_equal(net.predict(GATE_INPUTS), y)
    probabilities = net.predict_proba(GATE_INPUTS)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(probabilities[np.arange(4), y] > 0.8)
    metrics = net.evaluate(GATE_INPUTS, y)
    assert metrics["accuracy"] == 1.0
    assert metrics["loss"] == pytest.approx(net.compute_loss(GATE_INPUTS, y))
    assert metrics["loss"] == pytest.approx(history.epochs[-1]["loss"], rel=0.2)


def test_and_gate_with_one_step_perceptron():
    """Rosenblatt's perceptron: w ← w + η (y - prediction) x, one sample at a time."""
    y = np.array([0, 0, 0, 1])
    net = Network.from_spec({"layers": [{"units": 1, "activation": "step"}], "loss": "mse",
                             "init": "normal"}, input_size=2, seed=0)
    weights, bias = net.params[0]["W"][:, 0].astype(np.float64), float(net.params[0]["b"][0])
    # the rule by hand, on the first sample the shuffled first epoch presents
    order = np.random.default_rng(0).permutation(4)
    x, target = GATE_INPUTS[order[0]], y[order[0]]
    prediction = float(x @ weights + bias >= 0)
    expected_weights = weights + 0.1 * (target - prediction) * x
    expected_bias = bias + 0.1 * (target - prediction)

    class FirstUpdate(Callback):
        params = None

        def on_batch_end(self, state):
            if self.params is None:
                layer = state.network.params[0]
                self.params = (layer["W"][:, 0].copy(), layer["b"].copy())

    first = FirstUpdate()
    history = net.fit(GATE_INPUTS, y, epochs=30, batch_size=1, seed=0, callbacks=[first],
                      optimizer={"name": "sgd", "learning_rate": 0.1})
    np.testing.assert_allclose(first.params[0], expected_weights, rtol=1e-6)
    np.testing.assert_allclose(first.params[1], [expected_bias], rtol=1e-6)
    np.testing.assert_array_equal(net.predict(GATE_INPUTS), y)
    assert history.epochs[-1]["accuracy"] == 1.0
    assert net.evaluate(GATE_INPUTS, y)["confusion_matrix"] == [[3, 0], [0, 1]]


@pytest.mark.slow
def test_mnist_tutorial_network_reaches_90_percent_in_two_epochs():
    (X_train, y_train), (X_test, y_test) = datasets.load("mnist")
    net = Network.from_spec({"layers": [{"units": 64, "activation": "sigmoid"},
                                        {"units": 64, "activation": "sigmoid"},
                                        {"units": 10, "activation": "softmax"}],
                             "loss": "cross_entropy", "init": "xavier"},
                            input_size=784, seed=0)
    history = net.fit(X_train, y_train, epochs=2, batch_size=32,
                      optimizer={"name": "adam", "learning_rate": 0.002})
    metrics = net.evaluate(X_test, y_test)
    assert len(history.epochs) == 2
    assert metrics["accuracy"] >= 0.90, metrics["accuracy"]
    assert len(metrics["precision"]) == 10 and sum(map(sum, metrics["confusion_matrix"])) == 10000
