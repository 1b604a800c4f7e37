"""A regression network seen from inside and on disk: trace, saliency, per-layer health, the
plan and its warnings, and model files that carry the target scale."""

import json

import numpy as np
import pytest

from engine import Network, serialization
from engine.diagnostics import layer_health
from engine.flops import flops_per_sample
from engine.plan import plan
from engine.serialization import ModelFileError
from engine.tasks import TargetScale
from tests.support import reference

LAYERS = [{"units": 6, "activation": "tanh"}, {"units": 5, "activation": "relu"},
          {"units": 2, "activation": "identity"}]
SPEC = {"layers": LAYERS, "task": "regression", "init": "xavier"}
SCALE = TargetScale([10.0, -3.0], [4.0, 0.5])


def _net(seed=1, dtype=np.float64):
    net = Network.from_spec(SPEC, input_size=3, seed=seed, dtype=dtype)
    net.target_scale = SCALE
    return net


def _data(n=40, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])])  # standardised-sized targets
    return X, y


def test_trace_is_one_step_of_the_regression_loss():
    net = _net()
    X, y = _data(8)
    step = net.trace(X, y, {"name": "sgd", "learning_rate": 0.1})
    assert step["loss"] == pytest.approx(net.compute_loss(X, y), rel=1e-12)
    # BP1 for mse through an identity output: δᴸ = (a - y) / n
    np.testing.assert_allclose(step["output_error"], (step["output"] - y) / 8)
    for layer, grads in zip(step["layers"], net.gradients(X, y), strict=True):
        np.testing.assert_allclose(layer["dC_dW"], grads["W"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer["W_after"], layer["W"] - 0.1 * grads["W"], rtol=1e-12)


@pytest.mark.parametrize("output", [0, 1])
def test_saliency_is_the_gradient_of_the_value_in_target_units(output):
    net = _net()
    X, _ = _data(5)
    got = net.input_gradients(X, output)
    eps, want = 1e-6, np.zeros_like(X)
    for i in range(X.shape[1]):
        up, down = X.copy(), X.copy()
        up[:, i] += eps
        down[:, i] -= eps
        want[:, i] = (net.predict_values(up)[:, output] - net.predict_values(down)[:, output]) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    rows = net.input_gradients(X, np.array([0, 1, 0, 1, 1]))
    np.testing.assert_allclose(rows[1], net.input_gradients(X[1:2], 1)[0])
    with pytest.raises(ValueError, match=r"target must be an output unit in \[0, 1\]"):
        net.input_gradients(X, 2)


def test_layer_health_of_a_regression_network_matches_a_direct_computation():
    X, y = _data(60)
    net = _net()
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer={"name": "sgd", "learning_rate": 0.05})
    entries = history.epochs[-1]["layers"]
    assert [entry["activation"] for entry in entries] == ["tanh", "relu", "identity"]
    assert all(entry["update_ratio"] is not None for entry in entries)
    names = [layer["activation"] for layer in LAYERS]
    params = [{key: np.array(value) for key, value in layer.items()} for layer in net.params]
    grads = reference.numeric_gradients(params, names, "mse", X, y)  # 60 rows: all are sampled
    for entry, grad, layer in zip(layer_health(net, X, y), grads, params, strict=True):
        assert entry["grad_norm"] == pytest.approx(np.sqrt(np.sum(grad["W"] ** 2)), rel=1e-5)
        assert entry["weight_norm"] == pytest.approx(np.linalg.norm(layer["W"]), rel=1e-12)
    assert entries[-1]["saturated_fraction"] is None and entries[-1]["dead_fraction"] is None


