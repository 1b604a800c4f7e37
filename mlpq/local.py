"""Training, evaluating and predicting in this process with the engine: no service needed."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine import datasets, serialization
from engine.datasets import DATASETS
from engine.network import Network
from engine.spec import SpecError, validate_model_spec, validate_training_config
from engine.training import Callback

PROGRESS_INTERVAL = 0.1  # seconds between progress events (a terminal redraws at 10 Hz)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class LocalError(Exception):
    """A mistake reported in one line; `details` lists spec violations; `exit_code` as the CLI's."""

    def __init__(self, message: str, details: list[str] = (), exit_code: int = 2):
        super().__init__(message)
        self.details, self.exit_code = list(details), exit_code


class Cancelled(Exception):
    """The user chose to cancel a local run: nothing is evaluated or saved."""


def validated_job(spec: dict):
    """(dataset info, model spec, training config) with defaults filled, or LocalError listing
    every violation as `path: message [rule]` (the API's 422 field paths)."""
    name = spec.get("dataset") or "mnist"
    if name not in DATASETS:
        raise LocalError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    info = DATASETS[name]
    violations, model, training = [], None, None
    try:
        model = validate_model_spec(spec.get("model"), input_size=info.input_size,
                                    num_classes=info.num_classes)
    except SpecError as error:
        violations += [_describe("model", violation) for violation in error.violations]
    try:
        training = validate_training_config(spec.get("training") or {})
    except SpecError as error:
        violations += [_describe("training", violation) for violation in error.violations]
    if violations:
        raise LocalError("the spec breaks these rules:", violations)
    return info, model, training


def _describe(prefix: str, violation) -> str:
    path = f"{prefix}.{violation.path}" if violation.path else prefix
    return f"{path}: {violation.message} [{violation.rule}]"


class Reporter(Callback):
    """Feeds a progress view the same events a job's stream carries, and relays Ctrl-C.

    `on_interrupt()` is asked at the next batch after a Ctrl-C and answers "stop" (finish
    this batch, evaluate and save) or "cancel" (raise Cancelled)."""

    def __init__(self, view, on_interrupt: Callable[[], str]):
        self.view, self.on_interrupt = view, on_interrupt
        self.interrupted = False
        self.started = self.last_report = 0.0

    def on_train_begin(self, state):
        self.started = time.monotonic()

    def on_batch_end(self, state):
        if self.interrupted:
            self.interrupted = False
            if self.on_interrupt() == "cancel":
                raise Cancelled
            state.stop()
        if time.monotonic() - self.last_report >= PROGRESS_INTERVAL:
            self._progress(state)

    def on_epoch_end(self, state):
        self._progress(state)
        self.view.event("epoch", state.history[-1])

    def _progress(self, state):
        self.last_report = time.monotonic()
        batches = max(state.batches, 1)
        fraction = ((state.epoch - 1) * batches + min(state.batch, batches)) / (state.epochs * batches)
        elapsed = self.last_report - self.started
        eta = elapsed / fraction * (1 - fraction) if fraction > 0 else None
        self.view.event("progress", {"epoch": state.epoch, "epochs": state.epochs,
                                     "batch": state.batch, "batches": state.batches,
                                     "fraction": round(fraction, 6),
                                     "eta_seconds": None if eta is None else round(eta, 3)})


