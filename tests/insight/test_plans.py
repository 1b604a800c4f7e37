"""POST /v1/plans and `job.plan`: counts by hand, time from the speed the real worker measured."""

from __future__ import annotations

import pytest

from engine.flops import job_flops
from tests.support.waiting import wait_until

MNIST_BODY = {
    "dataset": "mnist",
    "model": {"layers": [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 3, "batch_size": 100, "validation_split": 0.1},
}
# Several of the textbook's mistakes at once.
TROUBLED_BODY = {
    "dataset": "mnist",
    "model": {"layers": [{"units": 30, "activation": "sigmoid"}, {"units": 30, "activation": "sigmoid"},
                         {"units": 30, "activation": "sigmoid"}, {"units": 10, "activation": "sigmoid"}],
              "loss": "mse", "init": "normal"},
    "training": {"epochs": 1, "optimizer": {"name": "sgd", "learning_rate": 3.0}},
}


def plan(client, body):
    response = client.post("/v1/plans", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_plan_counts_match_a_hand_count(client, celery_worker, job_store):
    queued_before = job_store.queue_depth()
    jobs_before = client.get("/v1/jobs").headers["X-Pagination"]
    # the worker measures its speed once it is ready, off the main path: wait for it
    wait_until(job_store.worker_speed, 120, message="the worker never recorded its speed")
    got = plan(client, MNIST_BODY)
    assert [layer["parameters"] for layer in got["layers"]] == [784 * 128 + 128, 128 * 10 + 10]
    assert got["parameters"] == 101_770
    assert got["samples"] == {"total": 60000, "training": 54000, "validation": 6000}
    assert got["batches_per_epoch"] == 540 and got["epochs"] == 3
    layers = [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}]
    assert got["flops"]["per_epoch"] == job_flops(layers, 784, 54000, 1)
    assert got["flops"]["per_job"] == 3 * got["flops"]["per_epoch"]
    memory = got["memory"]
    assert memory["weights_bytes"] == 101_770 * 4
    assert memory["optimizer_state_bytes"] == 2 * 101_770 * 4  # adam: m and v
    # time from the worker's own measurement, which the plan names
    speed = job_store.worker_speed()
    assert speed is not None and got["time"]["speed"] == speed
    expected = (got["flops"]["per_epoch"] / speed["flops_per_second"]
                + 540 * speed["seconds_per_batch"])
    assert got["time"]["seconds_per_epoch"] == pytest.approx(expected)
    assert got["time"]["seconds_per_job"] == pytest.approx(3 * expected)
    # nothing was queued or stored
    assert job_store.queue_depth() == queued_before
    assert client.get("/v1/jobs").headers["X-Pagination"] == jobs_before


def test_teaching_warnings(client):
    warnings = {warning["id"]: warning for warning in plan(client, TROUBLED_BODY)["warnings"]}
    assert {"vanishing_gradients", "saturating_output_with_mse",
            "normal_init_with_sigmoid"} <= set(warnings)
    for warning in warnings.values():
        assert warning["reason"] and warning["suggestion"] and warning["title"]
    assert plan(client, MNIST_BODY)["warnings"] == []


def test_every_job_stores_its_plan(idle_client):
    response = idle_client.post("/v1/jobs", json=MNIST_BODY)
    assert response.status_code == 202
    job = response.get_json()
    answered = idle_client.post("/v1/plans", json=MNIST_BODY).get_json()
    assert job["plan"]["parameters"] == answered["parameters"] == 101_770
    assert job["plan"]["flops"] == answered["flops"] and job["plan"]["layers"] == answered["layers"]
    assert idle_client.get(f"/v1/jobs/{job['id']}").get_json()["plan"] == job["plan"]


def test_without_a_measured_worker_the_plan_has_no_time(idle_client):
    got = plan(idle_client, MNIST_BODY)  # a Redis no worker has ever used
    assert got["time"]["seconds_per_epoch"] is None and got["time"]["speed"] is None
    assert "no worker speed" in got["time"]["note"]


@pytest.mark.parametrize("change, field", [
    ({"training": {"epochs": 100000}}, "training.epochs"),  # over the job work limit
    ({"dataset": "cifar"}, "dataset"),
    ({"model": {"layers": [{"units": 0, "activation": "relu"}]}}, "model.layers[0].units"),
    ({"model": {"layers": [{"units": 7, "activation": "softmax"}]}}, "model.layers[0].units"),
    ({"training": {"batch_size": "big"}}, "training.batch_size"),
])
def test_bad_plans_name_the_field(client, change, field):
    response = client.post("/v1/plans", json={**MNIST_BODY, **change})
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_a_spec_that_names_no_task_takes_the_datasets(idle_client):
    """diabetes is a regression table: a job that does not say so is planned as regression (mse);
    saying classification on it is refused, naming model.task."""
    layers = [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}]
    got = plan(idle_client, {"dataset": "diabetes", "model": {"layers": layers}})
    assert [layer["activation"] for layer in got["layers"]] == ["tanh", "identity"]
    refused = idle_client.post("/v1/plans", json={
        "dataset": "diabetes", "model": {"layers": layers, "task": "classification"}})
    assert refused.status_code == 422 and "model.task" in refused.get_json()["errors"]
    job = idle_client.post("/v1/jobs", json={"dataset": "diabetes", "model": {"layers": layers}})
    assert job.status_code == 202, job.get_json()
    assert (job.get_json()["spec"]["model"]["task"], job.get_json()["spec"]["model"]["loss"]) == (
        "regression", "mse")
