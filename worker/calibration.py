"""At start, each worker measures how fast it trains and records it for plans' time estimates.

worker/celery.py starts the probe (engine.calibration) in the worker's main process on a
background thread once the worker is ready, so it delays nothing; it runs under the BLAS thread
limit a pool process trains with, so it measures what a job gets. The record goes to the
JobStore, where the API reads the newest one (`JobStore.worker_speed()`).
"""

from __future__ import annotations

import logging
import threading

import redis
from threadpoolctl import threadpool_limits

from engine.calibration import measure_speed
from worker.store.config import Settings
from worker.store.jobs import JobStore

logger = logging.getLogger(__name__)


def record_speed(store: JobStore, worker: str, *, blas_threads: int) -> dict:
    """Measure this process's training speed with `blas_threads` BLAS threads and store it."""
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        speed = measure_speed()
    return store.record_worker_speed(worker, {**speed, "blas_threads": blas_threads})


def start_probe(settings: Settings, worker: str) -> threading.Thread:
    """Measure and record `worker`'s speed on a background thread; returns the thread."""
    thread = threading.Thread(target=_calibrate, args=(settings, worker),
                              name="mlpq-speed-probe", daemon=True)
    thread.start()
    return thread


def _calibrate(settings: Settings, worker: str) -> None:
    store = JobStore.from_url(settings.redis_url)
    try:
        record = record_speed(store, worker, blas_threads=settings.blas_threads)
        logger.info("worker speed measured: %.3g FLOP/s, %.3g s per batch",
                    record["flops_per_second"], record["seconds_per_batch"])
    except redis.RedisError as error:
        logger.warning("worker speed not recorded: %s", error)
    except Exception:  # noqa: BLE001 - a failed probe must not take the worker down
        logger.exception("worker speed probe failed")
    finally:
        store.close()
