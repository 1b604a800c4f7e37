"""The worker's Celery app, built from the environment: what `celery -A worker worker` runs.

Celery's documented project layout: `celery -A worker` finds the `app` in `worker/celery.py`.
Only worker processes import this module; the API builds its own app (api/core/services.py).
"""

from __future__ import annotations

from celery.signals import worker_process_init, worker_ready, worker_shutting_down
from threadpoolctl import threadpool_limits

from worker import calibration, shutdown
from worker.store import (
    environment,
    logs,  # noqa: F401 - logs connects the signals behind structured logs
)
from worker.store.celery_app import create_celery_app
from worker.store.config import Settings
from worker.store.setting_types import SettingsError
from worker.sweeper import LeaseSweeper

try:  # everything a worker reads, checked before Celery starts: one line, not a traceback
    environment.check("worker")
    app = create_celery_app(Settings.from_env(), include=["worker.tasks"], set_as_current=True)
except SettingsError as error:
    raise SystemExit(str(error)) from None
app.steps["worker"].add(LeaseSweeper)
_blas_limit = None  # the threadpoolctl limiter, kept alive for the life of a pool process


@worker_process_init.connect
def _limit_blas_threads(**_kwargs) -> None:
    """Each pool process gets MLPQ_BLAS_THREADS BLAS threads (concurrency x threads <= cores)."""
    global _blas_limit
    _blas_limit = threadpool_limits(limits=app.settings.blas_threads, user_api="blas")


@worker_shutting_down.connect
def _hand_jobs_back(how=None, **_kwargs) -> None:
    if how == "Warm":  # a cold shutdown kills the pool processes at once; leases recover their jobs
        shutdown.hand_jobs_back(app.settings.graceful_timeout)


@worker_ready.connect
def _measure_speed(sender=None, **_kwargs) -> None:
    """Record this worker's training speed for plans (worker/calibration.py), off the main path."""
    calibration.start_probe(app.settings, getattr(sender, "hostname", None) or "worker")
