"""Two workers drain fifty queued jobs: every job succeeds, each trained exactly once, one model each."""

import pytest

from tests.support.events import event_log, status_events
from tests.support.specs import SOFTMAX_XOR_SPEC, with_training
from tests.support.waiting import wait_until
from worker.store.ids import model_id_for_job
from worker.store.job_scripts import TERMINAL_STATUSES

JOBS = 50
SMALL_XOR = with_training(SOFTMAX_XOR_SPEC, epochs=40)


@pytest.mark.slow
def test_two_workers_run_fifty_queued_jobs_each_exactly_once(isolated_service):
    service = isolated_service
    job_ids = [service.submit(SMALL_XOR, name=f"small-{number}") for number in range(JOBS)]
    assert service.jobs.queue_depth() == JOBS
    # Both boot side by side: started one after the other, the first can drain every small job
    # before the second answers its first ping.
    workers = [service.start_worker(start=False).launch() for _ in range(2)]
    for worker in workers:
        worker.wait_ready()

    def all_finished():
        jobs = [service.jobs.get(job_id) for job_id in job_ids]
        return all(job["status"] in TERMINAL_STATUSES for job in jobs) and jobs

    jobs = wait_until(all_finished, timeout=180, interval=0.5, message=f"{JOBS} jobs to finish")
    assert [job["status"] for job in jobs] == ["succeeded"] * JOBS, [j["error"] for j in jobs]
    for job in jobs:
        assert job["attempts"] == 1, job
        assert status_events(event_log(service.jobs, job["id"])) == ["queued", "running", "succeeded"]
        assert job["model_id"] == model_id_for_job(job["id"])
        assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, 41))
    models = service.artifacts.list_models()
    assert sorted(model["job_id"] for model in models) == sorted(job_ids)
    assert {model["id"] for model in models} == {job["model_id"] for job in jobs}
    assert service.jobs.queue_depth() == 0
    # Both workers took jobs (each logs the ids of the jobs it ran).
    for worker in workers:
        log = worker.log_path.read_text(errors="replace")
        assert any(job_id in log for job_id in job_ids), f"{worker.name} ran no job"
