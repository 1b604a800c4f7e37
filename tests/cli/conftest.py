"""The `mlpq` console script and the client against a real stack: gunicorn, a Celery worker, Redis.

The session's gunicorn cuts every event stream after MLPQ_SSE_MAX_SECONDS (half a second), so
every watched job here is followed across many reconnections with Last-Event-ID.
"""

from __future__ import annotations

import pytest

from mlpq import Client
from tests.support.servers import GunicornServer

SSE_SETTINGS = {"MLPQ_SSE_MAX_SECONDS": "0.5", "MLPQ_SSE_KEEPALIVE_SECONDS": "0.2"}


@pytest.fixture(scope="session")
def stack(service_env, _session_celery_worker, tmp_path_factory):
    """gunicorn (production config, short event streams) on the session's Redis and worker."""
    _session_celery_worker.start()
    server = GunicornServer({**service_env, **SSE_SETTINGS},
                            tmp_path_factory.mktemp("cli-gunicorn") / "gunicorn.log").start()
    yield server
    server.stop()


@pytest.fixture
def url(stack, celery_worker) -> str:
    """The stack's URL, with the worker (re)started if an earlier test stopped it."""
    return stack.url


@pytest.fixture
def client(url):
    with Client(url) as connection:
        yield connection
