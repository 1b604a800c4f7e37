"""The service container: settings, job store, artifact store and Celery app views reach."""

from dataclasses import dataclass

import flask_smorest
import kombu.exceptions
import redis
from celery import Celery
from flask import current_app

from worker.store.artifacts import ArtifactStore
from worker.store.celery_app import create_celery_app
from worker.store.config import Settings
from worker.store.jobs import JobNotFound, JobStateError, JobStore
from worker.store.s3_artifacts import STORAGE_ERRORS
from worker.store.stores import open_artifact_store

EXTENSION_KEY = "mlpq"

# Exceptions of these services that may escape a view -> (status, message; None = its text).
ERROR_HANDLERS = {
    JobNotFound: (404, "No such job."),
    JobStateError: (409, None),
    # Unreachable or busy-loading Redis is an outage (503); other Redis errors are bugs (500).
    redis.ConnectionError: (503, "The job store (Redis) is unreachable; retry later."),
    redis.TimeoutError: (503, "The job store (Redis) did not answer in time; retry later."),
    kombu.exceptions.OperationalError: (503, "The job queue is unreachable; retry later."),
    **{error: (503, "The model store (object storage) is unreachable or refused the request; "
                    "retry later.") for error in STORAGE_ERRORS},
}


@dataclass
class Services:
    """What views reach through `services()`: settings and the shared stores."""

    settings: Settings
    jobs: JobStore
    artifacts: ArtifactStore
    celery: Celery  # jobs are queued through it and /readyz pings workers with it
    api: flask_smorest.Api


def celery_init_app(app, settings: Settings) -> Celery:
    """This app's own Celery app (Flask's Celery pattern); the API only sends and pings."""
    celery = create_celery_app(settings)
    app.extensions["celery"] = celery
    return celery


def init_app(app, api):
    """Open the stores and Celery from WORKER_SETTINGS (default: the environment)."""
    settings = app.config.get("WORKER_SETTINGS") or Settings.from_env()
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        jobs=JobStore.from_url(settings.redis_url),
        artifacts=open_artifact_store(settings),
        celery=celery_init_app(app, settings),
        api=api,
    )


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
