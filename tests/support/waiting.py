"""Waiting for a condition, a job or a sweep: one polling loop with a deadline, failing clearly."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from worker.store.job_scripts import TERMINAL_STATUSES
from worker.store.jobs import JobStore


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05,
               message: str | Callable[[], str] = ""):
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout` s.

    `message` (or what calling it returns, at the deadline) says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            awaited = message() if callable(message) else message
            pytest.fail(f"timed out after {timeout}s waiting for {awaited or predicate}")
        time.sleep(interval)


def wait_for_job(source, job_id: str, statuses=TERMINAL_STATUSES, timeout: float = 120.0,
                 predicate=None, interval: float = 0.1) -> dict:
    """Poll a job until its status is in `statuses` and `predicate(job)` holds; return it.

    `source` is a JobStore, read directly, or an HTTP client (a Flask test client or an httpx
    client) that reads GET /v1/jobs/{id}."""
    if isinstance(source, JobStore):
        def read():
            return source.get(job_id)
    else:
        def read():
            return json_body(source.get(f"/v1/jobs/{job_id}"))
    return _wait_for_status(read, f"job {job_id}", statuses, timeout, interval, predicate)


def wait_for_sweep(client, sweep_id: str, timeout: float = 180.0, interval: float = 0.2) -> dict:
    """Poll GET /v1/sweeps/{id} until the sweep ends (as its runs do); return it."""
    return _wait_for_status(lambda: json_body(client.get(f"/v1/sweeps/{sweep_id}")),
                            f"sweep {sweep_id}", TERMINAL_STATUSES, timeout, interval)


def json_body(response):
    """The body of an httpx response or of a Flask test client's response."""
    return response.json() if isinstance(response, httpx.Response) else response.get_json()


def _wait_for_status(read, what: str, statuses, timeout: float, interval: float,
                     predicate=None) -> dict:
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    last: list[dict | None] = [None]  # for the failure message

    def reached():
        record = last[0] = read()
        done = record["status"] in statuses and (predicate is None or predicate(record))
        return record if done else None

    return wait_until(reached, timeout, interval,
                      lambda: f"{what} to reach {sorted(statuses)}; last seen: {last[0]}")
