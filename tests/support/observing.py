"""Reading what the service reports: its JSON log lines and its Prometheus /metrics."""

from __future__ import annotations

import io
import json

from prometheus_client.parser import text_string_to_metric_families


class CapturedLines:
    """What the JSON handler wrote, one parsed object per line."""

    def __init__(self, stream: io.StringIO):
        self.stream = stream

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def of(self, logger: str) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == logger]


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
