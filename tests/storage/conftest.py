"""Object-storage fixtures: moto's standalone S3 server (a real HTTP server process) on a free port."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest

from mlpq.redis_server import exit_with_parent
from tests.api.conftest import free_port


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
def s3_url(s3_env) -> str:
    """s3://<a new bucket>/mlpq: one empty bucket per test."""
    from worker.store.s3_artifacts import make_client

    bucket = f"mlpq-test-{uuid.uuid4().hex[:12]}"
    make_client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/mlpq"
