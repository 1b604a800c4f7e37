"""Structured logs: request ids (echoed), job ids on API and worker lines, one JSON per line."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest

from mlpq.redis_server import RedisServer
from tests.support.api import make_app, submit
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job, wait_until
from worker.store.celery_app import create_celery_app
from worker.store.config import Settings
from worker.store.ids import new_id
from worker.store.jobs import JobStore
from worker.store.logs import job_id_var, log_format, make_handler, request_id_var
from worker.sweeper import requeue_orphaned_jobs

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("sent, kept", [
    ("trace-7f3a.42:1", True),
    ("0af7651916cd43dd8448eb211c80319c", True),
    ("x" * 128, True),
    ("x" * 129, False),  # too long
    ("has spaces", False),
    ("-leading-dash", False),
    ("quote\"inside", False),
])
def test_request_ids_are_echoed_when_sane(client, sent, kept):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    echoed = response.headers["X-Request-ID"]
    assert (echoed == sent) if kept else GENERATED.fullmatch(echoed)


def test_a_request_id_is_made_when_none_is_sent(client):
    first, second = (client.get("/healthz").headers["X-Request-ID"] for _ in range(2))
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second
    assert client.get("/v1/no/such").headers["X-Request-ID"]  # errors carry one too


def test_one_access_line_per_request_with_route_and_job_id(client, json_logs):
    job_id = new_id()
    response = client.get(f"/v1/jobs/{job_id}", headers={"X-Request-ID": "req-1",
                                                          "Authorization": "Bearer secret-x"})
    assert response.status_code == 404
    [line] = json_logs.of("mlpq.access")
    assert line["request_id"] == "req-1" and line["job_id"] == job_id
    assert line["method"] == "GET" and line["status"] == 404
    assert line["route"] == "/v1/jobs/<id:job_id>" and line["path"] == f"/v1/jobs/{job_id}"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert set(line) >= {"time", "level", "logger", "message"}
    assert "secret-x" not in json_logs.stream.getvalue()


def test_lines_logged_while_handling_a_request_carry_its_id(tmp_path, json_logs):
    server = RedisServer(data_dir=tmp_path / "redis").start()
    url = server.url
    server.stop()  # so the request below logs a warning about Redis
    client = make_app(Settings.from_env({"REDIS_URL": url})).test_client()
    response = client.get("/v1/jobs", headers={"X-Request-ID": "during-outage"})
    assert response.status_code == 503
    [warning] = json_logs.of("api.core.errors")
    assert "ConnectionError" in warning["message"] and warning["request_id"] == "during-outage"
    logging.getLogger("tests.after").warning("after the request")
    assert "request_id" not in json_logs.of("tests.after")[0]  # the context was cleared


def test_text_format_for_terminals():
    stream = io.StringIO()
    logger = logging.getLogger("tests.text")
    handler = make_handler(stream, fmt="text")
    logger.addHandler(handler)
    token = job_id_var.set("abc")
    try:
        logger.warning("hello %s", "world")
    finally:
        job_id_var.reset(token)
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert line.endswith(" WARNING tests.text job_id=abc: hello world\n")
    assert request_id_var.get() is None
    assert log_format({"MLPQ_LOG_FORMAT": "TEXT"}) == "text" and log_format({}) == "json"
    with pytest.raises(ValueError, match="MLPQ_LOG_FORMAT"):
        log_format({"MLPQ_LOG_FORMAT": "xml"})


def test_exceptions_stay_on_one_json_line():
    stream = io.StringIO()
    logger = logging.getLogger("tests.exception")
    handler = make_handler(stream, fmt="json")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("multi\nline")
        except ValueError:
            logger.exception("it failed", extra={"job_id": "j1", "epoch": 3})
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["job_id"] == "j1" and entry["epoch"] == 3 and entry["level"] == "ERROR"
    assert "ValueError: multi\nline" in entry["exception"]


def worker_lines(worker) -> list[dict]:
    """The worker's log as JSON objects; Celery's own shutdown notice is a bare print."""
    lines = []
    for text in worker.log_path.read_text().splitlines():
        if text.strip() and not text.startswith("worker: "):
            lines.append(json.loads(text))  # anything else must be one JSON object per line
    return lines


def test_worker_lines_about_a_job_carry_its_id(client, celery_worker):
    job = submit(client, {**XOR_JOB, "name": "logged-job"})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded"

    def about_the_job():
        return [line for line in worker_lines(celery_worker) if job["id"] in json.dumps(
            {key: value for key, value in line.items() if key != "job_id"})]

    # Celery logs "succeeded" once the task returns, just after the job is recorded.
    wait_until(lambda: any("succeeded" in line["message"] for line in about_the_job()),
               timeout=30, message="the task's success line")
    lines, mentioning = worker_lines(celery_worker), about_the_job()
    messages = [line["message"] for line in mentioning]
    assert any("received" in message for message in messages), messages
    assert any("succeeded" in message for message in messages), messages
    assert all(line.get("job_id") == job["id"] for line in mentioning), mentioning
    # ...and the job id is on no line that is not about this job.
    assert all(line in mentioning for line in lines if line.get("job_id") == job["id"])


def test_the_lease_sweeper_names_the_job_it_requeues(idle_settings, json_logs):
    celery = create_celery_app(idle_settings)  # the requeued message goes to the idle Redis
    store = JobStore.from_url(idle_settings.redis_url)
    try:
        job = store.create(name="orphan", dataset="xor", spec={"model": {}, "training": {}})
        token = new_id()
        assert store.acquire_lease(job["id"], token, 0.05)
        store.mark_running(job["id"], lease_token=token)
        time.sleep(0.2)  # the lease lapses: its worker "died"
        assert requeue_orphaned_jobs(celery, store) == [job["id"]]
    finally:
        store.close()
        celery.close()
    [line] = [line for line in json_logs.of("worker.sweeper") if "requeued" in line["message"]]
    assert line["job_id"] == job["id"]
