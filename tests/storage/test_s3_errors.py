"""Object-store outages: a clear 503 from the API, a `storage_unavailable` job, nothing corrupted."""

from dataclasses import replace

from mlpq.redis_server import free_port
from tests.support.api import make_app
from tests.support.specs import XOR_JOB
from worker.runner import Outcome, run_training_job
from worker.store.config import Settings
from worker.store.jobs import JobStore


def test_the_api_answers_503_when_the_object_store_is_unreachable(idle_settings, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = make_app(replace(idle_settings, artifact_url="s3://bucket/mlpq")).test_client()
    response = client.get("/v1/models")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == 503 and "model store" in body["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "artifacts" in ready.get_json()["errors"]
    # Jobs live in Redis and are unaffected.
    assert client.post("/v1/jobs", json=XOR_JOB).status_code == 202


def test_a_job_whose_bucket_is_missing_fails_as_storage_unavailable(redis_url, s3_env, tmp_path):
    settings = replace(Settings.from_env({"REDIS_URL": redis_url,
                                          "MLPQ_ARTIFACT_DIR": str(tmp_path)}),
                       artifact_url="s3://no-such-bucket-here/mlpq", checkpoint_seconds=0)
    store = JobStore.from_url(redis_url)
    try:
        job = store.create(name="no-bucket", dataset="xor", spec={
            "model": XOR_JOB["model"], "training": {**XOR_JOB["training"], "epochs": 5}})
        assert run_training_job(job["id"], settings=settings, store=store) is Outcome.FAILED
        failed = store.get(job["id"])
        assert failed["error"]["type"] == "storage_unavailable"
        assert "NoSuchBucket" in failed["error"]["message"]
    finally:
        store.close()


def test_a_job_whose_object_store_is_unreachable_fails_as_storage_unavailable(redis_url, tmp_path,
                                                                              monkeypatch):
    """The first thing a job asks the store (did an earlier attempt save the model?) fails too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = replace(Settings.from_env({"REDIS_URL": redis_url,
                                          "MLPQ_ARTIFACT_DIR": str(tmp_path)}),
                       artifact_url="s3://bucket/mlpq")
    store = JobStore.from_url(redis_url)
    try:
        job = store.create(name="no-store", dataset="xor", spec={
            "model": XOR_JOB["model"], "training": XOR_JOB["training"]})
        assert run_training_job(job["id"], settings=settings, store=store) is Outcome.FAILED
        failed = store.get(job["id"])
        assert failed["status"] == "failed" and failed["error"]["type"] == "storage_unavailable"
    finally:
        store.close()
