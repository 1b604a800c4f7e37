"""Celery tasks: thin wrappers that take a job id and hand it to the runner."""

from __future__ import annotations

from celery import shared_task

from worker.runner import Outcome, run_training_job
from worker.store.celery_app import enqueue_training
from worker.store.jobs import TRAIN_TASK


@shared_task(bind=True, name=TRAIN_TASK, max_retries=None, acks_late=True,
             reject_on_worker_lost=True)
def train(self, job_id: str) -> str:
    """Train job `job_id`; a copy of a job another worker holds waits and checks again."""
    settings = self.app.settings  # the worker's CeleryApp (worker/store/celery_app.py)
    outcome = run_training_job(job_id, settings=settings, worker_name=self.request.hostname or "")
    if outcome is Outcome.BUSY:
        # Checking back after one lease period: either that worker finished (then this copy
        # is acknowledged and dropped) or it died and its lease lapsed (then this copy resumes it).
        raise self.retry(countdown=settings.lease_seconds)
    if outcome is Outcome.REQUEUED:
        enqueue_training(self.app, job_id)  # handed back on warm shutdown; another worker resumes it
    return outcome.value
