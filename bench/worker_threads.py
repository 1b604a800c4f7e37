"""Benchmark: training throughput of worker layouts (pool processes x BLAS threads per process).

Runs real `celery -A worker worker` processes against a local Redis, submits the same MNIST jobs
to each layout, and prints jobs/s, mean job time and ratios against one process x one thread.

    MLPQ_DATA_DIR=/path/to/datasets python bench/worker_threads.py   # 4 jobs, 1 epoch, 128 units
    python bench/worker_threads.py --jobs 6 --units 256 --layouts 1x1 1x2 2x1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/http.py would shadow the standard library's
# http package (kombu and urllib import it): the repository takes bench/'s place.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from mlpq.redis_server import RedisServer  # noqa: E402
from tests.support.services import CeleryWorker, build_service_env  # noqa: E402
from worker.store.celery_app import create_celery_app, enqueue_training  # noqa: E402
from worker.store.config import Settings  # noqa: E402
from worker.store.job_scripts import TERMINAL_STATUSES  # noqa: E402
from worker.store.jobs import JobStore  # noqa: E402


def job_spec(units: int, epochs: int) -> dict:
    return {"model": {"layers": [{"units": units, "activation": "relu"},
                                 {"units": 10, "activation": "softmax"}]},
            "training": {"epochs": epochs, "batch_size": 128, "early_stopping": None}}


def run_jobs(store: JobStore, celery, count: int, spec: dict, timeout: float = 900) -> list[dict]:
    ids = []
    for number in range(count):
        ids.append(store.create(name=f"bench-{number}", dataset="mnist", spec=spec)["id"])
        enqueue_training(celery, ids[-1])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [store.get(job_id) for job_id in ids]
        if all(job["status"] in TERMINAL_STATUSES for job in jobs):
            failed = [job["error"] for job in jobs if job["status"] != "succeeded"]
            if failed:
                raise RuntimeError(f"bench jobs failed: {failed}")
            return jobs
        time.sleep(0.05)
    raise TimeoutError(f"{count} jobs did not finish in {timeout}s")


def job_seconds(job: dict) -> float:
    from datetime import datetime

    started, finished = (datetime.fromisoformat(job[key].replace("Z", "+00:00"))
                         for key in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


def measure(layout: str, server: RedisServer, args, workdir: Path) -> dict:
    processes, threads = (int(part) for part in layout.split("x"))
    env = build_service_env(server.url, workdir / f"artifacts-{layout}",
                            MLPQ_WORKER_CONCURRENCY=str(processes),
                            MLPQ_BLAS_THREADS=str(threads), MLPQ_CHECKPOINT_SECONDS="1")
    celery = create_celery_app(Settings.from_env(env))
    store = JobStore.from_url(server.url)
    worker = CeleryWorker(env, workdir / "logs", concurrency=processes).start()
    try:
        spec = job_spec(args.units, args.epochs)
        run_jobs(store, celery, processes, spec)  # warm-up: every pool process loads MNIST once
        started = time.perf_counter()
        jobs = run_jobs(store, celery, args.jobs, spec)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        store.close()
        celery.close()
    return {"layout": layout, "jobs_per_second": args.jobs / elapsed, "seconds": elapsed,
            "mean_job_seconds": sum(map(job_seconds, jobs)) / len(jobs)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--layouts", nargs="+", default=["1x1", "1x2", "2x1", "2x2"],
                        help="PROCESSESxBLAS_THREADS; the first is the baseline of the ratios")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; {args.jobs} MNIST jobs of {args.epochs} epoch(s), "
          f"784-{args.units}-10, batch 128, per layout")
    with tempfile.TemporaryDirectory(prefix="mlpq-bench-") as tmp, RedisServer() as server:
        results = [measure(layout, server, args, Path(tmp)) for layout in args.layouts]
    base = results[0]
    print(f"{'processes x BLAS threads':>24} {'jobs/s':>8} {'mean job s':>11} "
          f"{'throughput ratio':>17} {'job-time ratio':>15}")
    for result in results:
        print(f"{result['layout']:>24} {result['jobs_per_second']:8.3f} "
              f"{result['mean_job_seconds']:11.2f} "
              f"{result['jobs_per_second'] / base['jobs_per_second']:17.2f} "
              f"{result['mean_job_seconds'] / base['mean_job_seconds']:15.2f}")


if __name__ == "__main__":
    main()
