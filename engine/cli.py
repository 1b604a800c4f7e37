"""`python -m engine`: train, evaluate and query models locally, without the service."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

from engine import datasets, serialization
from engine.datasets import DATASETS, DatasetUnavailable
from engine.network import Network
from engine.serialization import ModelFileError
from engine.spec import SpecError, validate_model_spec, validate_training_config
from engine.training import Callback, TrainingError

EPOCH_LINES = 50  # at most this many epoch lines per run: XOR trains for thousands of epochs


class ProgressBar(Callback):
    """A plain-text bar over the current epoch's batches, then one line of metrics per epoch.

    On a terminal the bar redraws in place (at most 10 times a second); elsewhere (a log
    file, a pipe) only the finished epoch lines are written. With many epochs only every
    `every`-th epoch (and the last) gets a line.
    """

    def __init__(self, stream=None, width=30, every=None):
        self.stream = stream or sys.stdout
        self.width, self.every = width, every
        self.interactive = self.stream.isatty()
        self.last_draw = 0.0
        self.interrupted = False  # set by Ctrl-C: stop after the current batch

    def on_train_begin(self, state):
        self.every = self.every or max(1, -(-state.epochs // EPOCH_LINES))

    def on_batch_end(self, state):
        if self.interrupted:
            state.stop()
        now = time.monotonic()
        if self.interactive and now - self.last_draw > 0.1 and self._shown(state.epoch, state.epochs):
            self.last_draw = now
            self.stream.write(f"\r{self._bar(state.epoch, state.epochs, state.batch, state.batches)}")
            self.stream.flush()

    def on_epoch_end(self, state):
        if self.interrupted:
            state.stop()
        entry = state.history[-1]
        if not self._shown(entry["epoch"], state.epochs):
            return
        line = self._bar(entry["epoch"], state.epochs, state.batches, state.batches)
        self.stream.write(("\r" if self.interactive else "") + f"{line} {format_epoch(entry)}\n")
        self.stream.flush()

    def _shown(self, epoch, epochs):
        return epoch == 1 or epoch == epochs or epoch % self.every == 0

    def _bar(self, epoch, epochs, batch, batches):
        filled = self.width * batch // max(batches, 1)
        digits = len(str(epochs))
        return (f"epoch {epoch:>{digits}}/{epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{batch:>{len(str(batches))}}/{batches}")


def format_epoch(entry: dict) -> str:
    parts = [f"loss {entry['loss']:.4f}", f"acc {entry['accuracy']:.4f}"]
    if entry.get("val_loss") is not None:
        parts += [f"val_loss {entry['val_loss']:.4f}", f"val_acc {entry['val_accuracy']:.4f}"]
    parts.append(f"lr {entry['learning_rate']:.3g}")
    if entry.get("seconds") is not None:
        parts.append(f"{entry['seconds']:.2f}s")
    if entry.get("samples_per_second"):
        parts.append(f"{entry['samples_per_second']:,.0f} samples/s")
    return "  ".join(parts)


def read_job_file(path: str) -> dict:
    """The JSON file `{"dataset": ..., "model": {...}, "training": {...}}` (the API's body)."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from error
    except ValueError as error:
        raise CommandError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise CommandError(f"{path} must hold a JSON object with dataset, model and training")
    unknown = sorted(set(document) - {"dataset", "model", "training", "name"})
    if unknown:
        raise CommandError(f"{path}: unknown top-level fields {unknown}; allowed: dataset, model, training, name")
    return document


class CommandError(Exception):
    """A user mistake the command reports in one line (exit status 2)."""


def validated_job(document: dict, dataset: str | None, epochs: int | None):
    name = dataset or document.get("dataset") or "mnist"
    if name not in DATASETS:
        raise CommandError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    info = DATASETS[name]
    training = dict(document.get("training") or {})
    if epochs is not None:
        training["epochs"] = epochs
    violations = []
    try:
        model = validate_model_spec(document.get("model"), input_size=info.input_size,
                                    num_classes=info.num_classes)
    except SpecError as error:
        violations += [_describe("model", violation) for violation in error.violations]
    try:
        training = validate_training_config(training)
    except SpecError as error:
        violations += [_describe("training", violation) for violation in error.violations]
    if violations:
        raise CommandError("the spec breaks these rules:\n" + "\n".join(violations))
    return info, model, training


def _describe(prefix: str, violation) -> str:
    path = f"{prefix}.{violation.path}" if violation.path else prefix
    return f"  {path}: {violation.message} [{violation.rule}]"


def train(args) -> int:
    info, model, training = validated_job(read_job_file(args.spec), args.dataset, args.epochs)
    (X, y), (X_test, y_test) = datasets.load(info.name, args.data_dir)
    net = Network.from_spec(model, input_size=info.input_size, seed=training["seed"])
    print(f"training {net!r} on {info.name}: {len(X):,} samples, {training['epochs']} epochs, "
          f"batch {training['batch_size']}, {training['optimizer']['name']}")
    progress = ProgressBar(every=args.log_every)
    previous = signal.signal(signal.SIGINT, lambda *_: _interrupt(progress, previous))
    try:
        history = net.fit(X, y, callbacks=[progress], **training)
    except TrainingError as error:
        print(f"\ntraining failed: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
    if history.stop_reason != "completed":
        print(f"stopped early ({history.stop_reason}) after {len(history.epochs)} epochs; "
              f"best epoch {history.best_epoch}")
    metrics = net.evaluate(X_test, y_test)
    note = "; a truth table has no held-out rows: these are the training rows" if info.kind == "gate" else ""
    print(f"test accuracy: {metrics['accuracy']:.4f} "
          f"({round(metrics['accuracy'] * len(y_test))}/{len(y_test)}{note}), test loss {metrics['loss']:.4f}")
    if args.save:
        path = serialization.save(net, args.save, metadata={
            "dataset": info.name, "evaluation": metrics, "source": "python -m engine train"})
        print(f"saved the model to {path}")
    return 0


def _interrupt(progress: ProgressBar, previous) -> None:
    """First Ctrl-C: finish the current batch and report; a second one aborts."""
    if progress.interrupted:
        signal.signal(signal.SIGINT, previous)
        raise KeyboardInterrupt
    progress.interrupted = True
    print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)


def load_model(path: str):
    net = Network.load(path)
    return net, serialization.read_manifest(path)


def evaluate(args) -> int:
    net, manifest = load_model(args.model)
    name = args.dataset or manifest.get("dataset")
    if name not in DATASETS:
        raise CommandError("the model does not name its dataset: pass --dataset")
    _, (X_test, y_test) = datasets.load(name, args.data_dir)
    metrics = net.evaluate(X_test, y_test)
    print(f"{name} test set: accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}")
    classes = manifest["classes"]
    width = max(len(label) for label in classes)
    print(f"{'class':<{width}}  precision  recall")
    for label, precision, recall in zip(classes, metrics["precision"], metrics["recall"], strict=True):
        print(f"{label:<{width}}  {precision:9.4f}  {recall:6.4f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    for row in metrics["confusion_matrix"]:
        print(" ".join(f"{count:5d}" for count in row))
    return 0


def predict(args) -> int:
    """Predict rows of a JSON file (a list of rows) or of a .npy file, or the first test rows."""
    net, manifest = load_model(args.model)
    if args.input:
        X = _read_inputs(args.input)
        labels = None
    else:
        name = args.dataset or manifest.get("dataset")
        if name not in DATASETS:
            raise CommandError("pass --input FILE, or --dataset to predict its first test rows")
        _, (X_test, y_test) = datasets.load(name, args.data_dir)
        X, labels = X_test[: args.count], y_test[: args.count]
    if X.ndim != 2 or X.shape[1] != net.input_size:
        raise CommandError(f"inputs must be rows of {net.input_size} numbers, got shape {list(X.shape)}")
    probabilities = net.predict_proba(X)
    for index, row in enumerate(probabilities):
        label = int(row.argmax())
        record = {"index": index, "label": label, "class": manifest["classes"][label],
                  "probability": round(float(row[label]), 6)}
        if labels is not None:
            record["true_label"] = int(labels[index])
        print(json.dumps(record))
    return 0


def _read_inputs(path: str) -> np.ndarray:
    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False).astype(np.float32)
        return np.asarray(json.loads(Path(path).read_text()), dtype=np.float32)
    except (OSError, ValueError, TypeError) as error:
        raise CommandError(f"cannot read inputs from {path}: {error}") from error


def download(args) -> int:
    for name in args.names:
        if DATASETS.get(name) is None or DATASETS[name].kind == "gate":
            raise CommandError(f"{name!r} is not a downloadable dataset")
        print(f"{name}: files in {datasets.fetch(name, args.data_dir)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="dataset directory (default: $MLPQ_DATA_DIR, "
                        "else ~/.cache/mlpq/datasets)")
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", parents=[common], help="train a network from a JSON spec file")
    train_parser.add_argument("spec", help='JSON file: {"dataset": ..., "model": {...}, "training": {...}}')
    train_parser.add_argument("--dataset", choices=list(DATASETS), help="overrides the file's dataset")
    train_parser.add_argument("--epochs", type=int, help="overrides training.epochs")
    train_parser.add_argument("--save", metavar="DIR", help="save the trained model to DIR")
    train_parser.add_argument("--log-every", type=int, metavar="N", help="print every N-th epoch")
    train_parser.set_defaults(run=train)
    evaluate_parser = commands.add_parser("evaluate", parents=[common], help="test-set metrics of a saved model")
    evaluate_parser.add_argument("model", help="a saved model directory")
    evaluate_parser.add_argument("--dataset", choices=list(DATASETS))
    evaluate_parser.set_defaults(run=evaluate)
    predict_parser = commands.add_parser("predict", parents=[common], help="predict with a saved model (JSON lines)")
    predict_parser.add_argument("model", help="a saved model directory")
    predict_parser.add_argument("--input", help="a .json list of rows or a .npy array")
    predict_parser.add_argument("--dataset", choices=list(DATASETS))
    predict_parser.add_argument("--count", type=int, default=10, help="test rows without --input")
    predict_parser.set_defaults(run=predict)
    download_parser = commands.add_parser("download", parents=[common], help="fetch dataset files (SHA-256 checked)")
    download_parser.add_argument("names", nargs="+", choices=[n for n, i in DATASETS.items() if i.kind != "gate"])
    download_parser.set_defaults(run=download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (DatasetUnavailable, ModelFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
