"""API fixtures: the Flask app on the session's real Redis, real servers, and job helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from werkzeug.serving import make_server

from api import create_app
from tests.service_fixtures import REPO_ROOT, build_service_env
from worker.store.config import Settings

XOR_SPEC = {
    "name": "xor",
    "dataset": "xor",
    "model": {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
              "loss": "binary_cross_entropy", "init": "xavier"},
    "training": {"epochs": 300, "batch_size": 4, "optimizer": {"name": "adam", "learning_rate": 0.05}},
}
# Big enough to keep the worker busy for many seconds: 50 epochs of MNIST through 784-512-10.
LONG_MNIST_SPEC = {
    "name": "long-mnist",
    "dataset": "mnist",
    "model": {"layers": [{"units": 512, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 50, "batch_size": 64},
}
FINISHED = {"succeeded", "failed", "cancelled"}


def make_app(settings: Settings, **config):
    return create_app({"TESTING": True, "WORKER_SETTINGS": settings, **config})


@pytest.fixture
def app(worker_settings):
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
    return make_app(idle_settings).test_client()


def wait_for_job(client, job_id, statuses=FINISHED, timeout=120.0, predicate=None):
    """Poll GET /v1/jobs/{id} until its status is in `statuses` (and `predicate(job)` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").get_json()
        if job["status"] in statuses and (predicate is None or predicate(job)):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s: {job}")
        time.sleep(0.1)


def submit(client, body):
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThreadedServer:
    """The app under Werkzeug's threaded server, in a thread of this process."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def live_server(app):
    with ThreadedServer(app) as server:
        yield server


class GunicornServer:
    """`gunicorn -c python:api.gunicorn_conf 'api:create_app()'` as a subprocess."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "MLPQ_BIND": f"127.0.0.1:{self.port}"}
        self.log_path = log_path
        self.process = None

    def start(self, timeout=60.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api:create_app()"],
                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not answer /healthz:\n" + self.log_path.read_text()[-3000:])

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def serve_gunicorn(server_class, tmp_path):
    """Body of the start_* fixtures: yields `start(env)`, which starts a `server_class`; all
    servers it started are stopped afterwards."""
    servers = []

    def start(env):
        server = server_class(env, tmp_path / f"gunicorn-{len(servers)}.log").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_gunicorn(tmp_path):
    """Factory: start gunicorn with the production config and `env`; stopped after the test."""
    yield from serve_gunicorn(GunicornServer, tmp_path)


def limited(settings: Settings, **limits) -> Settings:
    return replace(settings, **limits)
