"""Per-key limits: active jobs (429 + Retry-After), and the size caps being configurable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.api import keyed_config, make_app
from tests.support.servers import GunicornServer
from tests.support.services import build_service_env
from tests.support.specs import XOR_JOB
from worker.store.jobs import JobStore

XOR_INPUTS = {"inputs": [[0, 0], [0, 1], [1, 0]]}


@pytest.fixture
def idle_keyed_client(idle_settings, keys):
    """Keys required, active-job limit 2, on a Redis no worker consumes (jobs stay queued)."""
    app = make_app(idle_settings, MAX_ACTIVE_JOBS_PER_KEY=2, **keyed_config(keys))
    return app.test_client()


def post_job(client, key, name="job"):
    return client.post("/v1/jobs", json={**XOR_JOB, "name": name}, headers=key.headers)


def test_active_jobs_are_capped_per_key(idle_keyed_client, idle_settings, keys):
    client, alice, bob = idle_keyed_client, keys["alice"], keys["bob"]
    first, second = post_job(client, alice), post_job(client, alice)
    assert first.status_code == second.status_code == 202
    refused = post_job(client, alice)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    body = refused.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert "MLPQ_MAX_ACTIVE_JOBS_PER_KEY=2" in body["message"]
    store = JobStore.from_url(idle_settings.redis_url)
    try:
        assert store.count_active("alice") == 2  # the refused job was never created
    finally:
        store.close()
    # The cap is per key: bob is not affected by alice's jobs.
    assert post_job(client, bob).status_code == 202
    # A finished (here: cancelled) job frees its slot.
    cancel = client.post(f"/v1/jobs/{first.get_json()['id']}/cancel", headers=alice.headers)
    assert cancel.status_code == 202 and cancel.get_json()["status"] == "cancelled"
    assert post_job(client, alice).status_code == 202


def test_no_cap_without_keys_or_when_set_to_zero(idle_settings, keys):
    open_client = make_app(idle_settings, MAX_ACTIVE_JOBS_PER_KEY=1).test_client()
    assert [open_client.post("/v1/jobs", json=XOR_JOB).status_code for _ in range(3)] == [202] * 3
    unlimited = make_app(idle_settings, MAX_ACTIVE_JOBS_PER_KEY=0, **keyed_config(keys))
    client = unlimited.test_client()
    assert [post_job(client, keys["bob"]).status_code for _ in range(3)] == [202] * 3


def test_the_cap_is_documented_in_openapi(idle_keyed_client):
    document = idle_keyed_client.get("/openapi.json").get_json()
    assert "429" in document["paths"]["/v1/jobs"]["post"]["responses"]


def test_request_body_cap_is_configurable(idle_settings, keys):
    client = make_app(idle_settings, MAX_CONTENT_LENGTH=2048, **keyed_config(keys)).test_client()
    big = {**XOR_JOB, "name": "x" * 4096}
    response = client.post("/v1/jobs", json=big, headers=keys["alice"].headers)
    assert response.status_code == 413 and response.get_json()["code"] == 413
    # Without a key the body is never read: the answer is 401, whatever its size.
    assert client.post("/v1/jobs", json=big).status_code == 401


def test_predict_batch_cap_is_configurable(worker_settings, keys, owned_models):
    client = make_app(worker_settings, PREDICT_MAX_INPUTS=2, **keyed_config(keys)).test_client()
    model_id = owned_models["alice"].model_id
    response = client.post(f"/v1/models/{model_id}/predict", json=XOR_INPUTS,
                           headers=keys["alice"].headers)
    assert response.status_code == 413
    assert response.get_json()["type"] == "too_many_inputs"
    assert "MLPQ_PREDICT_MAX_INPUTS" in response.get_json()["message"]


def test_simultaneous_submissions_never_pass_the_cap(make_redis_server, tmp_path, keys):
    """20 submissions from one key at once, cap 4, real gunicorn (2 processes x 16 threads):
    exactly 4 jobs exist afterwards. Counting and creating are one Lua step in Redis."""
    server = make_redis_server()
    env = build_service_env(server.url, tmp_path / "artifacts", MLPQ_MAX_ACTIVE_JOBS_PER_KEY="4",
                            MLPQ_API_KEYS=keyed_config(keys)["API_KEYS"])
    gunicorn = GunicornServer(env, tmp_path / "gunicorn.log").start()
    try:
        start = threading.Barrier(20)

        def submit(index):
            with httpx.Client(base_url=gunicorn.url, timeout=60) as client:
                start.wait()
                return client.post("/v1/jobs", json={**XOR_JOB, "name": f"burst-{index}"},
                                   headers=keys["alice"].headers).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(submit, range(20)))
    finally:
        gunicorn.stop()
    assert sorted(codes) == [202] * 4 + [429] * 16
    store = JobStore.from_url(server.url)
    try:
        assert store.count_active("alice") == 4
        assert store.list(owner="alice")[1] == 4  # the refused ones left no record behind
    finally:
        store.close()
