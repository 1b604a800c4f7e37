"""Security fixtures: three API keys (alice, bob, an admin) and apps that require them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.api import Authorized, Key, keyed_config, make_app, make_key
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job


@pytest.fixture(scope="session")
def keys() -> dict[str, Key]:
    return {"alice": make_key("alice"), "bob": make_key("bob"), "root": make_key("root", admin=True)}


@pytest.fixture
def secure_app(worker_settings, keys):
    return make_app(worker_settings, **keyed_config(keys))


@pytest.fixture
def secure_client(secure_app):
    return secure_app.test_client()


@dataclass(frozen=True)
class Trained:
    job: dict  # the succeeded job, as its owner reads it
    model_id: str


def train_xor(client, key: Key, name: str) -> Trained:
    response = client.post("/v1/jobs", json={**XOR_JOB, "name": name}, headers=key.headers)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["owner"] == key.name
    done = wait_for_job(Authorized(client, key), job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    return Trained(done, done["model_id"])


@pytest.fixture(scope="session")
def owned_models(worker_settings, _session_celery_worker, keys) -> dict[str, Trained]:
    """An XOR model trained by the real worker for alice, then one for bob (newer)."""
    _session_celery_worker.start()
    client = make_app(worker_settings, **keyed_config(keys)).test_client()
    return {"alice": train_xor(client, keys["alice"], "alice-xor"),
            "bob": train_xor(client, keys["bob"], "bob-xor")}

