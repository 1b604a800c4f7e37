"""The API (gunicorn) is killed and restarted while a job trains: pollers and SSE clients lose nothing."""

import json
import threading
import time

import httpx
import pytest

from tests.support.servers import api_env
from tests.support.specs import mnist_job
from tests.support.waiting import wait_until
from worker.store.job_scripts import TERMINAL_STATUSES

# Far more epochs than the restarts take on any machine: the test stops the job (stop-and-keep)
# once an epoch has reached the stream after the second restart, so speed cannot end it early.
EPOCHS = 1000


class Poller(threading.Thread):
    """GETs the job every 0.1 s like a client would; remembers each answer or failure."""

    def __init__(self, url: str, job_id: str):
        super().__init__(daemon=True)
        self.url, self.job_id = url, job_id
        self.answers: list[dict] = []
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while True:
                try:
                    response = client.get(f"/v1/jobs/{self.job_id}")
                except httpx.TransportError as error:
                    self.failures.append(type(error).__name__)
                    time.sleep(0.1)
                    continue
                assert response.status_code == 200, response.text
                self.answers.append(response.json())
                if response.json()["status"] in TERMINAL_STATUSES:
                    return
                time.sleep(0.1)


class EventReader(threading.Thread):
    """Follows /events like a browser's EventSource: on a broken stream, reconnects with
    Last-Event-ID until the job's final status event arrives."""

    def __init__(self, url: str, job_id: str):
        super().__init__(daemon=True)
        self.url, self.job_id = url, job_id
        self.events: list[tuple[str, str, dict]] = []
        self.connections = 0
        self.epoch_connections: list[int] = []  # the connection (1, 2, ...) each epoch came over

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not self._finished():
            headers = {"Last-Event-ID": self.events[-1][0]} if self.events else {}
            try:
                with httpx.stream("GET", f"{self.url}/v1/jobs/{self.job_id}/events",
                                  headers=headers, timeout=httpx.Timeout(5, read=30)) as response:
                    if response.status_code != 200:
                        raise AssertionError(f"events answered {response.status_code}")
                    self.connections += 1
                    self._read(response.iter_lines())
            except httpx.TransportError:
                time.sleep(0.2)

    def _read(self, lines) -> None:
        frame: dict[str, str] = {}
        for line in lines:
            if line:
                field, _, value = line.partition(":")
                frame[field] = value.removeprefix(" ")
                continue
            if "id" in frame:
                self.events.append((frame["id"], frame["event"], json.loads(frame["data"])))
                if frame["event"] == "epoch":
                    self.epoch_connections.append(self.connections)
            frame = {}

    def epochs_on_connection(self, connection: int) -> int:
        """How many epochs arrived over the `connection`-th stream or a later one."""
        return sum(1 for number in list(self.epoch_connections) if number >= connection)

    def _finished(self) -> bool:
        return bool(self.events) and self.events[-1][1] == "status" and \
            self.events[-1][2]["status"] in TERMINAL_STATUSES


@pytest.mark.slow
def test_api_restarts_lose_no_epoch_for_pollers_or_event_streams(isolated_service, start_api):
    service = isolated_service
    service.start_worker()
    api = start_api(api_env(service.env))
    response = httpx.post(f"{api.url}/v1/jobs", json=mnist_job(EPOCHS, name="api-restarts"))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    poller, reader = Poller(api.url, job_id), EventReader(api.url, job_id)
    poller.start()
    reader.start()

    def streamed_epoch_on(connection: int) -> bool:
        """An epoch reached the reader over its `connection`-th stream (or a later one)."""
        return reader.connections >= connection and reader.epochs_on_connection(connection) > 0

    wait_until(lambda: len(service.jobs.get(job_id)["metrics"]) >= 2, timeout=90)
    api.kill()  # crash: SIGKILL to gunicorn's arbiter and its workers
    api.start()
    wait_until(lambda: streamed_epoch_on(2), timeout=60, message="epochs over the reconnected stream")
    api.stop()  # graceful: SIGTERM, open streams are cut after MLPQ_GRACEFUL_TIMEOUT
    api.start()
    wait_until(lambda: streamed_epoch_on(3), timeout=60, message="epochs over the third stream")
    response = httpx.post(f"{api.url}/v1/jobs/{job_id}/stop")
    assert response.status_code in (200, 202), response.text
    poller.join(120)
    reader.join(60)
    assert not poller.is_alive() and not reader.is_alive(), "clients saw the job end"

    final = service.jobs.get(job_id)
    assert final["status"] == "succeeded", final["error"]
    assert final["stop_reason"] == "stopped", "the job outran the restarts"
    trained = len(final["metrics"])
    assert [entry["epoch"] for entry in final["metrics"]] == list(range(1, trained + 1))

    # Pollers: every answer's metrics is a prefix of the final history, and it only grows.
    lengths = [len(answer["metrics"]) for answer in poller.answers]
    assert lengths == sorted(lengths)
    for answer in poller.answers:
        assert answer["metrics"] == final["metrics"][:len(answer["metrics"])]
    assert poller.answers[-1]["status"] == "succeeded"
    assert poller.failures, "the restarts were seen as connection failures"

    # The event stream resumed across both restarts: each epoch exactly once, ids increasing.
    assert reader.connections >= 3
    ids = [tuple(map(int, event_id.split("-"))) for event_id, _name, _data in reader.events]
    assert all(earlier < later for earlier, later in zip(ids, ids[1:], strict=False))
    epochs = [data["epoch"] for _id, name, data in reader.events if name == "epoch"]
    assert epochs == list(range(1, trained + 1))
    assert reader.events[-1][1] == "status" and reader.events[-1][2]["status"] == "succeeded"
    assert "Traceback" not in api.log_text(), api.log_text()[-3000:]
