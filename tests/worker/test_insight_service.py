"""Seeing inside a job, with a real `celery -A worker worker` and Redis: per-layer health in each
metrics entry and epoch event, the worker's measured speed, predicting from the latest
checkpoint while it trains, stop-and-keep, and a stop reason on every finished job."""

import numpy as np
import pytest

from engine import datasets
from engine.diagnostics import FIELDS
from tests.support.specs import SOFTMAX_XOR_SPEC, mnist_spec, with_training
from tests.support.waiting import wait_for_job, wait_until
from worker.store.celery_app import enqueue_training
from worker.store.ids import model_id_for_job

MNIST_SPEC = mnist_spec(200, units=32, batch_size=128, seed=1)
XOR_SPEC = with_training(SOFTMAX_XOR_SPEC, epochs=30)


@pytest.fixture
def submit(job_store, celery_app):
    def submit(spec, dataset="xor"):
        job = job_store.create(name="insight", dataset=dataset, spec=spec)
        enqueue_training(celery_app, job["id"])
        return job["id"]
    return submit


def test_the_worker_records_its_measured_speed_at_start(celery_worker, job_store):
    record = wait_until(lambda: next((r for r in job_store.worker_speeds()
                                      if r["worker"] == celery_worker.name), None),
                        timeout=60, message="the worker's speed probe")
    assert record["flops_per_second"] > 0 and record["seconds_per_batch"] > 0
    assert record["blas_threads"] == 1 and record["measured_at"].endswith("Z")
    assert job_store.worker_speed() is not None


def test_a_stopped_job_keeps_its_model_after_live_health_and_checkpoint_predictions(
        celery_worker, submit, job_store, artifact_store):
    job_id = submit(MNIST_SPEC, dataset="mnist")
    job = wait_until(lambda: len((job := job_store.get(job_id))["metrics"]) >= 2 and job,
                     timeout=180, message="two epochs")
    assert job["status"] == "running"

    # per-layer health in every metrics entry, as the engine measured it
    for entry in job["metrics"]:
        relu, softmax = entry["layers"]
        assert set(relu) == set(FIELDS) and (relu["layer"], relu["units"]) == (0, 32)
        assert relu["weight_norm"] > 0 and relu["grad_norm"] > 0 and relu["update_ratio"] > 0
        assert 0 <= relu["dead_fraction"] <= 1 and relu["saturated_fraction"] is None
        assert softmax["activation"] == "softmax" and softmax["dead_fraction"] is None

    # the latest checkpoint answers predictions while the job trains, naming its epoch
    net, epoch = wait_until(lambda: artifact_store.load_checkpoint_network(job_id), timeout=30,
                            message="a checkpoint")
    assert 1 <= epoch <= len(job_store.get(job_id)["metrics"])
    _, (X_test, y_test) = datasets.load("mnist")
    assert (net.predict(X_test[:500]) == y_test[:500]).mean() > 0.7

    assert job_store.request_stop(job_id)["stop_requested"] is True
    done = wait_for_job(job_store, job_id)
    assert done["status"] == "succeeded" and done["stop_reason"] == "stopped", done["error"]
    assert done["model_id"] == model_id_for_job(job_id)
    assert 2 <= len(done["metrics"]) < 200 and done["progress"]["fraction"] < 1
    model = artifact_store.get_model(done["model_id"])
    assert model["stop_reason"] == "stopped" and model["evaluation"]["accuracy"] > 0.8
    assert len(model["metrics"]) == len(done["metrics"])
    assert not artifact_store.checkpoint_dir(job_id).exists()
    assert artifact_store.load_checkpoint_network(job_id) is None

    epochs = [data for _id, name, data in job_store.events(job_id) if name == "epoch"]
    assert [e["epoch"] for e in epochs] == [e["epoch"] for e in done["metrics"]]
    assert all(len(e["layers"]) == 2 for e in epochs)
    final = [data for _id, name, data in job_store.events(job_id) if name == "status"][-1]
    assert final["status"] == "succeeded" and final["stop_reason"] == "stopped"


def test_completed_and_early_stopped_jobs_say_so(celery_worker, submit, job_store, artifact_store):
    completed = submit(XOR_SPEC)
    # min_delta larger than any loss: the second epoch cannot improve, so patience 0 stops it
    early = submit(with_training(XOR_SPEC, early_stopping={
        "monitor": "loss", "patience": 0, "min_delta": 100.0}))
    for job_id, reason, epochs in [(completed, "completed", 30), (early, "early_stopping", 2)]:
        job = wait_for_job(job_store, job_id)
        assert job["status"] == "succeeded", job["error"]
        assert job["stop_reason"] == reason and len(job["metrics"]) == epochs
        assert artifact_store.get_model(job["model_id"])["stop_reason"] == reason
        assert job["progress"]["fraction"] == 1.0
        assert np.isfinite(job["metrics"][-1]["layers"][0]["activation_std"])
