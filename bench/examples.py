"""The built-in MNIST examples trained in full by the engine, as a worker trains them (one BLAS
thread): test accuracy after each epoch, and the training rate in GFLOP/s (engine.flops counts)
that the MLPQ_MAX_JOB_FLOPS default is derived from.

    MLPQ_DATA_DIR=../shared/datasets nice python bench/examples.py [NAME ...]   # accuracy
    MLPQ_DATA_DIR=../shared/datasets nice python bench/examples.py --rate       # GFLOP/s
"""

import argparse
import os
import sys
import time
from pathlib import Path

# run from the repository root, not bench/ (whose modules must not shadow the standard library)
sys.path[0] = str(Path(__file__).resolve().parents[1])

from threadpoolctl import threadpool_limits  # noqa: E402

import engine  # noqa: E402
from engine.examples import EXAMPLES, example  # noqa: E402
from engine.flops import job_flops  # noqa: E402

RATE_NETS = [([1024, 1024, 10], 128), ([256, 128, 10], 128), ([30, 10], 10)]  # (widths, batch)


class Report(engine.Callback):
    """Test accuracy after each epoch."""

    def __init__(self, name, X_test, y_test):
        self.name, self.X_test, self.y_test = name, X_test, y_test
        self.started = time.perf_counter()

    def on_epoch_end(self, state):
        entry = state.history[-1]
        test = state.network.evaluate(self.X_test, self.y_test)["accuracy"]
        print(f"{self.name} epoch {entry['epoch']}: train {entry['accuracy']:.4f} test {test:.4f} "
              f"({time.perf_counter() - self.started:.0f} s)", flush=True)


def accuracy(names, X, y, X_test, y_test):
    for name in names:
        spec = example(name)["spec"]
        training = spec["training"]
        net = engine.Network.from_spec(spec["model"], input_size=784, seed=training["seed"])
        net.fit(X, y, callbacks=[Report(name, X_test, y_test)], **training)
        final = net.evaluate(X_test, y_test)["accuracy"]
        print(f"{name}: {training['epochs']} epochs, test accuracy {final:.2%} "
              f"(stated min {EXAMPLES[name]['expect']['min']:.1%})", flush=True)


def rate(X, y):
    for widths, batch in RATE_NETS:
        layers = [{"units": units, "activation": "relu"} for units in widths[:-1]]
        net = engine.Network.from_spec({"layers": [*layers, {"units": 10, "activation": "softmax"}]},
                                       input_size=784, seed=0)
        wall, cpu = time.perf_counter(), time.process_time()
        net.fit(X, y, epochs=1, batch_size=batch, optimizer={"name": "sgd", "learning_rate": 0.01})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        flops = job_flops(widths, 784, len(X), 1)
        print(f"784-{'-'.join(map(str, widths))} batch {batch}: {flops:.3g} FLOP/epoch, "
              f"{flops / cpu / 1e9:.1f} GFLOP/s by CPU time ({cpu:.2f} s), {flops / wall / 1e9:.1f} "
              f"by wall time ({wall:.2f} s); load average {os.getloadavg()[0]:.1f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="examples to train (default: the MNIST ones)")
    parser.add_argument("--rate", action="store_true", help="measure GFLOP/s instead")
    args = parser.parse_args()
    (X, y), (X_test, y_test) = engine.datasets.load("mnist")
    with threadpool_limits(1):
        if args.rate:
            rate(X, y)
        else:
            names = args.names or [name for name, entry in EXAMPLES.items()
                                   if entry["spec"]["dataset"] == "mnist"]
            accuracy(names, X, y, X_test, y_test)


if __name__ == "__main__":
    main()
