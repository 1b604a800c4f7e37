"""Pytest fixtures for real services and the app on them (a plugin of tests/conftest.py)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from mlpq.redis_server import RedisServer
from tests.support.observing import CapturedLines
from tests.support.servers import (
    ApiServer,
    GunicornServer,
    MotoServer,
    ThreadedServer,
    serve_gunicorn,
)
from tests.support.services import CeleryWorker, IsolatedService, build_service_env, start_redis
from worker.store.artifacts import ArtifactStore
from worker.store.celery_app import create_celery_app
from worker.store.config import Settings
from worker.store.jobs import JobStore
from worker.store.logs import make_handler

# Session-scoped pieces (`redis_server`, `artifact_dir`, `service_env`, the default
# `celery_worker`) are shared by every suite; tests that break things (kill -9, Redis restarts,
# extra workers) use the factories `make_redis_server` and `make_celery_worker`, whose products
# are cleaned up at the end of the test.


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A Redis-compatible server for the whole session (no persistence: `--save "" --appendonly no`)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return redis_server.url


@pytest.fixture
def make_redis_server(tmp_path):
    """Factory for a private server, e.g. `make_redis_server(appendonly=True)` for restart tests."""
    servers: list[RedisServer] = []

    def make(**options) -> RedisServer:
        data_dir = tmp_path / f"redis-{len(servers)}"
        server = start_redis(data_dir, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory) -> Path:
    """The artifact store root shared by the session's API and worker processes."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def service_env(redis_url, artifact_dir) -> dict[str, str]:
    return build_service_env(redis_url, artifact_dir)


@pytest.fixture(scope="session")
def _session_celery_worker(service_env, tmp_path_factory):
    worker = CeleryWorker(service_env, tmp_path_factory.mktemp("celery-logs"), name="mlpq-test-main@localhost")
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(_session_celery_worker) -> CeleryWorker:
    """The session's worker, (re)started if an earlier test stopped or killed it."""
    return _session_celery_worker.start()


@pytest.fixture
def make_celery_worker(service_env, tmp_path):
    """Factory for extra workers: `make_celery_worker(env_overrides={...}, concurrency=2)`.

    Workers are started before being returned and killed at the end of the test.
    """
    workers: list[CeleryWorker] = []

    def make(*, env: dict[str, str] | None = None, env_overrides: dict[str, str] | None = None,
             start: bool = True, **options) -> CeleryWorker:
        worker_env = dict(env or service_env)
        worker_env.update(env_overrides or {})
        worker = CeleryWorker(worker_env, tmp_path / "celery-logs", **options)
        workers.append(worker)
        return worker.start() if start else worker

    yield make
    for worker in workers:
        worker.kill()


@pytest.fixture(scope="session")
def worker_settings(service_env):
    """Settings as the session's workers see them."""
    return Settings.from_env(service_env)


@pytest.fixture(scope="session")
def celery_app(worker_settings):
    """A Celery app on the session's Redis, to queue jobs with `enqueue_training(celery_app, id)`."""
    app = create_celery_app(worker_settings)
    yield app
    app.close()


@pytest.fixture
def isolated_service(make_redis_server, make_celery_worker, tmp_path):
    """`IsolatedService` with append-only Redis and its own Celery app to queue jobs on it.
    Workers are started with `.start_worker()`."""
    server = make_redis_server(appendonly=True)
    env = build_service_env(server.url, tmp_path / "artifacts")
    service = IsolatedService(server, env, make_celery_worker)
    yield service
    service.close()


@pytest.fixture
def job_store(redis_url):
    """A JobStore on the session's Redis."""
    store = JobStore.from_url(redis_url)
    yield store
    store.close()


@pytest.fixture
def artifact_store(artifact_dir):
    """The ArtifactStore the session's worker writes to."""
    return ArtifactStore(artifact_dir)


# ---- the app on the session's services ---------------------------------------------------------

@pytest.fixture
def app(worker_settings):
    # imported here, so suites that never use the app never import it
    from tests.support.api import make_app

    return make_app(worker_settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def idle_settings(make_redis_server, tmp_path):
    """Settings on a private Redis that no worker consumes: jobs stay queued."""
    server = make_redis_server()
    return Settings.from_env(build_service_env(server.url, tmp_path / "artifacts"))


@pytest.fixture
def idle_client(idle_settings):
    from tests.support.api import make_app

    return make_app(idle_settings).test_client()


@pytest.fixture
def live_server(app):
    with ThreadedServer(app) as server:
        yield server


@pytest.fixture
def start_gunicorn(tmp_path):
    """Factory: start gunicorn with the production config and `env`; stopped after the test."""
    yield from serve_gunicorn(GunicornServer, tmp_path)


@pytest.fixture
def start_api(tmp_path):
    """Factory: gunicorn as `start_gunicorn` starts it, which a test can also kill -9 and restart."""
    yield from serve_gunicorn(ApiServer, tmp_path)


# ---- S3 and logs ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(moto_server, monkeypatch):
    """The AWS_* variables for the moto server, set in this process too (boto3 reads them)."""
    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    return dict(moto_server.env)


@pytest.fixture
def json_logs():
    """Every record (DEBUG and above), through the handler production uses."""
    stream = io.StringIO()
    handler = make_handler(stream, fmt="json")
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield CapturedLines(stream)
    root.removeHandler(handler)
    root.setLevel(previous)
