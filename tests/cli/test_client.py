"""`mlpq.Client` against the real stack: jobs, events across dropped connections, typed errors, predict."""

from __future__ import annotations

import json
import socket
import threading
import uuid

import numpy as np
import pandas
import pytest
from PIL import Image

import mlpq
from engine import datasets
from tests.support.cli import run_mlpq
from tests.support.servers import GunicornServer
from tests.support.services import build_service_env
from tests.support.specs import SMALL_MNIST_JOB, TUTORIAL_XOR_JOB, with_training


def test_train_wait_history_and_model(client):
    job = client.train(with_training(TUTORIAL_XOR_JOB, epochs=40), wait=True, timeout=120)
    assert job.status == "succeeded" and job.done
    assert [entry["epoch"] for entry in job.history] == list(range(1, 41))
    frame = job.to_frame()
    assert isinstance(frame, pandas.DataFrame) and list(frame.index) == list(range(1, 41))
    assert frame["loss"].iloc[-1] < frame["loss"].iloc[0]
    model = job.model()
    assert model["id"] == job.model_id and model["job_id"] == job.id
    assert any(other.id == job.id for other in client.jobs(status="succeeded"))
    assert any(record["id"] == job.model_id for record in client.models(dataset="xor"))
    answers = client.predict(job.model_id, inputs=[[0, 0], [0, 1], [1, 0], [1, 1]])
    assert [a["class"] for a in answers] == ["false", "true", "true", "false"]
    assert answers.classes == ["false", "true"] and answers.model_id == job.model_id


def test_watch_follows_a_job_across_the_servers_stream_time_limit(client):
    """The stack cuts each stream after 0.5 s: watch() reconnects with Last-Event-ID.

    The job is far longer than needed and is stopped (stop-and-keep) once an epoch has arrived
    over a resumed stream, so the test proves a resume however fast the machine trains."""
    streams = []
    client.http.event_hooks["request"].append(
        lambda request: streams.append(request.headers.get("Last-Event-ID"))
        if request.url.path.endswith("/events") else None)
    job = client.train(with_training(SMALL_MNIST_JOB, epochs=200))
    events, resumed_epochs = [], 0
    for event in job.watch():
        events.append(event)
        if event.event == "epoch" and len(streams) > 1:
            resumed_epochs += 1
            if resumed_epochs == 1:
                job.stop()
    epochs = [e.data["epoch"] for e in events if e.event == "epoch"]
    assert resumed_epochs >= 1 and epochs == list(range(1, len(epochs) + 1)) and len(epochs) < 200
    ids = [e.id for e in events]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == len(ids)
    assert events[-1].event == "status" and events[-1].data["status"] == "succeeded"
    assert len(streams) > 1 and streams[0] is None and all(streams[1:]), "resumed with Last-Event-ID"
    assert job.status == "succeeded" and job.record["stop_reason"] == "stopped" and job.model_id
    assert [entry["epoch"] for entry in job.history] == epochs


class DroppingProxy:
    """A TCP proxy that resets the first `resets` event-stream connections after `limit` bytes."""

    def __init__(self, upstream_port: int, limit: int = 900, resets: int = 2):
        self.upstream_port, self.limit, self.resets, self.drops = upstream_port, limit, resets, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(downstream,), daemon=True).start()

    def _serve(self, downstream):
        """Relay one connection; once the client asks it for an event stream (keep-alive
        connections carry several requests), reset it after `limit` more bytes of answer."""
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        streaming = threading.Event()
        threading.Thread(target=self._pump, args=(downstream, upstream, streaming), daemon=True).start()
        sent = 0
        try:
            while chunk := upstream.recv(256):
                if streaming.is_set() and sent + len(chunk) > self.limit and self.drops < self.resets:
                    downstream.sendall(chunk[: self.limit - sent])
                    self.drops += 1
                    downstream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    downstream.shutdown(socket.SHUT_RDWR)  # close() alone waits for _pump's recv
                    return  # linger 0: a reset in the middle of the stream
                downstream.sendall(chunk)
                sent = sent + len(chunk) if streaming.is_set() else 0
        except OSError:
            pass
        finally:
            downstream.close()
            upstream.close()

    @staticmethod
    def _pump(source, target, streaming):
        """The client's bytes to the server, noting when it asks for an event stream."""
        try:
            while chunk := source.recv(65536):
                if b"/events HTTP/1.1" in chunk:
                    streaming.set()
                target.sendall(chunk)
        except OSError:
            pass

    def close(self):
        self.listener.close()


def test_watch_resumes_after_a_dropped_connection(stack, celery_worker):
    proxy = DroppingProxy(stack.port)
    try:
        with mlpq.Client(proxy.url) as client:
            job = client.train(with_training(SMALL_MNIST_JOB, epochs=2))
            events = list(job.watch())
    finally:
        proxy.close()
    assert proxy.drops == 2
    assert [e.data["epoch"] for e in events if e.event == "epoch"] == [1, 2]
    assert len({e.id for e in events}) == len(events)
    assert events[-1].data["status"] == "succeeded"


