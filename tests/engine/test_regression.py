"""Regression: the losses and metrics against values worked by hand, a target scale that puts
predictions and metrics in the target's units, and a tiny regression trained end to end."""

import numpy as np
import pytest

from engine import Network, SpecError
from engine.evaluation import METRICS
from engine.losses import LOSSES, loss_for
from engine.metrics import regression_metrics
from engine.spec import LOSS_PARAMETER_RULES, MONITORS
from engine.tasks import TASKS, TargetScale

LINEAR = {"layers": [{"units": 1, "activation": "identity"}], "task": "regression"}
HIDDEN = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}],
          "task": "regression", "init": "xavier"}
ADAM = {"optimizer": {"name": "adam", "learning_rate": 0.05}, "batch_size": 32}


def plane(n=400, seed=0):
    """y = 3 x1 - 2 x2 + noise (σ 0.1), in units around 50: X (n, 2), raw y (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.0, (n, 2)).astype(np.float32)
    return X, 50.0 + 3.0 * X[:, 0] - 2.0 * X[:, 1] + rng.normal(0.0, 0.1, n)


def test_the_registries_agree():
    for task in TASKS.values():
        assert task.name in LOSSES[task.default_loss].tasks
        assert set(task.metrics) <= set(METRICS)
    assert all(loss.tasks <= set(TASKS) for loss in LOSSES.values())
    assert set(LOSS_PARAMETER_RULES) == {key for loss in LOSSES.values() for key in loss.parameters}
    assert {"val_rmse", "val_mae", "val_r2", "rmse", "mae", "r2"} <= set(MONITORS)
    assert (METRICS["rmse"], METRICS["mae"], METRICS["r2"]) == ("min", "min", "max")


@pytest.mark.parametrize(("name", "delta", "expected"), [
    ("mse", None, 0.5 * (0.25 + 4.0 + 0.0 + 9.0) / 2),
    ("mae", None, (0.5 + 2.0 + 0.0 + 3.0) / 2),
    # δ = 1: ½ 0.5², then 1 (2 - ½) and 1 (3 - ½) beyond δ
    ("huber", 1.0, (0.125 + 1.5 + 0.0 + 2.5) / 2),
    ("huber", 2.5, (0.125 + 2.0 + 0.0 + 2.5 * (3.0 - 1.25)) / 2),
])
def test_loss_values_by_hand(name, delta, expected):
    """Two rows, two outputs: errors 0.5, -2 / 0, 3; summed over units, mean over rows."""
    a = np.array([[1.5, 0.0], [2.0, 4.0]])
    y = np.array([[1.0, 2.0], [2.0, 1.0]])
    spec = {"loss": name, **({"huber_delta": delta} if delta else {})}
    loss = loss_for(spec)
    assert loss.value(a, a, loss.targets(y, 2, np.float64)) == pytest.approx(expected)


def test_huber_is_mse_near_the_target_and_mae_far_from_it():
    a, y = np.array([[0.3], [-0.2]]), np.zeros((2, 1))
    huber, mse = loss_for({"loss": "huber"}), LOSSES["mse"]
    assert huber.value(a, a, y) == pytest.approx(mse.value(a, a, y))
    far = np.array([[5.0], [-7.0]])
    slope = huber.delta(far, far, y, Network.from_spec(LINEAR, input_size=1).activations[-1])
    np.testing.assert_allclose(slope, [[0.5], [-0.5]])  # clipped at ±δ, / n


@pytest.mark.parametrize("loss", [{"loss": "huber", "huber_delta": 0.4}, {"loss": "mae"}])
def test_backprop_matches_finite_differences_of_the_loss(loss):
    """huber with its own δ (the reference grid in test_gradients uses δ = 1), mae on 2 outputs."""
    units = 2 if loss["loss"] == "mae" else 1
    spec = {**HIDDEN, **loss, "layers": [HIDDEN["layers"][0], {"units": units, "activation": "identity"}]}
    net = Network.from_spec(spec, input_size=3, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    X, y = rng.normal(0.0, 1.0, (9, 3)), rng.normal(0.0, 1.5, (9, units))
    analytic, eps = net.gradients(X, y), 1e-6
    for layer, grads in zip(net.params, analytic, strict=True):
        for key in ("W", "b"):
            numeric = np.zeros_like(layer[key])
            for index in np.ndindex(layer[key].shape):
                original = layer[key][index]
                layer[key][index] = original + eps
                plus = net.compute_loss(X, y)
                layer[key][index] = original - eps
                minus = net.compute_loss(X, y)
                layer[key][index] = original
                numeric[index] = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(grads[key], numeric, rtol=1e-6, atol=1e-8)


def test_metrics_by_hand():
    # errors 0, -1, 1, -1; the actual values' mean is 2.75, Σ(y - ȳ)² = 8.75
    got = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 5.0])
    assert got == pytest.approx({"rmse": np.sqrt(0.75), "mae": 0.75, "r2": 1 - 3 / 8.75})
    # two columns: r² is the mean of each column's (the second is exact: 1); rmse over all values
    two = regression_metrics([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [4.0, 3.0]],
                             [[1.0, 0.0], [3.0, 1.0], [2.0, 2.0], [5.0, 3.0]])
    assert two == pytest.approx({"rmse": np.sqrt(3 / 8), "mae": 3 / 8, "r2": (1 - 3 / 8.75 + 1) / 2})
    # a constant target: r² is 1 when predicted exactly, else 0 (as scikit-learn)
    assert regression_metrics([2.0, 2.0], [2.0, 2.0])["r2"] == 1.0
    assert regression_metrics([2.0, 3.0], [2.0, 2.0])["r2"] == 0.0


def test_the_target_scale_puts_predictions_and_metrics_in_target_units():
    X, raw = plane(64)
    scale = TargetScale(raw.mean(), raw.std())
    y = ((raw - raw.mean()) / raw.std()).astype(np.float32)
    net = Network.from_spec(HIDDEN, input_size=2, seed=0)
    net.target_scale = (raw.mean(), raw.std())
    assert net.target_scale == scale and net.target_scale.to_dict() == {
        "mean": [raw.mean()], "std": [raw.std()]}
    standardised = net.predict_values(X)  # the raw outputs, decoded: compare by hand
    net.target_scale = None
    np.testing.assert_allclose(standardised, net.predict_values(X) * raw.std() + raw.mean())
    net.target_scale = scale
    got = net.evaluate(X, y)
    assert set(got) == {"loss", "rmse", "mae", "r2"}
    assert got == pytest.approx({"loss": net.compute_loss(X, y),
                                 **regression_metrics(net.predict_values(X), raw)}, rel=1e-5)
    entry = net.fit(X, y, epochs=1, validation_split=0.25, **ADAM).epochs[0]
    val = slice(48, 64)
    assert entry["val_rmse"] == pytest.approx(
        regression_metrics(net.predict_values(X[val]), raw[val])["rmse"], rel=1e-5)


def test_a_target_scale_is_checked():
    net = Network.from_spec(HIDDEN, input_size=2)
    for bad, message in [((0.0, 0.0), "std finite and > 0"), (([0, 1], [1, 1]), "2 columns for 1"),
                         ({"mean": 1.0}, "expected keys mean and std")]:
        with pytest.raises(ValueError, match=message):
            net.target_scale = bad
    classifier = Network.from_spec({"layers": [{"units": 2, "activation": "softmax"}]}, input_size=2)
    with pytest.raises(ValueError, match="only a regression network"):
        classifier.target_scale = (0.0, 1.0)


def test_regression_predicts_values_not_classes():
    net = Network.from_spec(HIDDEN, input_size=2)
    X, _ = plane(5)
    assert net.num_classes is None and net.predict(X).shape == (5,)
    np.testing.assert_array_equal(net.predict(X), net.predict_values(X))
    with pytest.raises(ValueError, match="use predict_values"):
        net.predict_proba(X)
    with pytest.raises(ValueError, match=r"y must be \(5,\) or \(5, 1\)"):
        net.evaluate(X, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.fit(X, np.array([0.0, 1.0, np.nan, 0.0, 1.0]), epochs=1)
    classifier = Network.from_spec({"layers": [{"units": 2, "activation": "softmax"}]}, input_size=2)
    with pytest.raises(ValueError, match="use predict or predict_proba"):
        classifier.predict_values(X)


def _standardised(n=400, seed=0):
    X, raw = plane(n, seed)
    return X, ((raw - raw.mean()) / raw.std()).astype(np.float32), raw


def test_a_tiny_regression_trains_end_to_end():
    X, y, raw = _standardised()
    X_test, _, raw_test = _standardised(200, seed=1)

    def trained():
        net = Network.from_spec(HIDDEN, input_size=2, seed=4)
        net.target_scale = (raw.mean(), raw.std())
        return net, net.fit(X, y, epochs=40, validation_split=0.2, **ADAM)

    net, history = trained()
    keys = ["epoch", "loss", "rmse", "mae", "r2", "val_loss", "val_rmse", "val_mae", "val_r2",
            "learning_rate", "seconds", "samples_per_second", "layers"]
    assert list(history.epochs[0]) == keys
    losses = history.history["loss"]
    assert losses[-1] < losses[0] / 20
    assert history.epochs[-1]["val_r2"] > 0.99 and history.epochs[-1]["r2"] > 0.99
    test = regression_metrics(net.predict_values(X_test), raw_test)
    assert test["r2"] > 0.99 and test["rmse"] < 0.3  # target units: the noise is 0.1
    again, _ = trained()
    np.testing.assert_array_equal(net.weights, again.weights)
    np.testing.assert_array_equal(net.biases, again.biases)


@pytest.mark.parametrize(("monitor", "better"), [("val_rmse", min), ("val_r2", max)])
def test_early_stopping_watches_regression_metrics(monitor, better):
    """Once the fit reaches the noise, the metric wobbles and training stops; the best epoch
    is the lowest rmse or the highest r², and its weights are put back."""
    X, y, raw = _standardised(200)
    net = Network.from_spec(HIDDEN, input_size=2, seed=4)
    net.target_scale = (raw.mean(), raw.std())
    history = net.fit(X, y, epochs=300, validation_split=0.2, **ADAM,
                      early_stopping={"monitor": monitor, "patience": 3})
    values = history.history[monitor]
    assert history.stop_reason == "early_stopping" and len(values) < 300
    assert history.best_epoch == values.index(better(values)) + 1
    restored = net.evaluate(X[160:], y[160:])[monitor.removeprefix("val_")]
    assert restored == pytest.approx(better(values), rel=1e-5)
    with pytest.raises(SpecError, match="regression does not record val_accuracy"):
        net.fit(X, y, epochs=1, validation_split=0.2,
                early_stopping={"monitor": "val_accuracy"})


def test_resuming_a_regression_continues_exactly():
    X, y, _ = _standardised(120)
    whole = Network.from_spec(HIDDEN, input_size=2, seed=3)
    whole.fit(X, y, epochs=4, validation_split=0.25, **ADAM)
    first = Network.from_spec(HIDDEN, input_size=2, seed=3)
    first.fit(X, y, epochs=2, validation_split=0.25, **ADAM)
    resumed = Network.from_spec(HIDDEN, input_size=2, seed=99)
    resumed.fit(X, y, resume_from=first.checkpoint(), epochs=4)
    np.testing.assert_array_equal(whole.weights, resumed.weights)
    assert [e["val_r2"] for e in resumed.history] == [e["val_r2"] for e in whole.history]
