"""POST /v1/jobs/{id}/predict: a running job answers with its latest checkpoint (real worker)."""

from __future__ import annotations

import time

import numpy as np

from engine import Network
from tests.support.api import submit
from tests.support.specs import SLOW_MNIST_JOB
from tests.support.waiting import wait_for_job
from worker.store.ids import new_id


def oracle(artifact_store, job_id):
    """The job's checkpoint as the engine loads it: (epoch, Network)."""
    checkpoint = artifact_store.load_checkpoint(job_id)
    network = Network(checkpoint["spec"], checkpoint["input_size"])
    network.params = checkpoint["params"]
    return checkpoint["epoch"], network


def test_a_running_job_answers_with_its_latest_checkpoint(client, celery_worker, artifact_store,
                                                          mnist_test):
    X_test, y_test = mnist_test
    samples = X_test[:20]
    job = submit(client, SLOW_MNIST_JOB)
    try:
        wait_for_job(client, job["id"], {"running"}, timeout=120,
                     predicate=lambda j: len(j["metrics"]) >= 1)
        for _attempt in range(50):  # the worker may write a newer checkpoint meanwhile
            response = client.post(f"/v1/jobs/{job['id']}/predict", json={"inputs": samples.tolist()})
            if response.status_code == 409 and response.get_json()["type"] == "no_checkpoint":
                # an epoch's metrics are published just before its checkpoint is written
                time.sleep(0.1)
                continue
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            epoch, network = oracle(artifact_store, job["id"])
            if body["epoch"] == epoch:
                break
        assert body["epoch"] == epoch >= 1 and body["weights"] == "checkpoint"
        assert body["job_id"] == job["id"] and body["model_id"] is None
        assert body["status"] == "running" and body["epochs"] == 40
        served = np.array([p["probabilities"] for p in body["predictions"]])
        np.testing.assert_allclose(served, network.predict_proba(samples), rtol=1e-5, atol=1e-7)
        # the answer follows training: a later epoch's weights once there is one
        wait_for_job(client, job["id"], {"running"}, timeout=120,
                     predicate=lambda j: len(j["metrics"]) > epoch + 1)
        later = client.post(f"/v1/jobs/{job['id']}/predict?explain=true",
                            json={"inputs": samples[:1].tolist()}).get_json()
        assert later["epoch"] > epoch and len(later["predictions"][0]["saliency"]) == 784
    finally:
        client.post(f"/v1/jobs/{job['id']}/cancel")
    done = wait_for_job(client, job["id"])
    assert done["status"] == "cancelled"
    response = client.post(f"/v1/jobs/{job['id']}/predict", json={"inputs": samples[:1].tolist()})
    assert response.status_code == 409 and "cancelled" in response.get_json()["message"]


def test_a_succeeded_job_answers_with_its_model(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    body = client.post(f"/v1/jobs/{trained_model.job_id}/predict",
                       json={"inputs": X_test[:5].tolist()}).get_json()
    assert body["weights"] == "model" and body["model_id"] == trained_model.model_id
    assert body["epoch"] == body["epochs"] == 2 and body["status"] == "succeeded"
    model = client.post(f"/v1/models/{trained_model.model_id}/predict",
                        json={"inputs": X_test[:5].tolist()}).get_json()
    assert body["predictions"] == model["predictions"]


def test_a_queued_job_has_no_checkpoint(idle_client):
    job = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 1, "activation": "sigmoid"}],
                                    "loss": "binary_cross_entropy"}}).get_json()
    response = idle_client.post(f"/v1/jobs/{job['id']}/predict", json={"inputs": [[0, 1]]})
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "no_checkpoint" and "job_id" in body["errors"]
    assert "queued" in body["message"]


def test_unknown_job_is_404_and_bad_bodies_are_refused(client, trained_model):
    response = client.post(f"/v1/jobs/{new_id()}/predict", json={"inputs": [[0.0] * 784]})
    assert response.status_code == 404 and response.get_json()["type"] == "job_not_found"
    response = client.post(f"/v1/jobs/{trained_model.job_id}/predict", json={"inputs": [[0.0] * 3]})
    assert response.status_code == 422 and response.get_json()["type"] == "invalid_shape"
    response = client.post(f"/v1/jobs/{trained_model.job_id}/predict?top_k=0",
                           json={"inputs": [[0.0] * 784]})
    assert response.status_code == 422 and "top_k" in response.get_json()["errors"]
