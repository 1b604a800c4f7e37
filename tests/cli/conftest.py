"""The `mlpq` console script and the client against a real stack: gunicorn, a Celery worker, Redis.

The session's gunicorn cuts every event stream after MLPQ_SSE_MAX_SECONDS (half a second), so
every watched job here is followed across many reconnections with Last-Event-ID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlpq import Client
from tests.api.conftest import GunicornServer
from tests.service_fixtures import REPO_ROOT

MLPQ = str(Path(sys.executable).with_name("mlpq"))  # the installed console script
SSE_SETTINGS = {"MLPQ_SSE_MAX_SECONDS": "0.5", "MLPQ_SSE_KEEPALIVE_SECONDS": "0.2"}
XOR_JOB = {"name": "xor", "dataset": "xor",
           "model": {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                     "loss": "binary_cross_entropy", "init": "xavier"},
           "training": {"epochs": 300, "batch_size": 4, "seed": 0,
                        "optimizer": {"name": "adam", "learning_rate": 0.1}}}
# ~0.3-0.8 s per epoch on one core: long enough to interrupt, cheap to run for a few epochs.
SMALL_MNIST = {"name": "small-mnist", "dataset": "mnist",
               "model": {"layers": [{"units": 16, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
               "training": {"epochs": 2, "batch_size": 256, "seed": 0, "validation_split": 0.1}}


def run_mlpq(*args, url=None, env=None, timeout=180, input=None, cwd=None) -> subprocess.CompletedProcess:
    """`mlpq ARGS` in a subprocess, its output piped (so not a terminal)."""
    environment = {**os.environ, **(env or {})}
    if url:
        environment["MLPQ_URL"] = url
    environment.pop("MLPQ_API_KEY", None) if env is None or "MLPQ_API_KEY" not in env else None
    return subprocess.run([MLPQ, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment, input=input, cwd=cwd or REPO_ROOT)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


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
