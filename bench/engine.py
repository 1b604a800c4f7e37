"""Training speed of the engine against PyTorch (CPU) and scikit-learn, in one run.

Trains 784-256-128-10 (relu, softmax + cross-entropy), batch 128, for one epoch over the 60,000
MNIST training images with each library, and prints seconds per epoch, the ratios, and the
engine's fraction of this machine's float32 matmul peak (a large sgemm timed in the same run).
The whole measurement is made twice: with the environment as it is, then in a subprocess with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from that command's environment alone.

    MLPQ_DATA_DIR=../shared/datasets python bench/engine.py [--optimizer sgd|adam] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# run from the repository root, not bench/ (whose modules must not shadow the standard library)
sys.path[0] = str(ROOT)

import engine  # noqa: E402

SIZES = [784, 256, 128, 10]
BATCH_SIZE = 128
LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def engine_trainer(X, y, optimizer):
    """A function that trains the engine for one epoch over (X, y) and returns train accuracy."""
    spec = {"layers": [{"units": 256, "activation": "relu"}, {"units": 128, "activation": "relu"},
                       {"units": 10, "activation": "softmax"}], "loss": "cross_entropy", "init": "he"}
    net = engine.Network.from_spec(spec, input_size=784, seed=0)
    config = {"optimizer": {"name": optimizer, "learning_rate": LEARNING_RATES[optimizer]},
              "batch_size": BATCH_SIZE, "epochs": 1}
    net.fit(X[:BATCH_SIZE * 20], y[:BATCH_SIZE * 20], **config)  # warm-up: buffers, BLAS threads

    def epoch(seed):
        return net.fit(X, y, seed=seed, **config).epochs[-1]["accuracy"]

    return epoch


def bare_numpy_trainer(X, y):
    """The floor for any NumPy engine: a hand-written SGD loop with no callbacks, no metrics,
    no checks (only for --optimizer sgd)."""
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)
               for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True)]
    biases = [np.zeros(fan_out, np.float32) for fan_out in SIZES[1:]]
    rate = np.float32(LEARNING_RATES["sgd"])

    def epoch(seed):
        order = np.random.default_rng(seed).permutation(len(X))
        for start in range(0, len(X), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            x, labels = X[rows], y[rows]
            h1 = np.maximum(x @ weights[0] + biases[0], 0)
            h2 = np.maximum(h1 @ weights[1] + biases[1], 0)
            z = h2 @ weights[2] + biases[2]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(rows)), labels] -= 1
            p /= len(rows)
            g2 = (p @ weights[2].T) * (h2 > 0)
            g1 = (g2 @ weights[1].T) * (h1 > 0)
            for layer, a, delta in ((2, h2, p), (1, h1, g2), (0, x, g1)):
                weights[layer] -= rate * (a.T @ delta)
                biases[layer] -= rate * delta.sum(0)
        return None

    epoch(0)
    return epoch


def torch_trainer(X, y, optimizer, threads):
    """The same with PyTorch: nn.Sequential, the same optimizer, float32, the same loop work."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    opt = optimizers[optimizer](model.parameters(), lr=LEARNING_RATES[optimizer])
    loss_function = torch.nn.CrossEntropyLoss()
    X_t = torch.from_numpy(np.array(X, dtype=np.float32))
    y_t = torch.from_numpy(y.astype(np.int64))

    def epoch(n):
        # the engine's work per batch: shuffle, forward, loss and accuracy sums, backward, step
        order = torch.randperm(n)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            inputs, labels = X_t[rows], y_t[rows]
            opt.zero_grad(set_to_none=True)
            outputs = model(inputs)
            loss = loss_function(outputs, labels)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(rows)
            correct += int((outputs.argmax(1) == labels).sum())
        return correct / n

    epoch(BATCH_SIZE * 20)
    return lambda seed: epoch(len(X))


def interleaved(trainers, repeats):
    """Time one epoch of each trainer in turn, `repeats` times, so that load from other
    processes hits every library alike, with a matmul-peak sample in each round.

    Returns {name: {"wall": [s...], "cpu": [s...], "accuracy": last}} and the best peak sample
    as (wall GFLOP/s, CPU GFLOP/s). CPU time (this process, all threads) excludes the time the
    process waited for a core, so with one thread it is the load-proof figure."""
    results = {name: {"wall": [], "cpu": [], "accuracy": None} for name in trainers}
    peaks = []
    for repeat in range(repeats):
        peaks.append(matmul_peak())
        for name, trainer in trainers.items():
            wall, cpu = time.perf_counter(), time.process_time()
            accuracy = trainer(repeat)
            results[name]["wall"].append(time.perf_counter() - wall)
            results[name]["cpu"].append(time.process_time() - cpu)
            results[name]["accuracy"] = accuracy
    return results, (max(p[0] for p in peaks), max(p[1] for p in peaks))


def sklearn_epoch(X, y, optimizer):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu",
                          solver=optimizer, batch_size=BATCH_SIZE, max_iter=1, shuffle=True,
                          learning_rate_init=LEARNING_RATES[optimizer], momentum=0.0,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(X, y)
        return {"wall": [time.perf_counter() - wall], "cpu": [time.process_time() - cpu],
                "accuracy": None}


