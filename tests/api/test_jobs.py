"""Jobs end to end through the API, a real Redis and a real Celery worker process."""

from __future__ import annotations

import json

import pytest

from api.core.services import services
from tests.support.api import submit
from tests.support.specs import LONG_MNIST_JOB, XOR_JOB
from tests.support.waiting import wait_for_job, wait_until

JOB_FIELDS = {"id", "name", "owner", "status", "dataset", "spec", "progress", "metrics", "model_id",
              "error", "cancel_requested", "attempts", "created_at", "started_at", "finished_at",
              "sweep_id", "stop_requested", "stop_reason", "plan", "dataset_name",
              "dataset_sha256", "task"}
PROGRESS_FIELDS = {"epoch", "epochs", "batch", "batches", "fraction", "eta_seconds"}


def test_xor_job_succeeds_with_full_accuracy(client, celery_worker):
    job = submit(client, XOR_JOB)
    assert set(job) == JOB_FIELDS
    assert job["status"] == "queued" and job["owner"] is None
    assert (job["dataset_name"], job["dataset_sha256"], job["task"]) == ("xor", None, "classification")

    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    assert done["error"] is None and done["model_id"] and done["stop_reason"] == "completed"
    assert len(done["metrics"]) == 300
    assert [entry["epoch"] for entry in done["metrics"]] == list(range(1, 301))
    assert done["metrics"][-1]["accuracy"] == 1.0
    assert done["progress"]["fraction"] == pytest.approx(1.0)
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]

    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    assert model["evaluation"]["accuracy"] == 1.0
    assert model["job_id"] == job["id"]


@pytest.mark.slow
def test_one_epoch_mnist_job_reaches_90_percent(client, celery_worker):
    job = submit(client, {
        "name": "mnist-1-epoch", "dataset": "mnist",
        "model": {"layers": [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
        "training": {"epochs": 1, "batch_size": 128, "validation_split": 0.1},
    })
    done = wait_for_job(client, job["id"], timeout=240)
    assert done["status"] == "succeeded", done["error"]
    [epoch] = done["metrics"]
    assert epoch["epoch"] == 1
    assert set(epoch) >= {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                          "seconds", "samples_per_second"}
    assert epoch["val_accuracy"] >= 0.9 and epoch["accuracy"] >= 0.85
    assert done["progress"]["batches"] == -(-54000 // 128)  # 10% held out for validation

    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    evaluation = model["evaluation"]
    assert evaluation["accuracy"] >= 0.9
    assert len(evaluation["confusion_matrix"]) == 10
    assert sum(map(sum, evaluation["confusion_matrix"])) == 10000
    assert len(evaluation["precision"]) == len(evaluation["recall"]) == 10
    assert model["metrics"] == done["metrics"]
    assert model["spec"] == done["spec"]


def test_cancel_a_queued_job_it_never_starts(idle_client, idle_settings, make_celery_worker):
    job = submit(idle_client, XOR_JOB)
    response = idle_client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]

    # A worker on this Redis now receives the message and must drop it.
    env = {"REDIS_URL": idle_settings.redis_url, "MLPQ_ARTIFACT_DIR": str(idle_settings.artifact_dir)}
    worker = make_celery_worker(env_overrides=env)
    store = services(idle_client.application).jobs
    wait_until(lambda: store.queue_depth() == 0, timeout=30, message="the worker to take the message")
    # The worker runs one task at a time, so once a job sent after it has finished, the
    # cancelled job's message has been handled to the end (no sleeping on a guess).
    assert wait_for_job(idle_client, submit(idle_client, XOR_JOB)["id"])["status"] == "succeeded"
    after = idle_client.get(f"/v1/jobs/{job['id']}").get_json()
    assert after["status"] == "cancelled"
    assert after["started_at"] is None and after["metrics"] == [] and after["model_id"] is None
    assert worker.running


def test_cancel_a_running_job_stops_within_its_epoch(client, celery_worker):
    job = submit(client, LONG_MNIST_JOB)
    running = wait_for_job(client, job["id"], {"running"}, timeout=120,
                           predicate=lambda j: (j["progress"] or {}).get("batch", 0) > 0)
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202
    assert response.get_json()["cancel_requested"] is True
    done = wait_for_job(client, job["id"], timeout=30)
    assert done["status"] == "cancelled"
    assert done["model_id"] is None
    # Cancel is checked between batches (every 0.1 s), so training stops inside the epoch it
    # was in, or the next if that one ended meanwhile; how long that takes is bench territory.
    assert done["progress"]["epoch"] <= running["progress"]["epoch"] + 1
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 409


def test_list_is_newest_first_filtered_and_paginated(idle_client):
    ids = [submit(idle_client, {**XOR_JOB, "name": f"job-{index}"})["id"] for index in range(5)]
    idle_client.post(f"/v1/jobs/{ids[1]}/cancel")

    response = idle_client.get("/v1/jobs?page_size=2")
    assert response.status_code == 200
    assert [job["id"] for job in response.get_json()] == ids[::-1][:2]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination == {"total": 5, "total_pages": 3, "first_page": 1, "last_page": 3,
                          "page": 1, "next_page": 2}
    last_page = idle_client.get("/v1/jobs?page_size=2&page=3").get_json()
    assert [job["id"] for job in last_page] == [ids[0]]

    cancelled = idle_client.get("/v1/jobs?status=cancelled").get_json()
    assert [job["id"] for job in cancelled] == [ids[1]]
    queued = idle_client.get("/v1/jobs?status=queued")
    assert json.loads(queued.headers["X-Pagination"])["total"] == 4
    assert idle_client.get("/v1/jobs?status=failed").get_json() == []
