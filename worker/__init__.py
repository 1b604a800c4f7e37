"""mlpq worker: the Celery app (`celery -A worker worker`), job store and artifact store."""

from worker.celery_app import celery

__all__ = ["celery"]