def train(spec: dict, view, *, save: str | None, data_dir: str | None,
          on_interrupt: Callable[[], str]) -> dict:
    """Train `spec` in this process; the outcome {status, stop_reason, evaluation, path, ...}.

    The first Ctrl-C is relayed to `on_interrupt` at the next batch; a second one while the
    first is pending aborts (KeyboardInterrupt)."""
    info, model, training = validated_job(spec)
    (X, y), (X_test, y_test) = datasets.load(info.name, data_dir)
    net = Network.from_spec(model, input_size=info.input_size, seed=training["seed"])
    view.start(f"training {net!r} on {info.name} here: {len(X):,} samples, {training['epochs']} "
               f"epochs, batch {training['batch_size']}, {training['optimizer']['name']}",
               training["epochs"])
    reporter = Reporter(view, on_interrupt)

    def interrupt(*_):
        if reporter.interrupted:
            raise KeyboardInterrupt
        reporter.interrupted = True

    previous = signal.signal(signal.SIGINT, interrupt)
    view.event("status", {"status": "running"})
    try:
        history = net.fit(X, y, callbacks=[reporter], **training)
    except Cancelled:
        view.event("status", {"status": "cancelled"})
        return {"status": "cancelled", "dataset": info.name}
    finally:
        signal.signal(signal.SIGINT, previous)
        view.stop()
    evaluation = net.evaluate(X_test, y_test)
    outcome = {"status": "succeeded", "stop_reason": history.stop_reason, "dataset": info.name,
               "epochs": len(history.epochs), "best_epoch": history.best_epoch,
               "evaluation": evaluation, "test_samples": len(y_test), "path": None,
               "kind": info.kind}
    if save:
        outcome["path"] = str(serialization.save(net, save, metadata={
            "dataset": info.name, "evaluation": evaluation, "source": "mlpq train --local"}))
    return outcome


def load_model(path: str):
    """(Network, manifest) of a saved model directory; raises engine's ModelFileError."""
    return Network.load(path), serialization.read_manifest(path)


def read_inputs(path: str, input_size: int | None = None) -> np.ndarray:
    """Rows the model takes from one file: an image (preprocessed like MNIST), a JSON list of
    rows, or a .npy array; checked to be `input_size` wide when given."""
    suffix = Path(path).suffix.lower()
    try:
        if suffix in IMAGE_SUFFIXES:
            from api.models.images import ImageError, preprocess_image

            try:
                rows = preprocess_image(Path(path).read_bytes()).reshape(1, -1)
            except ImageError as error:
                raise LocalError(f"{path}: {error.message}") from error
        elif suffix == ".npy":
            rows = np.load(path, allow_pickle=False).astype(np.float32)
        else:
            import json

            rows = np.asarray(json.loads(Path(path).read_text()), dtype=np.float32)
    except (OSError, ValueError, TypeError) as error:
        raise LocalError(f"cannot read inputs from {path}: {error}") from error
    rows = rows.reshape(1, -1) if rows.ndim < 2 or rows.shape == (28, 28) else rows
    rows = rows.reshape(len(rows), -1)
    if input_size is not None and rows.shape[1] != input_size:
        raise LocalError(f"{path}: the model takes rows of {input_size} numbers, got {rows.shape[1]}")
    return rows


def predict(path: str, files: list[str]) -> list[dict]:
    """Predictions of the model saved at `path`, one per row of each file, like Client.predict's."""
    net, manifest = load_model(path)
    classes = manifest["classes"]
    results = []
    for name in files:
        for index, row in enumerate(net.predict_proba(read_inputs(name, net.input_size))):
            label = int(row.argmax())
            result = {"file": name, "label": label, "class": classes[label],
                      "probabilities": [round(float(p), 6) for p in row]}
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                result["row"] = index  # a file of rows: which one
            results.append(result)
    return results


def evaluate(path: str, dataset: str | None, data_dir: str | None) -> dict:
    """Test-set metrics of a saved model, with its class names and dataset."""
    net, manifest = load_model(path)
    name = dataset or manifest.get("dataset")
    if name not in DATASETS:
        raise LocalError("the model does not name its dataset: pass --dataset")
    _, (X_test, y_test) = datasets.load(name, data_dir)
    return {"dataset": name, "classes": manifest["classes"], **net.evaluate(X_test, y_test)}


def fetch(name: str, data_dir: str | None) -> Path:
    if DATASETS.get(name) is None or DATASETS[name].kind != "image":  # gates, tables: built in
        raise LocalError(f"{name!r} is not a downloadable dataset")
    return datasets.fetch(name, data_dir)
