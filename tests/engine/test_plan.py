"""engine.plan against counts made by hand, the engine's own buffers and a measured speed."""

import numpy as np
import pytest

from engine import Network, SpecError
from engine.calibration import measure_speed
from engine.flops import flops_per_sample
from engine.plan import plan

SPEC = {"model": {"layers": [{"units": 30, "activation": "sigmoid", "dropout": 0.5},
                             {"units": 10, "activation": "softmax"}]},
        "training": {"epochs": 3, "batch_size": 100, "validation_split": 0.1,
                     "optimizer": {"name": "adam"}}}


def test_parameters_flops_and_batches_by_hand():
    result = plan(SPEC, input_size=784, samples=1000)
    assert [layer["parameters"] for layer in result["layers"]] == [785 * 30, 31 * 10]
    assert result["layers"][0] | {"weights": 784 * 30, "biases": 30, "fan_in": 784} == result["layers"][0]
    assert result["parameters"] == 785 * 30 + 31 * 10
    assert result["samples"] == {"total": 1000, "training": 900, "validation": 100}
    assert result["batches_per_epoch"] == 9 and result["epochs"] == 3
    per_sample = flops_per_sample([30, 10], 784)
    assert result["flops"] == {"per_sample": per_sample, "per_epoch": 900 * per_sample,
                               "per_job": 3 * 900 * per_sample}


def test_memory_counts_the_engine_buffers_and_adam_state():
    result = plan(SPEC, input_size=784, samples=1000)
    memory = result["memory"]
    parameters = result["parameters"]
    assert memory["weights_bytes"] == memory["gradients_bytes"] == 4 * parameters
    assert memory["optimizer_state_bytes"] == 2 * 4 * parameters  # Adam's m and v
    # the network's own storage and one batch's workspace, as training allocates them
    net = Network.from_spec(SPEC["model"], input_size=784)
    assert memory["weights_bytes"] == net.weights.nbytes + net.biases.nbytes
    workspace = net.workspace(100)
    workspace.drop(0, np.zeros_like(workspace.a[0]), np.random.default_rng(0), 0.5)
    buffers = [workspace.x, *workspace.a, workspace.z_out, workspace.output, *workspace.delta,
               *workspace._mask.values(), *workspace._dropped.values()]
    assert memory["activations_bytes"] == sum(buffer.nbytes for buffer in buffers)
    assert memory["total_bytes"] == (memory["weights_bytes"] + memory["gradients_bytes"]
                                     + memory["optimizer_state_bytes"] + memory["activations_bytes"])
    sgd = plan({**SPEC, "training": {"optimizer": {"name": "sgd"}}}, input_size=784, samples=1000)
    assert sgd["memory"]["optimizer_state_bytes"] == 0


def test_time_comes_from_the_given_speed_and_says_which():
    speed = {"flops_per_second": 1e9, "seconds_per_batch": 0.001, "worker": "w1",
             "measured_at": "2026-01-01T00:00:00.000Z"}
    result = plan(SPEC, input_size=784, samples=1000, flops_per_second=speed)
    time = result["time"]
    assert time["speed"] == speed
    assert time["seconds_per_epoch"] == pytest.approx(result["flops"]["per_epoch"] / 1e9 + 9 * 0.001)
    assert time["seconds_per_job"] == pytest.approx(3 * time["seconds_per_epoch"])
    plain = plan(SPEC, input_size=784, samples=1000, flops_per_second=2e9)["time"]
    assert plain["speed"] == {"flops_per_second": 2e9}
    unknown = plan(SPEC, input_size=784, samples=1000)["time"]
    assert unknown["seconds_per_epoch"] is None and unknown["speed"] is None
    assert "no worker speed" in unknown["note"]


def test_a_measured_speed_feeds_the_estimate():
    """How close the estimate comes to a real epoch is measured in bench/diagnostics.py (a
    wall-clock comparison would be flaky on a shared machine); here: the probe's record is used."""
    speed = measure_speed(0.05)
    assert speed["flops_per_second"] > 0 and speed["seconds_per_batch"] > 0
    result = plan(SPEC, input_size=784, samples=1000, flops_per_second=speed)
    assert result["time"]["speed"] == speed
    assert result["time"]["seconds_per_epoch"] == pytest.approx(
        result["flops"]["per_epoch"] / speed["flops_per_second"] + 9 * speed["seconds_per_batch"])


def test_batch_size_override_bare_model_specs_and_warnings():
    bare = {"layers": [{"units": 1, "activation": "sigmoid"}], "loss": "binary_cross_entropy"}
    result = plan(bare, input_size=2, samples=4, batch_size=8, dataset="xor")
    assert result["batch_size"] == 8 and result["batches_per_epoch"] == 1
    assert result["memory"]["activations_batch"] == 4  # a batch never holds more than the data
    assert {w["id"] for w in result["warnings"]} == {"xor_without_hidden_layer",
                                                     "batch_larger_than_dataset"}


def test_bad_specs_raise_spec_errors_naming_the_field():
    with pytest.raises(SpecError) as error:
        plan({"model": {"layers": [{"units": 0, "activation": "relu"}]}}, input_size=4, samples=10)
    assert error.value.violations[0].path == "layers[0].units"
    with pytest.raises(SpecError, match="epochs"):
        plan({**SPEC, "training": {"epochs": 0}}, input_size=784, samples=10)
    with pytest.raises(SpecError, match="object"):
        plan([1, 2], input_size=4, samples=10)
