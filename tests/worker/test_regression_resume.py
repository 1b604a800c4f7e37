"""A regression job resumed by another worker reports in its target's units: the target scale is
not in the checkpoint, so every attempt sets it again (worker.runner)."""

from engine import datasets
from engine.tasks import TargetScale
from tests.support.waiting import wait_for_job, wait_until

SPEC = {"model": {"task": "regression", "init": "xavier", "layers": [
    {"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}]},
    "training": {"epochs": 150, "batch_size": 1, "seed": 0,
                 "optimizer": {"name": "sgd", "learning_rate": 0.002}}}


def test_a_resumed_regression_job_reports_in_the_targets_units(isolated_service):
    service = isolated_service
    first = service.start_worker()
    job_id = service.submit(SPEC, dataset="diabetes", name="diabetes-resumed")
    wait_until(lambda: (service.artifacts.load_checkpoint(job_id) or {}).get("epoch", 0) >= 2,
               timeout=90, message="a checkpoint after two epochs")
    first.kill()
    resumed_from = service.artifacts.load_checkpoint(job_id)["epoch"]
    assert resumed_from < SPEC["training"]["epochs"]
    service.start_worker()
    job = wait_for_job(service.jobs, job_id, timeout=120)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2 and len(job["metrics"]) == SPEC["training"]["epochs"]
    model = service.artifacts.get_model(job["model_id"])
    target = datasets.preprocessing_for("diabetes").target
    # In standardised units the error would be below 1; in the target's it is tens of points.
    assert 30 < model["evaluation"]["rmse"] < target.std and model["evaluation"]["r2"] > 0.3
    for entry in job["metrics"][resumed_from:]:  # the epochs the second attempt trained
        assert entry["rmse"] > 30, entry
    network = service.artifacts.load_network(job["model_id"])
    assert network.target_scale == TargetScale(target.mean, target.std)
