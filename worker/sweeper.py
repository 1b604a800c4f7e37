"""The lease sweeper: requeues `running` jobs whose worker stopped renewing their lease."""

from __future__ import annotations

import logging
import threading

import redis
from celery import bootsteps

from worker.runner import job_store
from worker.store.celery_app import CeleryApp, enqueue_training

logger = logging.getLogger(__name__)


def requeue_orphaned_jobs(app: CeleryApp, store=None) -> list[str]:
    """Requeue through `app` every `running` job whose lease expired; returns their ids."""
    store = store or job_store(app.settings.redis_url)
    requeued = []
    for job_id in store.running_job_ids():
        if store.requeue_if_orphaned(job_id):
            logger.warning("job %s: its worker stopped renewing the lease; requeued", job_id,
                           extra={"job_id": job_id})
            enqueue_training(app, job_id)
            requeued.append(job_id)
    return requeued


class LeaseSweeper(bootsteps.StartStopStep):
    """A thread in each worker's main process that runs `requeue_orphaned_jobs` periodically.

    The lease expires only when its worker stopped heartbeating (killed, frozen, cut off), so
    this recovers jobs within MLPQ_LEASE_SECONDS + MLPQ_SWEEP_SECONDS of their worker dying,
    without waiting for the broker's visibility timeout.
    """

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self._app = parent.app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mlpq-lease-sweeper", daemon=True)
        self._thread.start()

    def stop(self, parent) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._app.settings.sweep_seconds):
            try:
                requeue_orphaned_jobs(self._app)
            except redis.RedisError as error:
                logger.warning("lease sweep skipped: %s", error)
            except Exception:  # noqa: BLE001 - a bug here must not kill the thread
                logger.exception("lease sweep failed")
