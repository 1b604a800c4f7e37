"""Celery tasks: thin wrappers that take a job id and hand it to the runner."""

from __future__ import annotations

from celery import shared_task

from worker.celery_app import celery, current_settings
from worker.ids import validate_id
from worker.runner import Outcome, run_training_job


@shared_task(bind=True, name="mlpq.train", max_retries=None, acks_late=True,
             reject_on_worker_lost=True)
def train(self, job_id: str) -> str:
    """Train job `job_id`; a copy of a job another worker holds waits and checks again."""
    outcome = run_training_job(job_id, worker_name=self.request.hostname or "")
    if outcome is Outcome.BUSY:
        # Checking back after one lease period: either that worker finished (then this copy
        # is acknowledged and dropped) or it died and its lease lapsed (then this copy resumes it).
        raise self.retry(countdown=current_settings().lease_seconds)
    return outcome.value


def enqueue_training(job_id: str) -> None:
    """Queue job `job_id` for training (the API calls this after JobStore.create)."""
    validate_id(job_id, "job id")
    celery.send_task("mlpq.train", args=[job_id])
