"""The training service end to end: JobStore + enqueue_training + a real `celery -A worker worker`."""


import numpy as np
import pytest

from engine import datasets
from tests.support.specs import SOFTMAX_XOR_SPEC, mnist_spec
from tests.support.waiting import wait_for_job, wait_until
from worker.store.celery_app import enqueue_training
from worker.store.ids import model_id_for_job
from worker.store.job_scripts import TERMINAL_STATUSES

MNIST = {"units": 32, "batch_size": 128, "seed": 1}  # this module's options for mnist_spec


@pytest.fixture
def submit(job_store, celery_app):
    def submit(spec, dataset="xor", name="test-job", **fields):
        job = job_store.create(name=name, dataset=dataset, spec=spec, **fields)
        enqueue_training(celery_app, job["id"])
        return job["id"]
    return submit


def test_xor_job_succeeds_with_a_perfect_model_on_disk(celery_worker, submit, job_store,
                                                       artifact_store):
    job_id = submit(SOFTMAX_XOR_SPEC, owner="alice")
    job = wait_for_job(job_store, job_id, timeout=60)
    assert job["status"] == "succeeded", job["error"]
    assert job["model_id"] == model_id_for_job(job_id)
    assert job["progress"]["fraction"] == 1.0 and job["progress"]["epoch"] == 300
    assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, 301))
    assert job["started_at"] <= job["finished_at"] and job["attempts"] == 1

    model = artifact_store.get_model(job["model_id"])
    assert model["job_id"] == job_id and model["owner"] == "alice" and model["dataset"] == "xor"
    assert model["evaluation"]["accuracy"] == 1.0
    assert model["evaluation"]["confusion_matrix"] == [[2, 0], [0, 2]]
    assert model["size_bytes"] > 0 and len(model["metrics"]) == 300
    (X, y), _ = datasets.load("xor")
    np.testing.assert_array_equal(artifact_store.load_network(job["model_id"]).predict(X), y)
    assert not artifact_store.checkpoint_dir(job_id).exists()


def test_metrics_and_progress_are_recorded_while_the_job_runs(celery_worker, submit, job_store):
    job_id = submit(mnist_spec(4, **MNIST), dataset="mnist")
    seen = []  # (status, number of metrics entries, progress fraction) while it trains

    def finished():
        job = job_store.get(job_id)
        seen.append((job["status"], len(job["metrics"]), job["progress"]["fraction"]))
        return job["status"] in TERMINAL_STATUSES and job

    job = wait_until(finished, timeout=120, interval=0.02)
    assert job["status"] == "succeeded", job["error"]
    live_counts = {count for status, count, _ in seen if status == "running"}
    assert len(live_counts & {1, 2, 3}) >= 2, f"metrics did not grow live: {sorted(live_counts)}"
    fractions = [fraction for status, _, fraction in seen if status == "running"]
    assert any(0 < fraction < 1 for fraction in fractions)
    assert fractions == sorted(fractions)  # progress never goes backwards
    assert job["metrics"][-1]["accuracy"] > 0.85

    names = [name for _id, name, _data in job_store.events(job_id)]
    assert names.count("epoch") == 4 and names[-1] == "status" and "progress" in names


def test_cancel_a_running_job_stops_within_its_epoch(celery_worker, submit, job_store,
                                                     artifact_store):
    job_id = submit(mnist_spec(50, **MNIST | {"units": 64}), dataset="mnist")
    running = wait_until(lambda: (j := job_store.get(job_id))["progress"]["batch"] > 0 and j,
                         timeout=60, message="training to start")
    assert job_store.request_cancel(job_id)["status"] == "running"
    job = wait_for_job(job_store, job_id, timeout=30)
    assert job["status"] == "cancelled"
    # Cancel is checked between batches, so training ends in the epoch it was in (or the next,
    # if that one ended meanwhile), not after the 50 asked for.
    assert job["progress"]["epoch"] <= running["progress"]["epoch"] + 1
    assert job["model_id"] is None
    assert artifact_store.get_model(model_id_for_job(job_id)) is None
    assert not artifact_store.checkpoint_dir(job_id).exists()


def test_a_cancelled_queued_job_never_starts(celery_worker, submit, job_store):
    blocker = submit(mnist_spec(50, **MNIST), dataset="mnist")  # keeps the only process busy
    wait_for_job(job_store, blocker, "running", timeout=60)
    queued = submit(SOFTMAX_XOR_SPEC)
    assert job_store.request_cancel(queued)["status"] == "cancelled"
    job_store.request_cancel(blocker)
    sentinel = submit(SOFTMAX_XOR_SPEC)  # FIFO: once it finished, the cancelled job's message was read
    assert wait_for_job(job_store, sentinel, "succeeded", timeout=60)["status"] == "succeeded"
    job = job_store.get(queued)
    assert job["status"] == "cancelled" and job["started_at"] is None and job["attempts"] == 0


def test_a_redelivered_message_for_a_finished_job_does_nothing(celery_worker, celery_app, submit,
                                                               job_store, artifact_store):
    job_id = submit(SOFTMAX_XOR_SPEC)
    job = wait_for_job(job_store, job_id, "succeeded", timeout=60)
    model_before = artifact_store.get_model(job["model_id"])
    events_before = list(job_store.events(job_id))
    enqueue_training(celery_app, job_id)
    enqueue_training(celery_app, job_id)
    sentinel = submit(SOFTMAX_XOR_SPEC)
    wait_for_job(job_store, sentinel, "succeeded", timeout=60)
    assert job_store.get(job_id) == job
    assert list(job_store.events(job_id)) == events_before
    assert artifact_store.get_model(job["model_id"]) == model_before


def test_a_duplicate_message_for_a_running_job_does_not_train_it_in_parallel(
        celery_worker, make_celery_worker, celery_app, submit, job_store, artifact_store):
    make_celery_worker()  # a second process that is free to take the copy
    job_id = submit(mnist_spec(6, **MNIST), dataset="mnist")
    wait_for_job(job_store, job_id, "running", timeout=60)
    enqueue_training(celery_app, job_id)
    job = wait_for_job(job_store, job_id, timeout=120)
    # attempts counts starts: 1 means the copy met the live lease and waited (a Celery retry)
    # instead of training the job a second time
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert [entry["epoch"] for entry in job["metrics"]] == [1, 2, 3, 4, 5, 6]
    statuses = [data["status"] for _id, name, data in job_store.events(job_id) if name == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    models = [m for m in artifact_store.list_models() if m["job_id"] == job_id]
    assert [m["id"] for m in models] == [job["model_id"]]


@pytest.mark.parametrize(("dataset", "spec", "error_type"), [
    ("no-such-data", SOFTMAX_XOR_SPEC, "dataset_unavailable"),
    ("xor", {"model": {"layers": [{"units": 3, "activation": "softmax"},
                                  {"units": 2, "activation": "softmax"}]}, "training": {}},
     "invalid_spec"),
])
def test_jobs_that_cannot_train_fail_with_a_stable_error_type(celery_worker, submit, job_store,
                                                              dataset, spec, error_type):
    job_id = submit(spec, dataset=dataset)
    job = wait_for_job(job_store, job_id, timeout=60)
    assert job["status"] == "failed" and job["error"]["type"] == error_type
    assert job["error"]["message"] and job["model_id"] is None
