"""The API in this process: an app on the test services, submitting jobs and sweeps, API keys."""

from __future__ import annotations

from dataclasses import dataclass, replace

from api import create_app
from api.core.auth import generate_key, key_entry
from tests.support.waiting import json_body
from worker.store.config import Settings


def make_app(settings: Settings, **config):
    return create_app({"TESTING": True, "WORKER_SETTINGS": settings, **config})


def limited(settings: Settings, **limits) -> Settings:
    return replace(settings, **limits)


def submit(client, body: dict) -> dict:
    """POST /v1/jobs (a Flask test client or an httpx client), which must accept the job; its
    record."""
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, json_body(response)
    return json_body(response)


def start_sweep(client, body: dict) -> dict:
    """POST /v1/sweeps, which must accept the sweep; its record."""
    response = client.post("/v1/sweeps", json=body)
    assert response.status_code == 202, json_body(response)
    return json_body(response)


@dataclass(frozen=True)
class Key:
    name: str
    key: str
    entry: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_key(name: str, admin: bool = False) -> Key:
    key = generate_key()
    return Key(name, key, key_entry(name, key, admin=admin))


def keyed_config(keys: dict[str, Key]) -> dict:
    """App config that requires these keys."""
    return {"API_KEYS": ",".join(key.entry for key in keys.values())}


class Authorized:
    """A test client that sends one key with every request (for the shared waits)."""

    def __init__(self, client, key: Key):
        self.client, self.key = client, key

    def get(self, path, **kwargs):
        return self.client.get(path, headers={**self.key.headers, **kwargs.pop("headers", {})},
                               **kwargs)
