"""Servers for tests: the app in a thread, gunicorn with the production config, moto's S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from werkzeug.serving import make_server

from mlpq.redis_server import exit_with_parent, free_port
from tests.support.environment import REPO_ROOT


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


class ApiServer(GunicornServer):
    """The production gunicorn config on a fixed port, which can be killed and started again."""

    def kill(self) -> None:
        """SIGKILL gunicorn's whole process group (arbiter and workers), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        super().stop()
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # stragglers of the group
            except ProcessLookupError:
                pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def api_env(service_env: dict[str, str], **overrides: str) -> dict[str, str]:
    """Gunicorn's environment: one process (two cores are shared with the worker), short graces."""
    return {**service_env, "MLPQ_WORKERS": "1", "MLPQ_THREADS": "8",
            "MLPQ_GRACEFUL_TIMEOUT": "3", "MLPQ_ACCESS_LOG": "", **overrides}


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


class MotoServer:
    """`python -m moto.server` on 127.0.0.1:<free port>; `env` holds what a client needs."""

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        self.process = None

    def start(self, timeout: float = 60.0) -> MotoServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=exit_with_parent())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()[-2000:]
            try:
                httpx.get(self.url + "/moto-api/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("moto server did not answer:\n" + self.log_path.read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
