"""Server-Sent Events under real servers: Werkzeug's threaded server and gunicorn gthread."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from tests.support.api import make_app, submit
from tests.support.servers import ThreadedServer
from tests.support.services import build_service_env
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job

EPOCHS = 40
SHORT_XOR = {**XOR_JOB, "training": {**XOR_JOB["training"], "epochs": EPOCHS,
                                      "optimizer": {"name": "adam", "learning_rate": 0.1}}}


@dataclass
class Event:
    id: str | None
    name: str
    data: dict | None
    comment: str | None = None


def parse_frames(lines):
    """Parse the SSE wire format line by line into Events (comments kept, for checks)."""
    fields, comments = {}, []
    for line in lines:
        if line == "":
            if "data" in fields or comments:
                yield Event(fields.get("id"), fields.get("event", "message"),
                            json.loads(fields["data"]) if "data" in fields else None,
                            "\n".join(comments) or None)
            fields, comments = {}, []
        elif line.startswith(":"):
            comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def read_stream(url, *, headers=None, limit=None, timeout=60.0):
    """Every event until the server ends the stream (or `limit` data events)."""
    events = []
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_frames(response.iter_lines()):
            events.append(event)
            if limit is not None and sum(e.data is not None for e in events) >= limit:
                break
    return events


def data_events(events):
    return [event for event in events if event.data is not None]


def test_stream_delivers_every_epoch_then_ends(client, celery_worker, live_server):
    job = submit(client, SHORT_XOR)
    events = data_events(read_stream(f"{live_server.url}/v1/jobs/{job['id']}/events"))

    epochs = [event.data["epoch"] for event in events if event.name == "epoch"]
    assert epochs == list(range(1, EPOCHS + 1))
    statuses = [event.data["status"] for event in events if event.name == "status"]
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "succeeded"
    assert events[-1].name == "status"  # the stream ended right after the final status
    assert {event.name for event in events} <= {"status", "progress", "epoch"}
    assert all(event.id for event in events)
    assert len({event.id for event in events}) == len(events)

    final = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert [e.data for e in events if e.name == "epoch"] == final["metrics"]


def test_final_progress_reports_the_last_batch(client, celery_worker, live_server):
    """Not `batch: 0` with `fraction: 1.0`: a finished epoch (and job) sits at its last batch."""
    job = submit(client, {**SHORT_XOR, "training": {**SHORT_XOR["training"], "epochs": 3,
                                                    "batch_size": 1}})  # 4 batches per epoch
    events = data_events(read_stream(f"{live_server.url}/v1/jobs/{job['id']}/events"))
    progress = [event.data for event in events if event.name == "progress"]
    assert progress, [event.name for event in events]
    last = progress[-1]
    assert (last["epoch"], last["epochs"], last["batch"], last["batches"]) == (3, 3, 4, 4)
    assert last["fraction"] == 1.0 and last["eta_seconds"] == 0.0
    # before the first batch: epoch 0, batch 0; from then on a real batch of the epoch
    assert all(1 <= entry["batch"] <= entry["batches"] == 4 for entry in progress
               if entry["epoch"] > 0), progress
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["progress"] == last


def test_last_event_id_resumes_without_gaps(client, celery_worker, live_server):
    job = submit(client, SHORT_XOR)
    url = f"{live_server.url}/v1/jobs/{job['id']}/events"
    first_part = data_events(read_stream(url, limit=5))
    rest = data_events(read_stream(url, headers={"Last-Event-ID": first_part[-1].id}))
    wait_for_job(client, job["id"])
    everything = data_events(read_stream(url))  # a finished job replays its whole log
    assert [e.id for e in first_part + rest] == [e.id for e in everything]
    assert everything[-1].data["status"] == "succeeded"

    # The same through the query parameter, and 204 once nothing is left after the id.
    tail = data_events(read_stream(f"{url}?last_event_id={everything[-3].id}"))
    assert [e.id for e in tail] == [e.id for e in everything[-2:]]
    done = httpx.get(url, headers={"Last-Event-ID": everything[-1].id}, timeout=10)
    assert done.status_code == 204


def test_stream_lifetime_is_bounded_and_keeps_alive(idle_settings):
    max_seconds = 1.0
    app = make_app(idle_settings, SSE_MAX_SECONDS=max_seconds, SSE_KEEPALIVE_SECONDS=0.2)
    job = submit(app.test_client(), SHORT_XOR)  # no worker: it stays queued
    with ThreadedServer(app) as server:
        started = time.monotonic()
        events = read_stream(f"{server.url}/v1/jobs/{job['id']}/events", timeout=30)
        took = time.monotonic() - started
    # The bound is the behaviour: a stream of a job that never changes ends at its configured
    # lifetime, not before and not never. The upper margin is wide for a busy shared machine.
    assert max_seconds <= took < max_seconds + 20
    assert [e.data for e in data_events(events)] == [{"status": "queued"}]
    comments = [event.comment for event in events if event.comment]
    assert "keep-alive" in comments
    assert "reconnect with Last-Event-ID" in comments[-1]


def test_streams_beyond_the_cap_get_503_and_slots_are_released(idle_settings):
    app = make_app(idle_settings, SSE_MAX_STREAMS=2, SSE_KEEPALIVE_SECONDS=0.5)
    job = submit(app.test_client(), SHORT_XOR)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        url = f"/v1/jobs/{job['id']}/events"
        with ExitStack() as open_streams:
            for _ in range(2):
                assert open_streams.enter_context(http.stream("GET", url)).status_code == 200
            refused = http.get(url)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "5"
            assert refused.json()["code"] == 503
        # Closed streams give their slots back (once the server notices the client left).
        deadline = time.monotonic() + 10
        while True:
            with http.stream("GET", url) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "stream slots were not released"
            time.sleep(0.2)


@pytest.mark.slow
def test_healthz_answers_while_streams_hold_gunicorn_threads(idle_settings, start_gunicorn):
    env = build_service_env(idle_settings.redis_url, idle_settings.artifact_dir,
                            MLPQ_WORKERS="1", MLPQ_THREADS="6", MLPQ_SSE_KEEPALIVE_SECONDS="1")
    server = start_gunicorn(env)  # 6 threads: at most 3 streams, 3 threads always free
    with httpx.Client(base_url=server.url, timeout=10) as http:
        job = http.post("/v1/jobs", json=SHORT_XOR).json()
        url = f"/v1/jobs/{job['id']}/events"
        with ExitStack() as open_streams:
            statuses = [open_streams.enter_context(http.stream("GET", url)).status_code
                        for _ in range(5)]
            assert statuses == [200, 200, 200, 503, 503]
            # The streams hold their threads for MLPQ_SSE_MAX_SECONDS (300 s); were /healthz
            # queued behind them it would hit the client's 10 s timeout instead of answering.
            for _ in range(20):
                assert http.get("/healthz").status_code == 200
            assert http.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"
            ready = http.get("/readyz")  # no worker consumes this Redis
            assert ready.status_code == 503
            assert "worker" in ready.json()["message"]
