"""How fast this machine trains, measured: the speed behind a plan's time estimates.

Two short probes run the engine's own training step on random data, so what they measure is
what a job pays (BLAS matrix work plus NumPy's element-wise passes and Python's per-batch
overhead), at whatever BLAS thread limit the calling process has:
  - a mid-sized net (784-256-10, batch 128), whose time is almost all matrix work, gives
    `flops_per_second` in the units of `engine.flops`;
  - a tiny net (2-3-1, batch 1), whose time is almost all overhead, gives `seconds_per_batch`.
Each probe repeats until its time budget is spent and keeps its fastest round (the least
disturbed by other processes on the machine).
"""

from __future__ import annotations

import time

import numpy as np

from engine.flops import job_flops
from engine.network import Network

MATRIX_PROBE = {"layers": [{"units": 256, "activation": "relu"},
                           {"units": 10, "activation": "softmax"}], "input_size": 784}
MATRIX_ROWS, MATRIX_BATCH = 1024, 128
OVERHEAD_PROBE = {"layers": [{"units": 3, "activation": "tanh"},
                             {"units": 1, "activation": "sigmoid"}],
                  "loss": "binary_cross_entropy", "input_size": 2}
OVERHEAD_ROWS = 64
PROBE_SECONDS = 0.3  # per probe; a worker runs them once at start


def measure_speed(budget_seconds: float = PROBE_SECONDS) -> dict:
    """{"flops_per_second", "seconds_per_batch", "probe_seconds"} of training on this process."""
    started = time.perf_counter()
    matrix_seconds = _fastest(MATRIX_PROBE, MATRIX_ROWS, MATRIX_BATCH, budget_seconds)
    overhead_seconds = _fastest(OVERHEAD_PROBE, OVERHEAD_ROWS, 1, budget_seconds)
    per_batch = overhead_seconds / OVERHEAD_ROWS
    # the mid-sized probe also paid the per-batch overhead: take it out of the matrix time
    matrix_batches = -(-MATRIX_ROWS // MATRIX_BATCH)
    work = job_flops(MATRIX_PROBE["layers"], MATRIX_PROBE["input_size"], MATRIX_ROWS, 1)
    compute = max(matrix_seconds - matrix_batches * per_batch, matrix_seconds / 2)
    return {"flops_per_second": work / compute, "seconds_per_batch": per_batch,
            "probe_seconds": time.perf_counter() - started}


def _fastest(spec: dict, rows: int, batch_size: int, budget: float) -> float:
    """The fastest one-epoch fit of `spec` on `rows` random rows, over rounds within `budget`."""
    net = Network.from_spec(spec, seed=0)
    rng = np.random.default_rng(0)
    X = rng.random((rows, net.input_size), dtype=np.float32)
    y = rng.integers(0, net.num_classes, rows)
    config = {"epochs": 1, "batch_size": batch_size, "optimizer": {"name": "sgd"}}
    net.fit(X, y, **config)  # warm-up: buffers, BLAS threads, caches
    best, deadline = float("inf"), time.perf_counter() + budget
    while True:
        began = time.perf_counter()
        net.fit(X, y, **config)
        best = min(best, time.perf_counter() - began)
        if time.perf_counter() >= deadline:
            return best
