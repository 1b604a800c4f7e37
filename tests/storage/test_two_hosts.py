"""Two "hosts" sharing only Redis and the object store: separate local directories each.

Worker A trains a job; the API (a third directory) predicts with its model. A second job starts
on A, A is killed with SIGKILL mid-job, and worker B, which has never seen A's disk, resumes it
from the checkpoint in the object store; the API then predicts with that model too. Last, a table
uploaded to the API trains by id on B, which reads the dataset from the object store.
"""

import httpx
import numpy as np
import pytest

from engine import datasets
from tests.support.events import event_log, status_events
from tests.support.servers import GunicornServer
from tests.support.services import build_service_env
from tests.support.specs import XOR_JOB, mnist_spec
from tests.support.tables import HOUSE_COLUMNS, csv_bytes, houses
from tests.support.waiting import wait_for_job, wait_until
from worker.store.celery_app import create_celery_app, enqueue_training
from worker.store.config import Settings
from worker.store.jobs import JobStore
from worker.store.s3_artifacts import S3ArtifactStore


@pytest.mark.slow
def test_workers_and_api_on_separate_disks_share_models_through_s3(
        make_redis_server, make_celery_worker, s3_env, s3_url, tmp_path):
    redis_url = make_redis_server(appendonly=True).url
    env = {name: build_service_env(redis_url, tmp_path / name, MLPQ_ARTIFACT_URL=s3_url, **s3_env)
           for name in ("host-a", "host-b", "host-api")}
    celery = create_celery_app(Settings.from_env(env["host-api"]))  # queues on the private Redis
    jobs = JobStore.from_url(redis_url)
    api = GunicornServer(env["host-api"], tmp_path / "gunicorn.log").start()
    try:
        worker_a = make_celery_worker(env=env["host-a"])
        ready = httpx.get(api.url + "/readyz", timeout=30).json()
        assert ready["checks"]["artifacts"] == {"ok": True, "detail": f"models in {s3_url}"}
        # 1. A trains XOR; the API, on another disk, predicts with it.
        response = httpx.post(api.url + "/v1/jobs", json=XOR_JOB, timeout=30)
        assert response.status_code == 202, response.text
        xor = wait_for_job(jobs, response.json()["id"], timeout=120)
        assert xor["status"] == "succeeded", xor["error"]
        answer = httpx.post(f"{api.url}/v1/models/{xor['model_id']}/predict",
                            json={"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert [row["label"] for row in answer.json()["predictions"]] == [0, 1, 1, 0]
        # 2. A second job starts on A, which dies (SIGKILL) after a checkpoint.
        mnist = jobs.create(name="two-hosts", dataset="mnist", spec=mnist_spec(5))
        enqueue_training(celery, mnist["id"])
        s3 = S3ArtifactStore(s3_url, tmp_path / "test-process")
        wait_until(lambda: (s3.load_checkpoint(mnist["id"]) or {}).get("epoch", 0) >= 1,
                   timeout=120, interval=0.2, message="a checkpoint in the object store")
        worker_a.kill()
        resumed_from = s3.load_checkpoint(mnist["id"])["epoch"]
        # 3. B, with an empty disk of its own, resumes it from the object store.
        worker_b = make_celery_worker(env=env["host-b"])
        done = wait_for_job(jobs, mnist["id"], timeout=180, interval=0.2)
        assert done["status"] == "succeeded", done["error"]
        assert [entry["epoch"] for entry in done["metrics"]] == [1, 2, 3, 4, 5]
        assert done["attempts"] == 2
        assert status_events(event_log(jobs, mnist["id"]))[-1] == "succeeded"
        log_b = worker_b.log_path.read_text(errors="replace")
        assert "resuming after epoch " in log_b and mnist["id"] in log_b
        assert resumed_from >= 1
        # 4. The API predicts with the model B saved; A's and B's disks never met.
        (_, _), (X_test, y_test) = datasets.load("mnist", env["host-b"].get("MLPQ_DATA_DIR"))
        answer = httpx.post(f"{api.url}/v1/models/{done['model_id']}/predict",
                            json={"inputs": X_test[:50].tolist()}, timeout=60)
        assert answer.status_code == 200, answer.text
        labels = np.array([int(row["label"]) for row in answer.json()["predictions"]])
        assert (labels == y_test[:50]).mean() > 0.7
        assert not (tmp_path / "host-api" / "checkpoints").exists() or \
            not any((tmp_path / "host-api" / "checkpoints").iterdir())
        assert (tmp_path / "host-api" / "models" / done["model_id"]).is_dir()  # its local copy
        assert not (tmp_path / "host-a" / "models" / done["model_id"]).exists()
        # The object store holds both models and no checkpoint any more.
        assert {model["id"] for model in s3.list_models()} == {xor["model_id"], done["model_id"]}
        assert s3.load_checkpoint(mnist["id"]) is None
        # 5. A table uploaded to the API trains by id on B, which reads it from the object store.
        table = check_uploaded_table_trains_on_another_host(api.url, jobs)
        assert (tmp_path / "host-b" / "datasets" / table["dataset"]).is_dir()  # B's copy
    finally:
        api.stop()
        jobs.close()
        celery.close()


def check_uploaded_table_trains_on_another_host(url, jobs) -> dict:
    """Upload a regression CSV to the API, train a job naming it; the job record."""
    content = csv_bytes(HOUSE_COLUMNS, houses(80, seed=2))
    uploaded = httpx.post(url + "/v1/datasets", files={"file": ("houses.csv", content)},
                          timeout=60)
    assert uploaded.status_code == 201, uploaded.text
    dataset = uploaded.json()
    response = httpx.post(url + "/v1/jobs", timeout=30, json={
        "dataset": dataset["id"], "model": {"task": "regression", "layers": [
            {"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}]},
        "training": {"epochs": 40, "batch_size": 8,
                     "optimizer": {"name": "adam", "learning_rate": 0.01}}})
    assert response.status_code == 202, response.text
    job = wait_for_job(jobs, response.json()["id"], timeout=120)
    assert job["status"] == "succeeded", job["error"]
    assert job["dataset_sha256"] == dataset["sha256"]
    model = httpx.get(f"{url}/v1/models/{job['model_id']}", timeout=30).json()
    assert model["preprocessing"] == dataset["preprocessing"] and model["evaluation"]["r2"] > 0.5
    return job
