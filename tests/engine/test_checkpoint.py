"""Checkpoint after an epoch, resume in a fresh network: bit-identical to never stopping."""

import json

import numpy as np
import pytest

from engine import Callback, Network, TrainingError
from engine.serialization import load_checkpoint, save_checkpoint

SPEC = {"layers": [{"units": 24, "activation": "relu", "dropout": 0.3},
                   {"units": 12, "activation": "tanh", "dropout": 0.1},
                   {"units": 3, "activation": "softmax"}], "loss": "cross_entropy", "init": "he"}
CONFIG = {"epochs": 5, "batch_size": 16, "seed": 3, "validation_split": 0.2,
          "optimizer": {"name": "adam", "learning_rate": 0.01, "weight_decay": 1e-3},
          "lr_schedule": {"name": "cosine", "min_learning_rate": 0.001},
          "early_stopping": {"monitor": "val_loss", "patience": 10, "restore_best_weights": True}}
TIMING = ("seconds", "samples_per_second")


def _data(n=200):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, n)
    return rng.normal(0.0, 1.0, (n, 6)) + np.eye(3, 6)[y] * 1.5, y


class StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch, self.checkpoint = epoch, None

    def on_epoch_end(self, state):
        if state.epoch == self.epoch:
            self.checkpoint = state.network.checkpoint()
            state.stop()


def _untimed(entries):
    return [{key: value for key, value in entry.items() if key not in TIMING} for entry in entries]


def _assert_same_training(resumed, uninterrupted, resumed_history, uninterrupted_history):
    for got, want in zip(resumed.params, uninterrupted.params, strict=True):
        np.testing.assert_array_equal(got["W"], want["W"])
        np.testing.assert_array_equal(got["b"], want["b"])
    assert _untimed(resumed_history.epochs) == _untimed(uninterrupted_history.epochs)
    assert resumed_history.best_epoch == uninterrupted_history.best_epoch
    assert resumed_history.stop_reason == uninterrupted_history.stop_reason


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_resume_equals_an_uninterrupted_run(optimizer):
    X, y = _data()
    config = {**CONFIG, "optimizer": {**CONFIG["optimizer"], "name": optimizer}}
    uninterrupted = Network.from_spec(SPEC, input_size=6, seed=0)
    expected = uninterrupted.fit(X, y, **config)

    stopper = StopAfter(2)
    first = Network.from_spec(SPEC, input_size=6, seed=0)
    assert first.fit(X, y, callbacks=[stopper], **config).stop_reason == "stopped"
    resumed = Network.from_spec(SPEC, input_size=6, seed=99)  # different weights, overwritten
    history = resumed.fit(X, y, resume_from=stopper.checkpoint)  # config from the checkpoint
    _assert_same_training(resumed, uninterrupted, history, expected)


def test_resume_through_checkpoint_files(tmp_path):
    X, y = _data()
    uninterrupted = Network.from_spec(SPEC, input_size=6, seed=0)
    expected = uninterrupted.fit(X, y, **CONFIG)
    stopper = StopAfter(3)
    Network.from_spec(SPEC, input_size=6, seed=0).fit(X, y, callbacks=[stopper], **CONFIG)
    save_checkpoint(tmp_path / "checkpoint", stopper.checkpoint)
    resumed = Network.from_spec(SPEC, input_size=6, seed=0)
    history = resumed.fit(X, y, resume_from=load_checkpoint(tmp_path / "checkpoint"), **CONFIG)
    _assert_same_training(resumed, uninterrupted, history, expected)


def test_checkpoint_contents_are_arrays_and_json_values():
    X, y = _data()
    net = Network.from_spec(SPEC, input_size=6, seed=0)
    net.fit(X, y, **{**CONFIG, "epochs": 2})
    checkpoint = net.checkpoint()
    assert {"epoch", "training_config", "history", "params", "optimizer", "rng"} <= set(checkpoint)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]) == 2
    assert checkpoint["training_config"] == net.training_config

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return "array" if isinstance(value, np.ndarray) else value

    json.dumps(strip(checkpoint), allow_nan=False)
    checkpoint["params"][0]["W"][...] = 0.0  # a copy: the network is untouched
    assert np.abs(net.params[0]["W"]).sum() > 0


def test_resume_can_extend_the_number_of_epochs():
    X, y = _data()
    config = {**CONFIG, "early_stopping": None}
    uninterrupted = Network.from_spec(SPEC, input_size=6, seed=0)
    expected = uninterrupted.fit(X, y, **{**config, "epochs": 4, "lr_schedule": {"name": "constant"}})
    short = Network.from_spec(SPEC, input_size=6, seed=0)
    short.fit(X, y, **{**config, "epochs": 2, "lr_schedule": {"name": "constant"}})
    resumed = Network.from_spec(SPEC, input_size=6, seed=0)
    history = resumed.fit(X, y, resume_from=short.checkpoint(), epochs=4)
    _assert_same_training(resumed, uninterrupted, history, expected)


def test_checkpoint_before_training_is_an_error():
    with pytest.raises(TrainingError, match="not been trained"):
        Network.from_spec(SPEC, input_size=6).checkpoint()


def test_resume_with_a_changed_optimizer_uses_the_new_settings():
    X, y = _data()
    config = {**CONFIG, "epochs": 2, "early_stopping": None}
    first = Network.from_spec(SPEC, input_size=6, seed=0)
    first.fit(X, y, **config)
    checkpoint = first.checkpoint()
    resumed = Network.from_spec(SPEC, input_size=6, seed=0)
    resumed.fit(X, y, resume_from=checkpoint, epochs=3,
                optimizer={"name": "adam", "learning_rate": 0.01, "beta1": 0.5})
    optimizer = resumed._training.optimizer
    assert optimizer.beta1 == 0.5 and optimizer.iterations == checkpoint["optimizer"]["iterations"] + 10  # 160 samples / 16
    switched = Network.from_spec(SPEC, input_size=6, seed=0)
    history = switched.fit(X, y, resume_from=checkpoint, epochs=3, optimizer={"name": "sgd"})
    assert [entry["epoch"] for entry in history.epochs] == [1, 2, 3]
    assert switched._training.optimizer.iterations == 10