def test_the_plan_of_a_regression_network():
    got = plan({"model": SPEC, "training": {"epochs": 2, "batch_size": 10,
                                             "early_stopping": {"monitor": "val_r2"},
                                             "validation_split": 0.2}},
               input_size=3, samples=100, num_targets=2, dataset_task="regression")
    assert got["flops"]["per_sample"] == flops_per_sample([6, 5, 2], 3)
    assert got["parameters"] == 4 * 6 + 7 * 5 + 6 * 2 and got["warnings"] == []
    bounded = {**SPEC, "layers": [*LAYERS[:2], {"units": 1, "activation": "sigmoid"}]}
    warned = plan(bounded, input_size=3, samples=100, batch_size=10, dataset_task="classification",
                  num_targets=1)
    assert [w["id"] for w in warned["warnings"]] == ["regression_output_bounded",
                                                    "classification_data_as_regression"]
    with pytest.raises(serialization.specs.SpecError, match="regression does not record accuracy"):
        plan({"model": SPEC, "training": {"early_stopping": {"monitor": "accuracy"}}},
             input_size=3, samples=100)
    with pytest.raises(serialization.specs.SpecError, match="set task to regression"):
        plan({"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy",
              "task": "classification"}, input_size=3, samples=100, dataset_task="regression")
    # naming no task, the spec takes the data's (regression), whose losses it must then use
    with pytest.raises(serialization.specs.SpecError, match="regression task needs one of the "
                                                            "losses mse, mae, huber"):
        plan({"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"},
             input_size=3, samples=100, dataset_task="regression")


@pytest.fixture
def saved(tmp_path):
    net = _net(dtype=np.float32)
    net.fit(*_data(), epochs=2, batch_size=8)
    return net, serialization.save(net, tmp_path / "model")


def _rewrite(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, **changes}))


def test_a_regression_model_round_trips_with_its_scale(saved):
    net, path = saved
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["target_scale"] == {"mean": [10.0, -3.0], "std": [4.0, 0.5]}
    assert manifest["classes"] == [] and manifest["spec"]["task"] == "regression"
    assert manifest["history"][0]["rmse"] > 0 and manifest["history"][0]["val_r2"] is None
    loaded = Network.load(path)
    assert loaded.task == "regression" and loaded.target_scale == SCALE
    X, _ = _data(7, seed=9)
    np.testing.assert_array_equal(loaded.predict_values(X), net.predict_values(X))


def test_an_older_classification_manifest_loads_unchanged(tmp_path):
    """Written before tasks existed: no task in the spec, no target_scale key."""
    net = Network.from_spec({"layers": [{"units": 3, "activation": "softmax"}]}, input_size=3)
    path = serialization.save(net, tmp_path / "old")
    manifest = json.loads((path / "manifest.json").read_text())
    assert "target_scale" not in manifest
    del manifest["spec"]["task"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = Network.load(path)
    assert loaded.task == "classification" and loaded.target_scale is None


@pytest.mark.parametrize(("change", "message"), [
    ({"target_scale": {"mean": [1.0, 2.0], "std": [1.0, -1.0]}}, "std finite and > 0"),
    ({"target_scale": {"mean": [1.0], "std": [1.0]}}, "1 columns for 2 output units"),
    ({"target_scale": [1.0, 2.0]}, "must be an object"),
    ({"target_scale": {"mean": [1.0, 2.0]}}, "expected keys mean and std"),
    ({"preprocessing": {"kind": "table", "target": {"name": "y", "task": "regression",
                                                      "mean": 10.0, "std": 4.0}}}, "differs from"),
])
def test_a_tampered_target_scale_is_refused(saved, change, message):
    _, path = saved
    _rewrite(path, **change)
    with pytest.raises(ModelFileError, match=message):
        Network.load(path)


def test_a_classification_model_with_a_target_scale_is_refused(tmp_path):
    net = Network.from_spec({"layers": [{"units": 3, "activation": "softmax"}]}, input_size=3)
    path = serialization.save(net, tmp_path / "model")
    _rewrite(path, target_scale={"mean": [0.0], "std": [1.0]})
    with pytest.raises(ModelFileError, match="a classification model has no target_scale"):
        Network.load(path)


def test_the_preprocessing_target_and_the_scale_must_agree(tmp_path):
    net = Network.from_spec({**SPEC, "layers": [*LAYERS[:2], {"units": 1, "activation": "identity"}]},
                            input_size=3)
    target = {"name": "price", "task": "regression", "mean": 12.5, "std": 3.0}
    preprocessing = {"kind": "table", "columns": [], "target": target}
    with pytest.raises(ValueError, match="differs from the preprocessing target"):
        serialization.save(net, tmp_path / "a", preprocessing=preprocessing)  # no scale set
    net.target_scale = {"mean": 12.5, "std": 3.0}
    Network.load(serialization.save(net, tmp_path / "b", preprocessing=preprocessing))
    with pytest.raises(ValueError, match="1 class names for a network with 0 classes"):
        serialization.save(net, tmp_path / "c", classes=["low"])
