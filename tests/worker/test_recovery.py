"""Recovery with real processes: a worker killed mid-job, an orphaned running job, a Redis flush."""

import signal

import numpy as np

from engine import datasets
from tests.support.events import event_log, status_events
from tests.support.specs import SOFTMAX_XOR_SPEC, mnist_spec
from tests.support.waiting import wait_for_job, wait_until
from worker.store.ids import model_id_for_job

MNIST = {"units": 64, "batch_size": 128, "seed": 1}  # this module's options for mnist_spec
# What the worker logs when Redis is away: a progress write skipped, a lease renewal retried.
OUTAGE_WARNINGS = ("progress not recorded, training on", "lease renewal failed; retrying")


def test_a_job_whose_worker_is_killed_resumes_from_its_checkpoint(isolated_service):
    service = isolated_service
    first = service.start_worker()
    job_id = service.submit(mnist_spec(5, **MNIST), dataset="mnist")
    wait_until(lambda: len(service.jobs.get(job_id)["metrics"]) >= 2, timeout=90,
               message="two epochs")
    first.kill()  # SIGKILL to the whole process group: no cleanup, no ack, lease left to expire
    before = service.jobs.get(job_id)
    assert before["status"] == "running"
    checkpointed = service.artifacts.load_checkpoint(job_id)
    assert checkpointed is not None and checkpointed["epoch"] >= 1

    service.start_worker()
    job = wait_for_job(service.jobs, job_id, timeout=90)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert [entry["epoch"] for entry in job["metrics"]] == [1, 2, 3, 4, 5]
    # the epochs before the checkpoint were not trained again: their entries are the originals
    resumed_from = checkpointed["epoch"]
    assert job["metrics"][:resumed_from] == before["metrics"][:resumed_from]
    # The sweeper requeues the orphan once its lease lapses (queued, then running again), unless
    # the redelivered message reaches the new worker first and takes it straight back (running
    # again from running is allowed once the lease has lapsed): both are one resumed attempt.
    assert status_events(event_log(service.jobs, job_id)) in (
        ["queued", "running", "queued", "running", "succeeded"],
        ["queued", "running", "running", "succeeded"])
    models = service.artifacts.list_models()
    assert [model["id"] for model in models] == [model_id_for_job(job_id)]
    assert not service.artifacts.checkpoint_dir(job_id).exists()


def test_an_orphaned_running_job_is_requeued_when_its_lease_expires(isolated_service):
    """A job left `running` by a worker that vanished (no message anywhere) still finishes."""
    service = isolated_service
    job = service.jobs.create(name="orphan", dataset="xor", spec=SOFTMAX_XOR_SPEC)
    assert service.jobs.acquire_lease(job["id"], "vanished-worker", 0.5)
    service.jobs.mark_running(job["id"], lease_token="vanished-worker")
    service.start_worker()
    job = wait_for_job(service.jobs, job["id"], timeout=60)
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert status_events(event_log(service.jobs, job["id"])) == [
        "queued", "running", "queued", "running", "succeeded"]


def test_models_survive_a_redis_flush(isolated_service):
    service = isolated_service
    service.start_worker()
    job_id = service.submit(SOFTMAX_XOR_SPEC, owner="alice", name="keep-me")
    wait_for_job(service.jobs, job_id, timeout=60)
    model_id = service.jobs.get(job_id)["model_id"]
    service.jobs.redis.flushall()
    assert service.jobs.get(job_id) is None
    model = service.artifacts.get_model(model_id)
    assert model["job_id"] == job_id and model["name"] == "keep-me" and model["owner"] == "alice"
    assert [m["id"] for m in service.artifacts.list_models(owner="alice")] == [model_id]
    (X, y), _ = datasets.load("xor")
    np.testing.assert_array_equal(service.artifacts.load_network(model_id).predict(X), y)


def test_a_killed_pool_process_is_redelivered_and_resumed(isolated_service):
    """Only the training child dies (like the OOM killer): task_reject_on_worker_lost requeues
    the message, the restarted child finds the dead child's lease, waits it out and resumes."""
    service = isolated_service
    worker = service.start_worker()
    job_id = service.submit(mnist_spec(4, **MNIST), dataset="mnist")
    wait_until(lambda: len(service.jobs.get(job_id)["metrics"]) >= 1, timeout=90)
    children = _children(worker.process.pid)
    assert children, "the prefork pool has a child process"
    for pid in children:
        _kill(pid)
    job = wait_for_job(service.jobs, job_id, timeout=90)
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert [entry["epoch"] for entry in job["metrics"]] == [1, 2, 3, 4]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def _kill(pid: int) -> None:
    import os

    os.kill(pid, signal.SIGKILL)


def test_a_job_survives_a_redis_restart(isolated_service):
    """Redis (append-only) goes away mid-training: the worker keeps training, rides out the
    outage, and the record, metrics and final status all land once Redis is back."""
    service = isolated_service
    worker = service.start_worker()
    job_id = service.submit(mnist_spec(5, **MNIST), dataset="mnist")
    wait_until(lambda: len(service.jobs.get(job_id)["metrics"]) >= 1, timeout=90)
    service.server.stop()
    # A progress write (every MLPQ_PROGRESS_INTERVAL) and a lease renewal (every third of
    # MLPQ_LEASE_SECONDS) both fail within one lease; ten leases leave room for a busy machine.
    wait_until(lambda: all(warning in worker.log_text() for warning in OUTAGE_WARNINGS),
               timeout=10 * service.settings.lease_seconds,
               message=f"the worker to log {OUTAGE_WARNINGS} while Redis is down")
    assert worker.running, worker.log_tail()
    service.server.start()
    job = wait_for_job(service.jobs, job_id, timeout=90)
    assert job["status"] == "succeeded", job["error"]
    assert [entry["epoch"] for entry in job["metrics"]] == [1, 2, 3, 4, 5]
    assert service.artifacts.get_model(job["model_id"]) is not None