def matmul_peak(size=2048, repeats=3):
    """Best float32 GFLOP/s of a size³ matrix product (the machine's practical sgemm peak),
    by wall-clock and by CPU time."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        np.matmul(a, b, out=out)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    flops = 2 * size ** 3 / 1e9
    return flops / min(walls), flops / min(cpus)


def training_flops(samples):
    """(model FLOPs 6·P·N, executed FLOPs): forward 2·W per sample, backward 4·W except the
    first layer, whose input gradient is never computed (2·W there)."""
    weights = [fan_in * fan_out for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True)]
    parameters = sum(weights) + sum(SIZES[1:])
    executed = sum(2 * w + 4 * w for w in weights[1:]) + 4 * weights[0]
    return 6 * parameters * samples, executed * samples


def measure(optimizer, repeats, with_sklearn, threads=None):
    from threadpoolctl import threadpool_info, threadpool_limits

    if threads:  # every library gets the same cap: NumPy's and scikit-learn's BLAS, torch
        threadpool_limits(threads)
    (X, y), _ = engine.datasets.load("mnist")
    X = np.ascontiguousarray(X, dtype=np.float32)
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    threads = blas[0]["num_threads"] if blas else os.cpu_count()
    trainers = {"engine": engine_trainer(X, y, optimizer),
                "torch": torch_trainer(X, y, optimizer, threads)}
    if optimizer == "sgd":
        trainers["bare NumPy loop"] = bare_numpy_trainer(X, y)
    timings, peak = interleaved(trainers, repeats)
    if with_sklearn:
        timings["scikit-learn"] = sklearn_epoch(X, y, optimizer)
    return {"blas": [{key: info.get(key) for key in ("internal_api", "version", "architecture",
                                                     "num_threads")} for info in blas],
            "variables": {name: os.environ.get(name) for name in BLAS_VARIABLES},
            "threads": threads, "peak": peak, "timings": timings,
            "load_average": os.getloadavg()}


def report(title, result):
    timings, threads = result["timings"], result["threads"]
    peak_wall, peak_cpu = result["peak"]
    print(f"\n== {title}")
    for name in BLAS_VARIABLES:
        print(f"   {name}={result['variables'][name]}")
    for info in result["blas"]:
        print(f"   BLAS: {info['internal_api']} {info['version']} kernel={info['architecture']} "
              f"threads={info['num_threads']}")
    print(f"   load average after: {', '.join(f'{value:.2f}' for value in result['load_average'])}")
    print(f"   float32 matmul peak (best 2048³ sgemm): {peak_wall:.1f} GFLOP/s wall"
          + (f", {peak_cpu:.1f} GFLOP/s per CPU-second" if threads == 1 else ""))
    print(f"   {'seconds per epoch':24s} {'median':>8s} {'best':>8s}"
          + (f" {'CPU med':>8s}" if threads == 1 else "") + "   runs")
    for name, timing in timings.items():
        cpu = f" {statistics.median(timing['cpu']):8.3f}" if threads == 1 else ""
        print(f"   {name:24s} {statistics.median(timing['wall']):8.3f} {min(timing['wall']):8.3f}"
              f"{cpu}   {_runs(timing['wall'])}")
    engine_timing = timings["engine"]
    for name, timing in timings.items():
        if name == "engine":
            continue
        ratios = [f"{statistics.median(timing['wall']) / statistics.median(engine_timing['wall']):.2f}x median",
                  f"{min(timing['wall']) / min(engine_timing['wall']):.2f}x best"]
        if threads == 1:
            ratios.append(f"{statistics.median(timing['cpu']) / statistics.median(engine_timing['cpu']):.2f}x CPU time")
        print(f"   engine speed / {name} speed: {', '.join(ratios)}")
    model_flops, executed_flops = training_flops(60000)
    fractions = [("best wall epoch", min(engine_timing["wall"]), peak_wall),
                 ("median wall epoch", statistics.median(engine_timing["wall"]), peak_wall)]
    if threads == 1:
        fractions.append(("median CPU time", statistics.median(engine_timing["cpu"]), peak_cpu))
    for label, seconds, peak in fractions:
        print(f"   engine / matmul peak, {label}: {model_flops / seconds / 1e9 / peak:.1%} of it "
              f"counting 6·params·samples ({model_flops / 1e9:.1f} GFLOP), "
              f"{executed_flops / seconds / 1e9 / peak:.1%} counting executed FLOPs "
              f"({executed_flops / 1e9:.1f} GFLOP)")


def _runs(times):
    return ", ".join(f"{value:.3f}" for value in times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(LEARNING_RATES), default="sgd")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/torch threads for every library (default: BLAS's own count)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.optimizer, args.repeats, not args.no_sklearn, args.threads)))
        return
    print(f"784-256-128-10 relu, softmax + cross-entropy, batch {BATCH_SIZE}, one epoch of 60,000 "
          f"MNIST images, optimizer {args.optimizer}, median of {args.repeats} epochs, engine and torch interleaved")
    report("environment as it is",
           measure(args.optimizer, args.repeats, not args.no_sklearn, args.threads))
    clean = {key: value for key, value in os.environ.items() if key not in BLAS_VARIABLES}
    child = subprocess.run([sys.executable, __file__, "--child", "--optimizer", args.optimizer,
                            "--repeats", str(args.repeats)]
                           + (["--no-sklearn"] if args.no_sklearn else [])
                           + ([f"--threads={args.threads}"] if args.threads else []),
                           env=clean, check=True, capture_output=True, text=True)
    report("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this command only)",
           json.loads(child.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
