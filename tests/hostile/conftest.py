"""Hostile-input fixtures: the API under gunicorn on a private Redis, with one MNIST-shaped model."""

from __future__ import annotations

import http.client
import select
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import ApiServer, api_env
from tests.support.services import build_service_env, start_redis


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class HostileStack:
    server: ApiServer
    model_id: str  # a 784-16-10 MNIST-shaped model (untrained: only its input handling matters)
    artifact_dir: Path

    @property
    def port(self) -> int:
        return self.server.port

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, chunked: bool = False) -> Answer:
        """One request, its path and body sent byte for byte (no URL normalisation).

        Like a careful client, it stops uploading once the server has answered (a 413 comes
        before the body is read) and still reads that answer.
        """
        body = body or b""
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            try:
                for piece in _pieces(body, chunked):
                    if select.select([sock], [], [], 0)[0]:
                        break  # answered before the upload ended
                    sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            return Answer(response.status, response.headers, response.read())


def _pieces(body: bytes, chunked: bool, size: int = 65536):
    for start in range(0, len(body), size):
        piece = body[start:start + size]
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def save_mnist_shaped_model(artifact_dir: Path) -> str:
    from engine.network import Network
    from worker.store.artifacts import ArtifactStore
    from worker.store.ids import new_id
    from worker.store.jobs import utc_now

    network = Network.from_spec(
        {"layers": [{"units": 16, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
        input_size=784, seed=0)
    model_id = new_id()
    ArtifactStore(artifact_dir).save_model(model_id, network, metadata={
        "job_id": None, "name": "hostile-target", "dataset": "mnist", "owner": None,
        "spec": {"model": network.spec, "training": None}, "metrics": [], "evaluation": None,
        "created_at": utc_now()})
    return model_id


@pytest.fixture(scope="module")
def hostile_stack(tmp_path_factory):
    """gunicorn (production config) on a private Redis no worker consumes: accepted jobs stay queued."""
    redis_server = start_redis(tmp_path_factory.mktemp("redis"))
    artifact_dir = tmp_path_factory.mktemp("artifacts")
    model_id = save_mnist_shaped_model(artifact_dir)
    env = api_env(build_service_env(redis_server.url, artifact_dir))
    server = ApiServer(env, tmp_path_factory.mktemp("logs") / "gunicorn.log").start()
    yield HostileStack(server, model_id, artifact_dir)
    server.stop()
    redis_server.stop()
