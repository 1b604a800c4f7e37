"""Redis (append-only) crashes and comes back mid-job: the job survives, API and worker reconnect."""

import time

import httpx
import pytest

from tests.support.events import JobSampler, event_log, status_events
from tests.support.servers import api_env
from tests.support.services import build_service_env
from tests.support.specs import XOR_JOB, mnist_job, mnist_spec, with_training
from tests.support.waiting import wait_for_job, wait_until
from worker.store.job_scripts import TERMINAL_STATUSES

AFTER_THE_RESTART = {**with_training(XOR_JOB, epochs=200), "name": "after-the-restart"}


@pytest.fixture
def crashable_stack(make_redis_server, make_celery_worker, start_api, tmp_path):
    """Redis with every write fsynced before it is acknowledged, one worker, gunicorn."""
    from worker.store.jobs import JobStore

    server = make_redis_server(appendonly=True, appendfsync="always")
    env = build_service_env(server.url, tmp_path / "artifacts")
    make_celery_worker(env=env)
    api = start_api(api_env(env))
    store = JobStore.from_url(server.url)
    yield server, api, store
    store.close()


def poll(client, path):
    """GET that tolerates the outage: a 503 in the error shape is the only acceptable failure."""
    response = client.get(path)
    if response.status_code == 503:
        body = response.json()
        assert body["code"] == 503 and body["message"], body
        return None
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
@pytest.mark.parametrize("outage_seconds", [1.0, 5.0], ids=["shorter-than-lease", "longer-than-lease"])
def test_a_redis_crash_mid_job_is_survived(crashable_stack, outage_seconds):
    server, api, store = crashable_stack
    with httpx.Client(base_url=api.url, timeout=10) as client:
        created = client.post("/v1/jobs", json=mnist_job(8, name="survives-redis"))
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        wait_until(lambda: len((poll(client, f"/v1/jobs/{job_id}") or {"metrics": []})["metrics"]) >= 2,
                   timeout=90, message="two epochs before the crash")
        with JobSampler(store, job_id) as sampler:
            server.kill()  # SIGKILL: only what was fsynced survives, and that is every acknowledged write
            outage_ends = time.monotonic() + outage_seconds
            statuses = set()
            while time.monotonic() < outage_ends:
                for path in (f"/v1/jobs/{job_id}", "/readyz"):
                    statuses.add(client.get(path).status_code)
                time.sleep(0.2)
            assert statuses == {503}, f"while Redis is down the API answers 503, got {statuses}"
            server.start()
            job = wait_until(lambda: (j := poll(client, f"/v1/jobs/{job_id}")) and j["status"] in TERMINAL_STATUSES and j,
                             timeout=120, message="the job to finish after Redis came back")

        assert job["status"] == "succeeded", job["error"]
        assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, 9))
        counts = [sample.metrics for sample in sampler.samples]
        assert counts == sorted(counts), "recorded epochs never went backwards"
        model = client.get(f"/v1/models/{job['model_id']}")
        assert model.status_code == 200 and model.json()["job_id"] == job_id

        # Both sides reconnected: readiness sees the worker again and a new job runs end to end.
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=60,
                   message="/readyz to find the worker through the restarted Redis")
        second = client.post("/v1/jobs", json=AFTER_THE_RESTART)
        assert second.status_code == 202, second.text
        done = wait_until(lambda: (j := poll(client, f"/v1/jobs/{second.json()['id']}")) and
                          j["status"] in TERMINAL_STATUSES and j, timeout=60, message="a job submitted after")
        assert done["status"] == "succeeded", done["error"]
    assert "Traceback" not in api.log_text(), api.log_text()[-3000:]


@pytest.mark.slow
def test_a_job_requeued_while_its_worker_was_cut_off_is_resumed_not_finished_with_holes(isolated_service):
    """Redis down longer than the lease: on its return the sweeper may requeue the job before
    the training worker renews. That worker must then give the job up (the requeued delivery
    resumes it from its checkpoint) rather than take the lease back and train on under a
    `queued` status, whose progress and metrics writes are refused. Regression: the job used
    to end `succeeded` with only the epochs recorded before the requeue."""
    from worker.sweeper import requeue_orphaned_jobs

    service = isolated_service
    service.start_worker()
    job_id = service.submit(mnist_spec(8), dataset="mnist", name="cut-off")
    wait_until(lambda: len(service.jobs.get(job_id)["metrics"]) >= 2, timeout=90)

    def lease_lapses_then_sweep():
        # What Redis coming back without the expired lease looks like to the sweeper.
        holder = service.jobs.lease_holder(job_id)
        return holder and service.jobs.release_lease(job_id, holder) and \
            requeue_orphaned_jobs(service.celery, service.jobs)

    wait_until(lease_lapses_then_sweep, timeout=10, message="a requeue between two lease renewals")
    job = wait_for_job(service.jobs, job_id, timeout=90)
    assert job["status"] == "succeeded", job["error"]
    assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, 9))
    assert status_events(event_log(service.jobs, job_id)) == [
        "queued", "running", "queued", "running", "succeeded"]
    assert job["attempts"] == 2
