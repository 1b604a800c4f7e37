"""The stall watchdog and the warm-shutdown hand-back, with real workers, a real hang and SIGTERM."""

import os
import signal
import time

import pytest

from tests.support.events import event_log, status_events
from tests.support.specs import HANG_JOB_NAME, HANGING_XOR_SPEC, mnist_spec
from tests.support.waiting import wait_for_job, wait_until
from worker.runner import EXIT_STALLED

STALL_SECONDS = 3.0
GRACEFUL_TIMEOUT = 20.0


@pytest.mark.slow
def test_a_job_that_hangs_with_a_live_heartbeat_fails_as_stalled(isolated_service):
    service = isolated_service
    worker = service.start_worker(
        env_overrides={"MLPQ_JOB_STALL_SECONDS": str(STALL_SECONDS)},
        extra_args=("--include", "tests.support.hanging"))
    hung = service.submit(HANGING_XOR_SPEC, name=HANG_JOB_NAME)
    # The hang keeps the lease alive (heartbeats go on) until the watchdog acts.
    wait_for_job(service.jobs, hung, "running", timeout=60)
    assert service.jobs.lease_holder(hung) is not None
    job = wait_for_job(service.jobs, hung, "failed", timeout=STALL_SECONDS * 10)
    assert job["error"]["type"] == "stalled"
    assert "MLPQ_JOB_STALL_SECONDS=3" in job["error"]["message"]
    assert job["attempts"] == 1
    # The hung process was replaced, not the worker: the same worker trains the next job.
    healthy = service.submit(HANGING_XOR_SPEC, name="healthy")
    done = wait_for_job(service.jobs, healthy, timeout=60)
    assert done["status"] == "succeeded", done["error"]
    assert worker.running
    log = worker.log_path.read_text(errors="replace")
    assert f"exitcode {EXIT_STALLED}" in log or f"exited with 'exitcode {EXIT_STALLED}'" in log
    # The redelivered message found the job finished: it was never trained a second time.
    assert status_events(event_log(service.jobs, hung)) == ["queued", "running", "failed"]


@pytest.mark.slow
def test_sigterm_hands_the_job_back_and_another_worker_resumes_it(isolated_service):
    service = isolated_service
    env = {"MLPQ_GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT), "MLPQ_CHECKPOINT_SECONDS": "30"}
    first = service.start_worker(env_overrides=env)
    job_id = service.submit(mnist_spec(epochs=6, batch_size=64), dataset="mnist", name="handback")

    def mid_epoch_after_one():
        job = service.jobs.get(job_id)
        progress = job["progress"] or {}
        return len(job["metrics"]) >= 1 and progress.get("batch", 0) >= 5 and job

    wait_until(mid_epoch_after_one, timeout=120, interval=0.02, message="epoch 2 under way")
    # As `docker stop` does: SIGTERM to the worker's main process only.
    signalled = time.monotonic()
    os.kill(first.process.pid, signal.SIGTERM)
    code = first.process.wait(GRACEFUL_TIMEOUT + 10)
    took = time.monotonic() - signalled
    assert code == 0, first.log_tail()
    assert took < GRACEFUL_TIMEOUT, f"warm shutdown took {took:.1f}s"
    job = service.jobs.get(job_id)
    assert job["status"] == "queued", job
    # Checkpoint intervals of 30 s would have skipped every epoch: the hand-back wrote the latest.
    checkpoint = service.artifacts.load_checkpoint(job_id)
    assert checkpoint is not None and checkpoint["epoch"] == len(job["metrics"]) >= 1
    handed_back_at = checkpoint["epoch"]

    second = service.start_worker()
    done = wait_for_job(service.jobs, job_id, timeout=180, interval=0.2)
    assert done["status"] == "succeeded", done["error"]
    assert [entry["epoch"] for entry in done["metrics"]] == list(range(1, 7))
    assert done["attempts"] == 2
    assert f"resuming after epoch {handed_back_at}" in second.log_path.read_text(errors="replace")
    events = event_log(service.jobs, job_id)
    assert status_events(events) == ["queued", "running", "queued", "running", "succeeded"]
    assert any(data.get("reason", "").startswith("worker shutting down") for _at, name, data in events
               if name == "status")
    # Each epoch was published exactly once after the hand-back's resume point... and the
    # interrupted epoch's batches were redone by the second worker, not recorded twice.
    epochs = [data["epoch"] for _at, name, data in events if name == "epoch"]
    assert sorted(set(epochs)) == list(range(1, 7)) and len(epochs) == 6
