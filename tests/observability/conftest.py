"""Observability fixtures: log capture in the production format, /metrics parsing, a model."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import XOR_SPEC, idle_settings, make_app, submit, wait_for_job
from worker.store.logs import make_handler

__all__ = ["idle_settings"]  # fixture shared with the API suite


class CapturedLines:
    """What the JSON handler wrote, one parsed object per line."""

    def __init__(self, stream: io.StringIO):
        self.stream = stream

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def of(self, logger: str) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == logger]


@pytest.fixture
def json_logs():
    """Every record (DEBUG and above), through the handler production uses."""
    stream = io.StringIO()
    handler = make_handler(stream, fmt="json")
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield CapturedLines(stream)
    root.removeHandler(handler)
    root.setLevel(previous)


def scrape(client, **kwargs) -> dict:
    """GET /metrics -> {(sample name, frozenset of label pairs): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data()[:300]
    return parse_metrics(response.get_data(as_text=True))


def parse_metrics(text: str) -> dict:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """A sample's value; 0 when the series does not exist yet (counters start at 0)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def xor_model(worker_settings, _session_celery_worker) -> str:
    """The model id of an XOR job trained by the real worker (once for the module)."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = submit(client, {**XOR_SPEC, "name": "xor-for-observability"})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    return done["model_id"]


@pytest.fixture
def client(worker_settings):
    return make_app(worker_settings).test_client()