def test_errors_are_typed_and_carry_the_servers_body(client, url):
    with pytest.raises(mlpq.ValidationError) as invalid:
        client.train({"dataset": "xor", "model": {"layers": [{"units": 0, "activation": "nope"}]}})
    assert invalid.value.status == 422 and invalid.value.code == 422
    assert "model.layers[0].units" in invalid.value.errors and "model.layers[0].activation" in invalid.value.errors
    with pytest.raises(mlpq.NotFound) as missing:
        client.job(uuid.uuid4().hex)
    assert "(or it belongs to another key)" in missing.value.message
    with pytest.raises(mlpq.NotFound):
        client.predict(uuid.uuid4().hex, inputs=[[0, 0]])
    done = client.train(with_training(TUTORIAL_XOR_JOB, epochs=5), wait=True, timeout=60)
    with pytest.raises(mlpq.Conflict):
        done.cancel()
    with pytest.raises(mlpq.ValidationError) as bad_input:
        client.predict(done.model_id, inputs=[[0, 0, 0]])
    assert bad_input.value.type and bad_input.value.errors
    with pytest.raises(mlpq.ConnectionError) as unreachable:
        mlpq.Client("http://127.0.0.1:9").jobs()
    assert unreachable.value.url == "http://127.0.0.1:9" and "127.0.0.1:9" in str(unreachable.value)
    slow = client.train(with_training(SMALL_MNIST_JOB, epochs=50))
    try:
        with pytest.raises(mlpq.Timeout):
            slow.wait(timeout=0.5)
    finally:
        slow.cancel()
    assert isinstance(mlpq.Timeout("x"), TimeoutError) and issubclass(mlpq.ValidationError, mlpq.MlpqError)


@pytest.fixture
def keyed_server(make_redis_server, tmp_path):
    """gunicorn requiring API keys, on a Redis no worker consumes (its jobs stay queued)."""
    from api.core.auth import generate_key, key_entry

    key = generate_key()
    redis_server = make_redis_server()
    env = build_service_env(redis_server.url, tmp_path / "artifacts", MLPQ_API_KEYS=key_entry("alice", key),
                            MLPQ_MAX_ACTIVE_JOBS_PER_KEY="1")
    server = GunicornServer(env, tmp_path / "gunicorn.log").start()
    yield server, key
    server.stop()


def test_auth_and_rate_limit_errors(keyed_server):
    server, key = keyed_server
    with pytest.raises(mlpq.AuthError) as refused:
        mlpq.Client(server.url, api_key="wrong").jobs()
    assert refused.value.status == 401
    wrong = run_mlpq("--api-key", "wrong", "jobs", url=server.url)
    assert wrong.returncode == 3 and "401" in wrong.stderr and "Traceback" not in wrong.stderr
    absent = run_mlpq("jobs", url=server.url)
    assert absent.returncode == 3 and "MLPQ_API_KEY" in absent.stderr
    with mlpq.Client(server.url, api_key=key) as alice:
        alice.train(TUTORIAL_XOR_JOB)
        with pytest.raises(mlpq.RateLimited) as limited:
            alice.train(TUTORIAL_XOR_JOB)
    assert limited.value.status == 429 and limited.value.retry_after and limited.value.retry_after > 0
    listed = run_mlpq("--json", "jobs", url=server.url, env={"MLPQ_API_KEY": key})
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1


def test_predict_takes_paths_pil_images_and_arrays(client, tmp_path, celery_worker):
    job = client.train(with_training(SMALL_MNIST_JOB, epochs=1), wait=True,
                       timeout=240)
    _, (X_test, y_test) = datasets.load("mnist")
    pictures = [Image.fromarray((X_test[i].reshape(28, 28) * 255).astype(np.uint8)) for i in range(3)]
    path = tmp_path / "digit.png"
    pictures[0].save(path)
    answers = client.predict(job.model_id, images=[path, pictures[1], X_test[2].reshape(28, 28),
                                                   np.asarray(pictures[0])])
    assert len(answers) == 4 and answers[0]["label"] == answers[3]["label"]
    assert sum(a["label"] == y for a, y in zip(answers[:3], y_test[:3], strict=True)) >= 2
    assert answers[0]["class"] == answers.classes[answers[0]["label"]]
    downloaded = client.download(job.model_id, tmp_path / "model")
    assert sorted(p.name for p in downloaded.iterdir()) == ["manifest.json", "weights.npz"]
    with pytest.raises(ValueError):
        client.predict(job.model_id)


def test_model_insight_trace_datasets_and_job_predict(client, celery_worker):
    job = client.train(with_training(SMALL_MNIST_JOB, epochs=1), wait=True,
                       timeout=240)
    assert client.card(job.model_id).startswith("# Model card: small-mnist")
    wrong = client.mistakes(job.model_id, limit=2)
    assert wrong["total"] == wrong["mistakes_total"] > 0 and len(wrong["mistakes"]) == 2
    assert wrong["mistakes"][0]["confidence"] >= wrong["mistakes"][1]["confidence"]
    assert client.weights_png(job.model_id, 1).startswith(b"\x89PNG")
    with pytest.raises(mlpq.NotFound) as no_layer:
        client.weights_png(job.model_id, 5)
    assert "layer" in no_layer.value.errors

    _, (X_test, _) = datasets.load("mnist")
    by_job = job.predict(inputs=X_test[:3])
    by_model = client.predict(job.model_id, inputs=X_test[:3])
    assert [p["label"] for p in by_job] == [p["label"] for p in by_model]
    assert by_job.header["weights"] == "model" and by_job.header["job_id"] == job.id

    names = {entry["name"]: entry for entry in client.datasets()}
    assert names["fashion-mnist"]["classes"][9] == "Ankle boot" and names["xor"]["input_size"] == 2

    step = client.trace({"layers": [{"units": 2, "activation": "sigmoid"}, {"units": 2, "activation": "softmax"}]},
                        inputs=[[0.0, 1.0]], labels=[1], optimizer={"name": "sgd", "learning_rate": 0.5})
    first = step["layers"][0]
    assert np.allclose(np.asarray(first["W_after"]),
                       np.asarray(first["W"]) - 0.5 * np.asarray(first["dC_dW"]))
    with pytest.raises(mlpq.ValidationError) as bad_trace:
        client.trace({"layers": []}, inputs=[[0.0]], labels=[0])
    assert bad_trace.value.errors
