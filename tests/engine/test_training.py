"""The training loop: reproducibility, history, validation, callbacks and stops, early stopping,
schedules, and clear errors."""

import math

import numpy as np
import pytest

from engine import Callback, Network, SpecError, TrainingError
from engine.evaluation import GOALS, HISTORY_METRICS
from engine.spec import MONITORS
from engine.stopping import EarlyStopping

SPEC = {"layers": [{"units": 16, "activation": "relu", "dropout": 0.2},
                   {"units": 3, "activation": "softmax"}], "loss": "cross_entropy", "init": "he"}
HISTORY_KEYS = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                "seconds", "samples_per_second", "layers"}
TIMING = ("seconds", "samples_per_second")


def _data(n=300, seed=0):
    """Three Gaussian blobs in 4-D: learnable, but not in one step."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(0.0, 1.0, (n, 4)) + np.eye(3, 4)[y] * 2.0
    return X, y


def _net(seed=0, spec=SPEC):
    return Network.from_spec(spec, input_size=4, seed=seed)


def _untimed(history):
    return [{key: value for key, value in entry.items() if key not in TIMING} for entry in history]


class Recorder(Callback):
    def __init__(self):
        self.calls, self.batches_seen, self.weights = [], [], {}

    def on_train_begin(self, state):
        self.calls.append("begin")

    def on_batch_end(self, state):
        self.batches_seen.append((state.epoch, state.batch, state.samples_seen))

    def on_epoch_end(self, state):
        self.calls.append(f"epoch {state.epoch}")
        self.weights[state.epoch] = [layer["W"].copy() for layer in state.network.params]

    def on_train_end(self, state):
        self.calls.append("end")


def test_same_seeds_give_bit_identical_weights_and_metrics():
    X, y = _data()
    config = {"epochs": 3, "batch_size": 32, "validation_split": 0.2, "seed": 7,
              "optimizer": {"name": "adam", "learning_rate": 0.01}}
    first, second = _net(), _net()
    history_first, history_second = first.fit(X, y, **config), second.fit(X, y, **config)
    for a, b in zip(first.params, second.params, strict=True):
        np.testing.assert_array_equal(a["W"], b["W"])
        np.testing.assert_array_equal(a["b"], b["b"])
    assert _untimed(history_first.epochs) == _untimed(history_second.epochs)
    third = _net()
    third.fit(X, y, **{**config, "seed": 8})
    assert not np.array_equal(third.params[0]["W"], first.params[0]["W"])


def test_history_entries_and_history_object():
    X, y = _data()
    net = _net()
    history = net.fit(X, y, epochs=2, batch_size=50)
    assert [set(entry) for entry in history.epochs] == [HISTORY_KEYS] * 2
    assert [entry["epoch"] for entry in history.epochs] == [1, 2]
    assert history.epochs[0]["val_loss"] is None and history.epochs[0]["val_accuracy"] is None
    assert history.history["loss"] == [entry["loss"] for entry in history.epochs]
    assert history.stop_reason == "completed"
    assert history.best_epoch in (1, 2)
    assert net.history is history.epochs
    assert net.training_config["batch_size"] == 50 and net.training_config["optimizer"]["name"] == "adam"
    assert all(entry["seconds"] > 0 and entry["samples_per_second"] > 0 for entry in history.epochs)
    assert all(layer[key].dtype == np.float32 for layer in net.params for key in ("W", "b"))


def test_validation_split_takes_the_last_fraction():
    X, y = _data()
    net = _net()
    history = net.fit(X, y, epochs=2, batch_size=32, validation_split=0.25, seed=1)
    last = history.epochs[-1]
    assert last["val_loss"] == pytest.approx(net.compute_loss(X[225:], y[225:]), rel=1e-5)
    assert last["val_accuracy"] == pytest.approx(float(np.mean(net.predict(X[225:]) == y[225:])))
    counted = Recorder()
    _net().fit(X, y, epochs=1, batch_size=32, validation_split=0.25, callbacks=[counted])
    assert counted.batches_seen[-1] == (1, math.ceil(225 / 32), 225)


def test_validation_data_argument_and_monitoring_rules():
    X, y = _data()
    X_val, y_val = _data(90, seed=5)
    history = _net().fit(X, y, epochs=1, validation_data=(X_val, y_val),
                         early_stopping={"monitor": "val_accuracy"})
    assert history.epochs[0]["val_accuracy"] is not None
    with pytest.raises(SpecError) as error:
        _net().fit(X, y, epochs=1, early_stopping={"monitor": "val_loss"})
    assert error.value.violations[0].path == "early_stopping.monitor"


def test_callbacks_see_every_batch_and_epoch():
    X, y = _data()
    recorder = Recorder()
    _net().fit(X, y, epochs=2, batch_size=64, callbacks=[recorder])
    assert recorder.calls == ["begin", "epoch 1", "epoch 2", "end"]
    assert len(recorder.batches_seen) == 2 * 5
    assert recorder.batches_seen[:5] == [(1, b, min(64 * b, 300)) for b in range(1, 6)]
    assert recorder.batches_seen[-1] == (2, 5, 600)


class StopAt(Callback):
    def __init__(self, epoch, batch):
        self.epoch, self.batch, self.after_stop, self.weights = epoch, batch, 0, None

    def on_batch_end(self, state):
        if self.weights is not None:
            self.after_stop += 1
        if (state.epoch, state.batch) == (self.epoch, self.batch):
            self.weights = [layer["W"].copy() for layer in state.network.params]
            state.stop()


def test_stop_takes_effect_within_one_batch():
    X, y = _data()
    stopper, recorder = StopAt(2, 3), Recorder()
    net = _net()
    history = net.fit(X, y, epochs=5, batch_size=32, callbacks=[stopper, recorder])
    assert stopper.after_stop == 0
    assert history.stop_reason == "stopped"
    assert len(history.epochs) == 1  # epoch 2 never completed
    assert recorder.calls[-1] == "end"
    for layer, saved in zip(net.params, stopper.weights, strict=True):
        np.testing.assert_array_equal(layer["W"], saved)
    with pytest.raises(TrainingError, match="complete epoch"):
        net.checkpoint()


def test_stop_at_epoch_end():
    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, state):
            state.stop()

    X, y = _data()
    history = _net().fit(X, y, epochs=4, callbacks=[StopAfterFirstEpoch()])
    assert len(history.epochs) == 1 and history.stop_reason == "stopped"


def test_non_finite_loss_names_epoch_and_batch():
    class Poison(Callback):
        def on_batch_end(self, state):
            if (state.epoch, state.batch) == (2, 4):
                state.network.params[0]["W"][0, 0] = np.nan

    X, y = _data()
    with pytest.raises(TrainingError, match=r"^non-finite loss at epoch 2, batch 5$") as error:
        _net().fit(X, y, epochs=3, batch_size=32, callbacks=[Poison()])
    assert (error.value.epoch, error.value.batch) == (2, 5)


def test_divergence_is_reported_not_silent():
    X, y = _data()
    spec = {"layers": [{"units": 3, "activation": "identity"}], "loss": "mse", "init": "he"}
    with pytest.raises(TrainingError, match="non-finite loss at epoch") as error:
        _net(spec=spec).fit(X * 100, y, epochs=50, optimizer={"name": "sgd", "learning_rate": 10.0})
    assert error.value.epoch >= 1 and error.value.batch >= 1


class Impossible:
    """early_stopping on accuracy with min_delta 1: no epoch after the first can improve."""

    config = {"monitor": "accuracy", "patience": 2, "min_delta": 1.0}


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_patience_and_restoring_best_weights(restore):
    X, y = _data()
    recorder = Recorder()
    net = _net()
    history = net.fit(X, y, epochs=10, batch_size=32, callbacks=[recorder],
                      early_stopping={**Impossible.config, "restore_best_weights": restore})
    assert history.stop_reason == "early_stopping"
    assert len(history.epochs) == 3 and history.best_epoch == 1
    expected = recorder.weights[1] if restore else recorder.weights[3]
    for layer, saved in zip(net.params, expected, strict=True):
        np.testing.assert_array_equal(layer["W"], saved)


@pytest.mark.parametrize(("min_delta", "stop_epoch", "best_epoch"), [(0.0, 6, 4), (0.06, 4, 2)])
def test_early_stopping_rule_on_a_scripted_sequence(min_delta, stop_epoch, best_epoch):
    """val_loss 1.0, 0.9, 0.95, 0.85, 0.86, 0.87 with patience 2: worked by hand, an improvement
    resets the wait; with min_delta 0.06 the 0.05 gain at epoch 4 does not count."""
    stopping = EarlyStopping(monitor="val_loss", patience=2, min_delta=min_delta,
                             restore_best_weights=False)
    net = _net()
    stopped_at = None
    for epoch, value in enumerate([1.0, 0.9, 0.95, 0.85, 0.86, 0.87], start=1):
        if stopping.update({"epoch": epoch, "val_loss": value}, net):
            stopped_at = epoch
            break
    assert (stopped_at, stopping.best_epoch) == (stop_epoch, best_epoch)


def test_early_stopping_improves_each_metric_the_way_the_registry_says():
    """engine.evaluation.HISTORY_METRICS: each metric a history records, with its direction."""
    X, y = _data()
    entry = _net().fit(X, y, epochs=1, validation_split=0.2).epochs[0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(entry) & set(HISTORY_METRICS)
    assert set(HISTORY_METRICS.values()) <= set(GOALS) and MONITORS == tuple(HISTORY_METRICS)
    for name, goal in HISTORY_METRICS.items():
        stopping = EarlyStopping(monitor=name, patience=1, restore_best_weights=False)
        better, worse = (0.6, 0.4) if goal == "max" else (0.4, 0.6)
        assert not stopping.update({"epoch": 1, name: 0.5}, None)
        assert not stopping.update({"epoch": 2, name: better}, None), name  # an improvement
        assert stopping.update({"epoch": 3, name: worse}, None), name  # patience 1 used up
        assert stopping.best_epoch == 2
    with pytest.raises(ValueError, match="unknown monitor 'f1'"):
        EarlyStopping(monitor="f1")


def test_learning_rate_schedule_appears_in_history():
    X, y = _data()
    history = _net().fit(X, y, epochs=5, optimizer={"name": "sgd", "learning_rate": 0.1},
                         lr_schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_bad_training_config_and_data_are_clear_errors():
    X, y = _data()
    with pytest.raises(SpecError) as error:
        _net().fit(X, y, epochs=0, batch_size="big")
    assert {violation.path for violation in error.value.violations} == {"epochs", "batch_size"}
    with pytest.raises(ValueError, match=r"X must have shape \(n, 4\)"):
        _net().fit(X[:, :3], y)
    with pytest.raises(ValueError, match="labels must lie in"):
        _net().fit(X, y + 1)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values \(rows \[3\]\)"):
        _net().fit(bad, y)


def test_float64_inputs_and_a_final_partial_batch():
    X, y = _data(301)
    net = _net()
    history = net.fit(X.astype(np.float64), y, epochs=1, batch_size=100)
    assert net.params[0]["W"].dtype == np.float32
    assert np.isfinite(history.epochs[0]["loss"])
    probabilities = net.predict_proba(X)
    assert probabilities.shape == (301, 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert net.predict(X).dtype == np.int64


def test_evaluate_against_hand_counts():
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=2)
    metrics = net.evaluate(X, y)
    predicted = net.predict(X)
    matrix = np.zeros((3, 3), dtype=int)
    for true, guess in zip(y, predicted, strict=True):
        matrix[true, guess] += 1
    assert metrics["confusion_matrix"] == matrix.tolist()
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == y))
    for k in range(3):
        assert metrics["precision"][k] == pytest.approx(matrix[k, k] / matrix[:, k].sum())
        assert metrics["recall"][k] == pytest.approx(matrix[k, k] / matrix[k, :].sum())
    probabilities = net.predict_proba(X).astype(np.float64)
    assert metrics["loss"] == pytest.approx(-np.mean(np.log(probabilities[np.arange(300), y])), rel=1e-4)


def test_predictions_from_many_threads_at_once_are_correct():
    """A served model is shared between request threads: scratch buffers must not be."""
    from concurrent.futures import ThreadPoolExecutor

    X, y = _data(6000)
    net = _net()
    net.fit(X, y, epochs=1)
    expected = net.predict_proba(X)
    chunks = [slice(start, start + 300 + start % 3) for start in range(0, 5600, 7)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda rows: net.predict_proba(X[rows]), chunks))
    for rows, result in zip(chunks, results, strict=True):
        np.testing.assert_array_equal(result, expected[rows])


def test_epoch_hooks_alone_see_progress_counters():
    class EpochOnly(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, state):
            self.seen.append((state.epoch, state.batch, state.batches, state.samples_seen))

    X, y = _data()
    callback = EpochOnly()
    _net().fit(X, y, epochs=2, batch_size=64, callbacks=[callback])
    assert callback.seen == [(1, 5, 5, 300), (2, 5, 5, 600)]


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_a_value_error_naming_rows(bad_value):
    X, y = _data()
    X[250, 2] = bad_value
    with pytest.raises(ValueError, match=r"rows \[250\]"):
        _net().fit(X, y, epochs=2, batch_size=32)
    with pytest.raises(ValueError, match=r"rows \[250\]"):
        _net().fit(X[:200], y[:200], epochs=1, validation_data=(X, y))


def test_params_are_views_that_cannot_be_detached():
    net = _net()
    with pytest.raises(TypeError):
        net.params[0]["W"] = np.zeros((4, 16), dtype=np.float32)
    net.params[0]["W"][...] = 0.5  # in place: reaches the storage training updates
    assert np.all(net.weights[:64] == 0.5)
    net.params = [{"W": np.ones((4, 16)), "b": np.zeros(16)}, {"W": np.ones((16, 3)), "b": np.ones(3)}]
    assert net.params[1]["b"].dtype == np.float32 and np.all(net.biases[16:] == 1.0)
    with pytest.raises(ValueError, match=r"params\[1\]\['W'\] has shape \(3, 3\)"):
        net.params = [{"W": np.ones((4, 16)), "b": np.zeros(16)}, {"W": np.ones((3, 3)), "b": np.ones(3)}]
