"""POST /v1/jobs/{id}/stop: stop-and-keep on a real worker; the model is saved and evaluated."""

from __future__ import annotations

from engine import load as load_network
from tests.support.api import submit
from tests.support.specs import SLOW_MNIST_JOB
from tests.support.waiting import wait_for_job
from worker.store.ids import new_id


def test_stop_keeps_a_running_job_as_a_model(client, celery_worker, artifact_dir, mnist_test):
    job = submit(client, {**SLOW_MNIST_JOB, "name": "stop-and-keep"})
    wait_for_job(client, job["id"], {"running"}, timeout=120,
                 predicate=lambda j: len(j["metrics"]) >= 2)
    response = client.post(f"/v1/jobs/{job['id']}/stop")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["stop_requested"] is True
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded" and done["stop_reason"] == "stopped"
    assert 2 <= len(done["metrics"]) < 40
    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    assert model["stop_reason"] == "stopped"
    # evaluated as usual: the saved weights give the recorded test accuracy
    X_test, y_test = mnist_test
    network = load_network(artifact_dir / "models" / done["model_id"])
    assert network.evaluate(X_test, y_test)["accuracy"] == model["evaluation"]["accuracy"]
    card = client.get(f"/v1/models/{done['model_id']}/card").get_data(as_text=True)
    assert "stopped by a user" in card
    # a second stop, or a cancel, finds a finished job
    assert client.post(f"/v1/jobs/{job['id']}/stop").status_code == 409


def test_stop_refuses_queued_finished_and_unknown_jobs(idle_client, client, trained_model):
    queued = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 1, "activation": "sigmoid"}],
                                    "loss": "binary_cross_entropy"}}).get_json()
    response = idle_client.post(f"/v1/jobs/{queued['id']}/stop")
    assert response.status_code == 409 and "cancel" in response.get_json()["message"]
    assert client.post(f"/v1/jobs/{trained_model.job_id}/stop").status_code == 409
    response = client.post(f"/v1/jobs/{new_id()}/stop")
    assert response.status_code == 404 and response.get_json()["code"] == 404
