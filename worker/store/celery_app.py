"""create_celery_app(settings): a Celery app on the settings' Redis, and enqueue_training.

The API and the worker each build their own app from their own Settings (Flask's Celery
pattern: `celery_init_app` in api/core/services.py, `worker/celery.py` for `celery -A worker`), so
no module configures a shared global app and nothing has to reset one.
"""

from __future__ import annotations

from celery import Celery

from worker.store.config import Settings
from worker.store.ids import validate_id
from worker.store.jobs import TRAIN_TASK, TRAINING_QUEUE


class CeleryApp(Celery):
    """A Celery app that carries the Settings it was configured from (tasks read them)."""

    def __init__(self, settings: Settings | None = None, **kwargs):
        kwargs.setdefault("set_as_current", False)
        super().__init__("mlpq", **kwargs)
        # Unpickling an app calls this without settings; the environment is then the source.
        self.settings = settings if settings is not None else Settings.from_env()
        self.conf.update(celery_config(self.settings))


def create_celery_app(settings: Settings, **kwargs) -> CeleryApp:
    """A Celery app pointed at `settings.redis_url`; kwargs go to Celery (e.g. `include`)."""
    return CeleryApp(settings, **kwargs)


def celery_config(settings: Settings) -> dict[str, object]:
    """Celery's settings for `settings`: broker, queue, at-least-once delivery, redelivery."""
    return dict(
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


def enqueue_training(app: Celery, job_id: str) -> None:
    """Queue job `job_id` for training through `app` (after JobStore.create, or a requeue)."""
    validate_id(job_id, "job id")
    app.send_task(TRAIN_TASK, args=[job_id])
