"""mlpq worker: the Celery app (`celery -A worker worker`), job store and artifact store."""

from worker import logs  # noqa: F401 - connects the Celery signals behind structured logs
from worker.celery_app import celery

__all__ = ["celery"]
