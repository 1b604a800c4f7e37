"""`Job`: one training job seen from the client (watch its events, wait, cancel, read its model)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import SSEError, connect_sse

from mlpq.errors import ConnectionError, Timeout, error_from_response
from worker.store.job_scripts import TERMINAL_STATUSES

RECONNECT_ATTEMPTS = 5  # consecutive failed reconnects before watch() gives up
STREAM_READ_TIMEOUT = 60.0  # well above the server's keep-alive interval (15 s by default)


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: `event` is status, progress or epoch; `data` its JSON object."""

    id: str
    event: str
    data: dict

    def as_dict(self) -> dict:
        return {"id": self.id, "event": self.event, "data": self.data}


class Job:
    """A training job. `record` is the server's job record as last seen; `watch()` keeps it current."""

    def __init__(self, client, record: dict):  # client: the mlpq.Client it came from
        self.client, self.record = client, record

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status}>"

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def model_id(self) -> str | None:
        return self.record.get("model_id")

    @property
    def progress(self) -> dict | None:
        return self.record.get("progress")

    @property
    def history(self) -> list[dict]:
        """Per-epoch metrics so far: [{epoch, loss, accuracy, val_loss, val_accuracy, ...}]."""
        return list(self.record.get("metrics") or [])

    def to_frame(self):
        """The history as a pandas DataFrame indexed by epoch (needs pandas installed)."""
        import pandas

        return pandas.DataFrame(self.history).set_index("epoch")

    def refresh(self) -> Job:
        self.record = self.client.get(f"/v1/jobs/{self.id}")
        return self

    def watch(self, last_event_id: str | None = None) -> Iterator[Event]:
        """Follow the job's events live until it ends, keeping `record` current.

        A cut stream (the server's time limit, a dropped connection) is resumed with
        Last-Event-ID, so no event is lost or repeated."""
        for event in stream_events(self.client, self.id, last_event_id):
            self._apply(event)
            yield event
        self.refresh()

    def wait(self, timeout: float | None = None, interval: float = 0.25) -> Job:
        """Poll until the job ends; raises mlpq.Timeout after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().done:
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(f"job {self.id} is still {self.status} after {timeout:g} s")
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)
        return self

    def cancel(self) -> Job:
        self.record = self.client.cancel(self.id)
        return self

    def stop(self) -> Job:
        """Stop after the current batch and keep the model trained so far."""
        self.record = self.client.stop(self.id)
        return self

    def predict(self, images=None, *, inputs=None, top_k: int | None = None):
        """Classify with this job's latest weights (its last checkpoint while it trains)."""
        return self.client.predict_job(self.id, images, inputs=inputs, top_k=top_k)

    def model(self) -> dict:
        """The trained model's record (spec, metrics, test-set evaluation)."""
        if self.model_id is None:
            self.refresh()
        if self.model_id is None:
            raise ValueError(f"job {self.id} is {self.status}: it has no model")
        return self.client.model(self.model_id)

    def _apply(self, event: Event) -> None:
        if event.event == "status":
            self.record = {**self.record, **event.data}
        elif event.event == "progress":
            self.record = {**self.record, "progress": event.data}
        elif event.event == "epoch":
            # keyed by epoch: a job resumed after a worker died sends its epochs again
            metrics = [entry for entry in self.history if entry["epoch"] < event.data["epoch"]]
            self.record = {**self.record, "metrics": [*metrics, event.data]}


def stream_events(client, job_id: str, last_event_id: str | None = None) -> Iterator[Event]:
    """Events of one job until its final status event, across as many connections as it takes."""
    failures, delay = 0, 1.0
    while True:
        try:
            for event in _one_stream(client, job_id, last_event_id):
                if event.event == "retry":
                    delay = event.data["milliseconds"] / 1000
                    continue
                failures, last_event_id = 0, event.id
                yield event
                if event.event == "status" and event.data.get("status") in TERMINAL_STATUSES:
                    return
            else:
                return  # 204: the job ended and nothing is left after last_event_id
        except _StreamCut:
            pass  # the server closed the stream (its time limit): reconnect straight away
        except (httpx.TransportError, SSEError) as error:
            failures += 1
            if failures > RECONNECT_ATTEMPTS:
                raise ConnectionError(client.url, f"event stream of job {job_id} lost: {error}") from error
            time.sleep(delay)


class _StreamCut(Exception):
    """A stream ended before the job did."""


def _one_stream(client, job_id: str, last_event_id: str | None) -> Iterator[Event]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    timeout = httpx.Timeout(client.http.timeout.connect, read=STREAM_READ_TIMEOUT)
    with connect_sse(client.http, "GET", f"/v1/jobs/{job_id}/events", headers=headers,
                     timeout=timeout) as source:
        response = source.response
        if response.status_code == 204:
            return
        if response.is_error:
            response.read()
            raise error_from_response(response)
        for sse in source.iter_sse():
            if sse.retry is not None:
                yield Event("", "retry", {"milliseconds": sse.retry})
            if sse.id and sse.event in {"status", "progress", "epoch"}:
                yield Event(sse.id, sse.event, json.loads(sse.data))
    raise _StreamCut
