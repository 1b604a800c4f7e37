"""kill -9 of the worker's whole process group, ten times, while one job trains across epochs."""

import random
import statistics
import time

import pytest

from tests.support.events import JobSampler, event_log, recovery_after, status_events
from tests.support.specs import mnist_spec
from tests.support.waiting import wait_for_job, wait_until
from worker.store.ids import model_id_for_job
from worker.store.job_scripts import TERMINAL_STATUSES

KILLS = 10
EPOCHS = 24  # about 1.5 epochs are trained between kills, so the job outlives the tenth
# A checkpoint after every epoch (MLPQ_CHECKPOINT_SECONDS=0): then no recorded epoch may be lost.
EVERY_EPOCH = {"MLPQ_CHECKPOINT_SECONDS": "0"}
DEAD_LEASE_SECONDS = 0.5  # the lease a worker that died before its first checkpoint left
# An epoch of mnist_spec's network (0.3-0.8 s on one idle core) on a busy, shared machine.
EPOCH_SECONDS = 10.0


@pytest.mark.slow
def test_ten_kills_of_the_worker_group_resume_from_checkpoints(isolated_service):
    service = isolated_service
    rng = random.Random(6)
    worker = service.start_worker(env_overrides=EVERY_EPOCH)
    job_id = service.submit(mnist_spec(EPOCHS), dataset="mnist", name="kill-loop")
    kills = []  # (killed_at, metrics before the kill, checkpoint epoch and history on disk)
    with JobSampler(service.jobs, job_id) as sampler:
        recorded = 0  # epochs on record when the previous worker died
        for attempt in range(1, KILLS + 1):
            # This attempt has recorded an epoch the dead one had not (so it is training),
            # then a random point inside its next epoch.
            job = wait_until(lambda a=attempt, r=recorded: _trained_beyond(service.jobs.get(job_id), a, r),
                             timeout=90, message=f"attempt {attempt} to record a new epoch")
            time.sleep(rng.uniform(0.0, 0.9) * job["metrics"][-1]["seconds"])
            before = service.jobs.get(job_id)
            assert len(before["metrics"]) < EPOCHS - 1, "the job outran the kills: lengthen it"
            worker.kill()  # SIGKILL to the process group: no ack, no cleanup, lease left to lapse
            killed_at = time.time()
            checkpoint = service.artifacts.load_checkpoint(job_id)
            # An epoch can end (and be checkpointed) between reading `before` and the kill, so
            # the checkpoint may hold one epoch more than `before`: keep its own history too.
            kills.append((killed_at, before["metrics"], checkpoint["epoch"] if checkpoint else 0,
                          checkpoint["history"] if checkpoint else []))
            recorded = len(before["metrics"])
            worker = service.start_worker(env_overrides=EVERY_EPOCH)
        job = wait_for_job(service.jobs, job_id, timeout=120)

    assert job["status"] == "succeeded", job["error"]
    # Every epoch exactly once, in order, and the epochs before each checkpoint were not redone.
    assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, EPOCHS + 1))
    for number, (_at, metrics_before, checkpointed, checkpoint_history) in enumerate(kills, 1):
        assert job["metrics"][:checkpointed] == checkpoint_history[:checkpointed], f"kill {number}"
        seen = min(checkpointed, len(metrics_before))
        assert job["metrics"][:seen] == metrics_before[:seen], f"kill {number}"
        # Each epoch is checkpointed before its metrics are recorded, so none recorded is lost.
        assert metrics_before[checkpointed:] == [], f"kill {number}"
    kill_epochs = [len(metrics) for _at, metrics, _c, _h in kills]
    assert kill_epochs == sorted(set(kill_epochs)), f"each kill lands on a later epoch: {kill_epochs}"

    # What a poller saw: recorded epochs never shrink by more than the lost epochs, the
    # progress epoch never goes back by more than the one being trained, never stuck running.
    allowed_loss = max(max(len(m) - c, 0) for _at, m, c, _h in kills)
    for earlier, later in zip(sampler.samples, sampler.samples[1:], strict=False):
        assert later.metrics >= earlier.metrics - allowed_loss, (earlier, later)
        assert later.epoch >= earlier.epoch - 1 - allowed_loss, (earlier, later)

    # Started once per kill plus once, one model, no checkpoint left behind.
    events = event_log(service.jobs, job_id)
    statuses = status_events(events)
    assert statuses.count("running") == job["attempts"] == KILLS + 1, statuses
    assert statuses[-1] == "succeeded" and statuses.count("succeeded") == 1
    assert [model["id"] for model in service.artifacts.list_models()] == [model_id_for_job(job_id)]
    model = service.artifacts.get_model(job["model_id"])
    assert model["metrics"] == job["metrics"]
    assert not service.artifacts.checkpoint_dir(job_id).exists()

    recoveries = [recovery_after(events, killed_at) for killed_at, _m, _c, _h in kills]
    training = [r.training for r in recoveries]
    print(f"\nrecovery after kill -9 (kill -> training batches again), {KILLS} kills: "
          f"median {statistics.median(training):.2f} s, max {max(training):.2f} s; "
          f"kill -> started again: median {statistics.median(r.restarted for r in recoveries):.2f} s; "
          f"killed at epochs {kill_epochs}")




def _trained_beyond(job, attempt, recorded):
    """The job once its `attempt`-th start is running and has more than `recorded` epochs."""
    if job["status"] == "running" and job["attempts"] == attempt and len(job["metrics"]) > recorded:
        return job
    return None


def test_an_attempt_that_died_before_its_first_checkpoint_leaves_no_stale_epochs(isolated_service):
    """Regression: the next attempt starts from scratch, and used to append its epoch 1 after
    the dead attempt's, so pollers saw epochs [1, 1, 2, ...] until the job ended."""
    service = isolated_service
    epochs = 3
    job = service.jobs.create(name="died-early", dataset="mnist", spec=mnist_spec(epochs))
    assert service.jobs.acquire_lease(job["id"], "dead-worker", DEAD_LEASE_SECONDS)
    service.jobs.mark_running(job["id"], lease_token="dead-worker")
    service.jobs.append_metrics(job["id"], {"epoch": 1, "loss": 9.0}, lease_token="dead-worker")
    service.start_worker()  # its sweeper requeues the job once the lease has lapsed
    seen = []  # the epochs on record at each look before the job ended

    def ended():
        current = service.jobs.get(job["id"])
        if current["status"] in TERMINAL_STATUSES:
            return current
        seen.append([entry["epoch"] for entry in current["metrics"]])
        return None

    # The dead lease lapses, the next sweep requeues the job, and the new attempt trains.
    deadline = DEAD_LEASE_SECONDS + service.settings.sweep_seconds + epochs * EPOCH_SECONDS
    current = wait_until(ended, timeout=deadline, interval=0.02, message="the requeued job to end")
    assert current["status"] == "succeeded", current["error"]
    assert current["attempts"] == 2 and [e["epoch"] for e in current["metrics"]] == [1, 2, 3]
    assert all(epochs == list(range(1, len(epochs) + 1)) for epochs in seen), seen
    assert current["metrics"][0]["loss"] != 9.0
