"""The Celery app: Redis broker, at-least-once delivery settings, per-process BLAS threads, sweeper."""

from __future__ import annotations

import logging
import threading

import redis
from celery import Celery, bootsteps
from celery.signals import worker_process_init

from worker.config import Settings
from worker.jobs import TRAINING_QUEUE

logger = logging.getLogger(__name__)

celery = Celery("mlpq", include=["worker.tasks"])
_settings: Settings | None = None
_blas_limit = None  # the threadpoolctl limiter, kept alive for the life of a pool process


def configure(settings: Settings) -> Celery:
    """Point the app at `settings` (the API calls this from create_app, the worker at import)."""
    global _settings
    previous, _settings = _settings, settings
    celery.conf.update(
        broker_url=settings.redis_url,
        broker_connection_retry_on_startup=True,
        task_default_queue=TRAINING_QUEUE,
        # Job state lives in the JobStore; Celery only delivers "train this id".
        task_ignore_result=True,
        task_serializer="json", accept_content=["json"], event_serializer="json",
        # At-least-once: a message is acknowledged after the task returns, and a pool process
        # killed mid-task (OOM, SIGKILL) puts its message straight back in the queue. Duplicate
        # deliveries are expected and made harmless by the job's lease and terminal statuses.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker must not sit on queued jobs
        worker_concurrency=settings.worker_concurrency,
        # Keep training through a broker blip; if the ack is lost, the redelivery finds the job
        # finished and does nothing.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={
            # Why 300 s: Redis re-delivers any message unacknowledged this long, even one a live
            # worker is still training (kombu cannot tell). That is harmless here (the copy sees
            # the lease and waits), so the timeout only bounds how long a message lost by a dead
            # worker before it marked the job `running` waits; dead workers of running jobs are
            # caught sooner by the lease sweeper. It must exceed the lease-wait countdown
            # (MLPQ_LEASE_SECONDS) or waiting copies would multiply; Settings checks that.
            "visibility_timeout": settings.visibility_timeout,
            # kombu 5.7 scans for expired unacked messages every interval x throttle seconds
            # (default 10 x 10); throttle 1 makes the interval the whole story.
            "unacked_restore_interval": settings.unacked_restore_interval,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 5,
        },
    )
    if previous is not None and previous.redis_url != settings.redis_url:
        # Pools opened for the old broker would keep publishing there.
        celery.close()
        celery.amqp._producer_pool = None
    return celery


def current_settings() -> Settings:
    if _settings is None:
        configure(Settings.from_env())
    return _settings


@worker_process_init.connect
def _limit_blas_threads(**_kwargs) -> None:
    """Each pool process gets MLPQ_BLAS_THREADS BLAS threads (concurrency x threads <= cores)."""
    from threadpoolctl import threadpool_limits

    global _blas_limit
    _blas_limit = threadpool_limits(limits=current_settings().blas_threads, user_api="blas")


class LeaseSweeper(bootsteps.StartStopStep):
    """A thread in each worker's main process that requeues `running` jobs whose lease expired.

    The lease expires only when its worker stopped heartbeating (killed, frozen, cut off), so
    this recovers jobs within MLPQ_LEASE_SECONDS + MLPQ_SWEEP_SECONDS of their worker dying,
    without waiting for the broker's visibility timeout.
    """

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
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
        from worker.runner import requeue_orphaned_jobs

        settings = current_settings()
        while not self._stop.wait(settings.sweep_seconds):
            try:
                requeue_orphaned_jobs(settings)
            except redis.RedisError as error:
                logger.warning("lease sweep skipped: %s", error)
            except Exception:  # noqa: BLE001 - a bug here must not kill the thread
                logger.exception("lease sweep failed")


celery.steps["worker"].add(LeaseSweeper)
configure(Settings.from_env())
