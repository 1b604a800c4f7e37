"""kill -9 of the worker in the middle of a sweep: every run still ends trained, each exactly once."""

import pytest

from tests.support.api import make_app, start_sweep
from tests.support.events import event_log, status_events
from tests.support.specs import SMALL_MNIST_MODEL
from tests.support.waiting import wait_for_sweep, wait_until
from worker.store.config import Settings
from worker.store.ids import model_id_for_job

EPOCHS = 6
BASE = {"dataset": "mnist", "model": SMALL_MNIST_MODEL,
        "training": {"epochs": EPOCHS, "batch_size": 256, "early_stopping": None}}


@pytest.mark.slow
def test_a_sweep_survives_kill_9_of_its_worker(isolated_service):
    service = isolated_service
    client = make_app(Settings.from_env(service.env)).test_client()
    sweep = start_sweep(client, {
        "base": BASE, "seeds": [0, 1],
        "parameters": {"training.optimizer.learning_rate": {"values": [1e-3, 1e-2]}}})
    worker = service.start_worker()

    def a_run_is_mid_training():
        jobs = [service.jobs.get(job_id) for job_id in sweep["jobs"]]
        return any(job["status"] == "running" and 1 <= len(job["metrics"]) < EPOCHS - 1
                   for job in jobs)

    wait_until(a_run_is_mid_training, timeout=120, interval=0.05,
               message="a sweep run to be part-way through training")
    worker.kill()  # SIGKILL to the process group: the run's lease lapses, its message is unacked
    service.start_worker()
    done = wait_for_sweep(client, sweep["id"], timeout=240)

    assert done["status"] == "succeeded", done["progress"]
    assert sorted(done["jobs"]) == sorted(sweep["jobs"]) and len(set(done["jobs"])) == 4
    resumed = 0
    for job_id in done["jobs"]:
        job = service.jobs.get(job_id)
        assert job["status"] == "succeeded" and job["model_id"] == model_id_for_job(job_id)
        assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, EPOCHS + 1))
        assert status_events(event_log(service.jobs, job_id))[-1] == "succeeded"
        resumed += job["attempts"] > 1
    assert resumed >= 1  # the killed run was taken up again, not started afresh as another job
    models = [model for model in service.artifacts.list_models() if model["job_id"] in done["jobs"]]
    assert len(models) == 4
