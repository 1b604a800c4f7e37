"""What per-layer diagnostics cost an epoch, and how close a plan's time estimate comes.

Trains the MNIST benchmark net of bench/engine.py (784-256-128-10, relu, softmax, Adam, batch
128) for one epoch over the 60,000 training images, alternating epochs without and with
diagnostics in the same process, and prints the fastest and the median seconds of each (wall
and CPU time; with one BLAS thread CPU time is the less load-sensitive figure) and their ratios.
On a busy machine epoch-to-epoch noise exceeds the effect, so it also times the diagnostics'
own work alone (a weight snapshot plus one `Diagnostics.measure`, fastest of 20) as a share of
the fastest plain epoch. Then it measures this
machine's speed as a worker does at start (engine.calibration) and prints the plan's estimate
of the same epoch beside the measured one.

    MLPQ_DATA_DIR=../shared/datasets python bench/diagnostics.py [--repeats 5] [--threads 1]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # run from the repository root, not bench/

from threadpoolctl import threadpool_limits  # noqa: E402

import engine  # noqa: E402
from engine.calibration import measure_speed  # noqa: E402
from engine.diagnostics import Diagnostics  # noqa: E402
from engine.plan import plan  # noqa: E402

SPEC = {"layers": [{"units": 256, "activation": "relu"}, {"units": 128, "activation": "relu"},
                   {"units": 10, "activation": "softmax"}], "loss": "cross_entropy", "init": "he"}
TRAINING = {"optimizer": {"name": "adam", "learning_rate": 0.001}, "batch_size": 128, "epochs": 1}


def timed_epoch(net, X, y, seed, diagnostics):
    wall, cpu = time.perf_counter(), time.process_time()
    net.fit(X, y, seed=seed, diagnostics=diagnostics, **TRAINING)
    return time.perf_counter() - wall, time.process_time() - cpu


def diagnostics_work(net, X, y, rounds=20):
    """Fastest wall time of what diagnostics add to an epoch: the snapshot and the measurement."""
    diagnostics, best = Diagnostics(X, y), float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        diagnostics.before_last_step(net)
        diagnostics.measure(net)
        best = min(best, time.perf_counter() - began)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    (X, y), _ = engine.datasets.load("mnist")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        net = engine.Network.from_spec(SPEC, input_size=784, seed=0)
        net.fit(X[:2560], y[:2560], **TRAINING)  # warm-up: buffers, BLAS threads, caches
        times = {False: [], True: []}
        for repeat in range(args.repeats):
            order = (False, True) if repeat % 2 == 0 else (True, False)  # neither always first
            for diagnostics in order:
                times[diagnostics].append(timed_epoch(net, X, y, repeat, diagnostics))
        work = diagnostics_work(net, X, y)
        speed = measure_speed()
    figures = {}  # (diagnostics, statistic) -> (wall, cpu)
    for diagnostics in (False, True):
        for name, statistic in (("fastest", min), ("median", statistics.median)):
            figures[diagnostics, name] = tuple(statistic(t[i] for t in times[diagnostics])
                                               for i in (0, 1))
    print(f"MNIST epoch, 784-256-128-10 relu/softmax, Adam, batch 128, {args.threads} BLAS "
          f"thread(s), {args.repeats} epochs each:")
    print(f"{'':28}{'fastest wall':>14}{'CPU':>8}{'median wall':>14}{'CPU':>8}")
    for diagnostics, label in ((False, "plain epoch"), (True, "with diagnostics")):
        cells = [figures[diagnostics, "fastest"], figures[diagnostics, "median"]]
        print(f"{label:28}" + "".join(f"{w:14.3f}{c:8.3f}" for w, c in cells))
    ratios = [figures[True, name][i] / figures[False, name][i]
              for name in ("fastest", "median") for i in (0, 1)]
    print(f"{'ratio (target <= 1.05)':28}" + "".join(
        f"{ratios[k]:14.3f}{ratios[k + 1]:8.3f}" for k in (0, 2)))
    plain_wall = figures[False, "fastest"][0]
    print(f"\ndiagnostics' own work: {work * 1e3:.1f} ms per epoch = {100 * work / plain_wall:.2f}% "
          f"of the fastest plain epoch (ratio {1 + work / plain_wall:.4f})")
    estimate = plan({"model": SPEC, "training": TRAINING}, input_size=784, samples=len(X),
                    flops_per_second=speed)["time"]["seconds_per_epoch"]
    print(f"\nmeasured speed: {speed['flops_per_second'] / 1e9:.1f} GFLOP/s, "
          f"{speed['seconds_per_batch'] * 1e6:.0f} us per batch (probe {speed['probe_seconds']:.2f} s)")
    print(f"plan's estimate of the plain epoch: {estimate:.3f} s; measured {plain_wall:.3f} s "
          f"(measured / estimate = {plain_wall / estimate:.2f})")


if __name__ == "__main__":
    main()
