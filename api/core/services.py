"""The app's state, one typed object reached one way: `services()` (settings, stores, queue, rooms)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask_smorest
import kombu.exceptions
import redis
from celery import Celery
from flask import Flask, current_app

from worker.store.artifacts import ArtifactStore
from worker.store.celery_app import create_celery_app
from worker.store.config import Settings
from worker.store.jobs import JobNotFound, JobStateError, JobStore
from worker.store.s3_artifacts import STORAGE_ERRORS
from worker.store.stores import open_artifact_store

EXTENSION_KEY = "mlpq"  # the app's one entry in app.extensions

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


@dataclass(frozen=True)
class MetricSource:
    """A room's own Prometheus metrics: registered when one process answers a scrape alone, and
    brought up to date by `sync` before every scrape (api.core.metrics)."""

    metrics: tuple
    sync: Callable[[], None]


@dataclass
class Services:
    """Everything views reach, through `services()`.

    init_app makes the shared parts; each room fills in its own state when its blueprint is
    registered. api.core imports no room, so those fields name their type in a comment.
    """

    settings: Settings
    jobs: JobStore
    artifacts: ArtifactStore
    celery: Celery  # jobs are queued through it and /readyz pings workers with it
    api: flask_smorest.Api
    keyring: Any = None  # api.core.auth.KeyRing: the configured API keys
    serving: Any = None  # api.models.serving.Serving: prediction limits and the model cache
    checkpoint_models: Any = None  # api.jobs.predict.CheckpointModels: jobs' latest weights
    derived: Any = None  # api.insight.derived.DerivedCache: test-split answers, pictures
    readiness: Any = None  # api.health.views.ReadinessProbe: /readyz's cached checks
    sse_slots: threading.BoundedSemaphore | None = None  # event streams this process may serve
    metric_sources: list[MetricSource] = field(default_factory=list)


def init_app(app: Flask, api: flask_smorest.Api) -> None:
    """Open the stores and Celery from WORKER_SETTINGS (default: the environment)."""
    settings = app.config.get("WORKER_SETTINGS") or Settings.from_env()
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        jobs=JobStore.from_url(settings.redis_url),
        artifacts=open_artifact_store(settings),
        # The app's own Celery app (Flask's Celery pattern); the API only sends and pings.
        celery=create_celery_app(settings),
        api=api,
    )


def services(app: Flask | None = None) -> Services:
    """This app's services (`app` outside a request, e.g. while registering blueprints)."""
    return (app or current_app).extensions[EXTENSION_KEY]
