"""JobStore against a real Redis: records, listing, atomic status changes under races, leases, events."""

import threading
import time

import pytest

from worker.store.ids import new_id
from worker.store.job_scripts import TERMINAL_STATUSES
from worker.store.jobs import JobNotFound, JobStateError, JobStore

SPEC = {"model": {"layers": [{"units": 2, "activation": "softmax"}]}, "training": {"epochs": 3}}


@pytest.fixture
def store(make_redis_server):
    """A JobStore on a private server, so counts and listings see only this test's jobs."""
    store = JobStore.from_url(make_redis_server().url)
    yield store
    store.close()


def new_job(store, **fields):
    return store.create(**{"name": "job", "dataset": "xor", "spec": SPEC, **fields})


def running_job(store, token="token"):
    job = new_job(store)
    assert store.acquire_lease(job["id"], token, 30)
    return store.mark_running(job["id"], lease_token=token, worker="w1")


def terminal_events(store, job_id):
    return [data for _id, name, data in store.events(job_id)
            if name == "status" and data["status"] in TERMINAL_STATUSES]


def test_create_returns_the_full_queued_record(store):
    job = new_job(store, owner="alice")
    assert job["status"] == "queued" and job["owner"] == "alice" and job["spec"] == SPEC
    assert len(job["id"]) == 32 and job["created_at"].endswith("Z")
    assert job["progress"] == {"epoch": 0, "epochs": 3, "batch": 0, "batches": None,
                               "fraction": 0.0, "eta_seconds": None}
    assert job["metrics"] == [] and job["model_id"] is None and job["error"] is None
    assert store.get(job["id"]) == job


def test_get_ignores_malformed_and_unknown_ids(store):
    assert store.get("../../etc/passwd") is None
    assert store.get("x" * 32) is None
    assert store.get(new_id()) is None


def test_list_is_newest_first_filtered_and_paginated(store):
    ids = [new_job(store, owner="alice" if i % 2 else "bob")["id"] for i in range(5)]
    store.request_cancel(ids[3])
    jobs, total = store.list()
    assert [job["id"] for job in jobs] == ids[::-1] and total == 5
    jobs, total = store.list(limit=2, offset=1)
    assert [job["id"] for job in jobs] == [ids[3], ids[2]] and total == 5
    assert [j["id"] for j in store.list(owner="alice")[0]] == [ids[3], ids[1]]
    assert [j["id"] for j in store.list(status="queued", owner="alice")[0]] == [ids[1]]
    assert store.list(status="cancelled")[1] == 1
    assert store.count_active("alice") == 1 and store.count_active("bob") == 3
    with pytest.raises(ValueError, match="status must be one of"):
        store.list(status="sleeping")


def test_cancelling_a_queued_job_finishes_it_at_once(store):
    job = new_job(store)
    cancelled = store.request_cancel(job["id"])
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    with pytest.raises(JobStateError) as raised:
        store.request_cancel(job["id"])
    assert raised.value.status == "cancelled"
    with pytest.raises(JobStateError):
        store.mark_running(job["id"])  # the worker that later receives its message does nothing
    with pytest.raises(JobNotFound):
        store.request_cancel(new_id())


def test_cancelling_a_running_job_sets_the_flag_the_worker_reads(store):
    job = running_job(store)
    assert store.request_cancel(job["id"])["status"] == "running"
    assert store.cancel_requested(job["id"])
    assert store.update_progress(job["id"], {"epoch": 1}, lease_token="token") == "cancel"
    assert store.finish(job["id"], "cancelled", lease_token="token")["status"] == "cancelled"


@pytest.mark.parametrize("round_", range(20))
def test_cancel_racing_finish_has_one_consistent_outcome(store, round_):
    job = running_job(store)
    results, barrier = {}, threading.Barrier(2)

    def cancel():
        barrier.wait()
        try:
            results["cancel"] = store.request_cancel(job["id"])["status"]
        except JobStateError as error:
            results["cancel"] = f"refused:{error.status}"

    def finish():
        barrier.wait()
        results["finish"] = store.finish(job["id"], "succeeded", model_id=new_id())["status"]

    threads = [threading.Thread(target=cancel), threading.Thread(target=finish)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert results["finish"] == "succeeded"
    # Flagged while running (the record read back says running, or succeeded when the finish
    # landed between the flag and the read-back), or refused after the finish.
    assert results["cancel"] in {"running", "succeeded", "refused:succeeded"}
    assert store.get(job["id"])["status"] == "succeeded"
    assert len(terminal_events(store, job["id"])) == 1


@pytest.mark.parametrize("round_", range(20))
def test_cancel_racing_start_never_runs_a_cancelled_job(store, round_):
    job = new_job(store)
    results, barrier = {}, threading.Barrier(2)

    def cancel():
        barrier.wait()
        results["cancel"] = store.request_cancel(job["id"])["status"]

    def start():
        barrier.wait()
        try:
            results["start"] = store.mark_running(job["id"])["status"]
        except JobStateError as error:
            results["start"] = f"refused:{error.status}"

    threads = [threading.Thread(target=cancel), threading.Thread(target=start)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert (results == {"cancel": "cancelled", "start": "refused:cancelled"}
            or results == {"cancel": "running", "start": "running"})
    if results["start"] == "running":
        assert store.cancel_requested(job["id"])


def test_a_finished_job_cannot_finish_again(store):
    job = running_job(store)
    store.finish(job["id"], "failed", error={"type": "invalid_spec", "message": "bad"})
    with pytest.raises(JobStateError):
        store.finish(job["id"], "succeeded", model_id=new_id())
    assert store.get(job["id"])["error"] == {"type": "invalid_spec", "message": "bad"}


def test_lease_is_exclusive_renewable_and_released_only_by_its_holder(store):
    job_id = new_job(store)["id"]
    assert store.acquire_lease(job_id, "a", 30)
    assert not store.acquire_lease(job_id, "b", 30)
    assert not store.renew_lease(job_id, "b", 30)
    assert store.renew_lease(job_id, "a", 30)
    assert not store.release_lease(job_id, "b") and store.lease_holder(job_id) == "a"
    assert store.release_lease(job_id, "a") and store.lease_holder(job_id) is None


def test_expired_lease_frees_the_job_and_fences_the_old_holder(store):
    job = new_job(store)
    assert store.acquire_lease(job["id"], "old", 0.2)
    store.mark_running(job["id"], lease_token="old")
    time.sleep(0.3)
    assert store.requeue_if_orphaned(job["id"])  # the sweeper's move: its worker is gone
    assert store.get(job["id"])["status"] == "queued"
    assert not store.requeue_if_orphaned(job["id"])  # only once
    assert store.acquire_lease(job["id"], "new", 30)
    store.mark_running(job["id"], lease_token="new")
    assert not store.renew_lease(job["id"], "old", 30)  # the old worker learns it lost the job
    assert store.update_progress(job["id"], {"epoch": 9}, lease_token="old") is None
    assert store.get(job["id"])["progress"]["epoch"] == 0
    with pytest.raises(JobStateError, match="another worker"):
        store.finish(job["id"], "succeeded", lease_token="old")
    job = store.finish(job["id"], "succeeded", lease_token="new")
    assert job["status"] == "succeeded" and job["attempts"] == 2


def test_a_worker_cut_off_past_its_lease_cannot_end_or_rewrite_the_requeued_job(store):
    """Regression: the old worker finished training before its next renewal noticed the
    requeue, rewrote the metrics and ended the job queued -> succeeded, so the requeued
    attempt was skipped. Under a lease token only a running job whose lease is ours moves."""
    job = running_job(store, token="cut-off")
    for epoch in (1, 2):
        store.append_metrics(job["id"], {"epoch": epoch}, lease_token="cut-off")
    assert store.release_lease(job["id"], "cut-off")  # the lease lapsed while Redis was away
    assert store.requeue_if_orphaned(job["id"])
    assert not store.replace_metrics(job["id"], [{"epoch": e} for e in range(1, 9)],
                                     lease_token="cut-off")
    assert [m["epoch"] for m in store.get(job["id"])["metrics"]] == [1, 2]
    for status in sorted(TERMINAL_STATUSES):
        with pytest.raises(JobStateError, match="cannot become"):
            store.finish(job["id"], status, lease_token="cut-off")
    with pytest.raises(JobStateError, match="cannot become"):
        store.hand_back(job["id"], lease_token="cut-off")
    # Running again under no live lease (not yet requeued): still not the old worker's to end.
    assert store.acquire_lease(job["id"], "next", 30)
    store.mark_running(job["id"], lease_token="next")
    assert store.release_lease(job["id"], "next")
    with pytest.raises(JobStateError, match="another worker"):
        store.finish(job["id"], "succeeded", lease_token="cut-off")
    assert store.acquire_lease(job["id"], "next", 30)
    store.finish(job["id"], "succeeded", lease_token="next")
    statuses = [data["status"] for _id, name, data in store.events(job["id"]) if name == "status"]
    assert statuses == ["queued", "running", "queued", "running", "succeeded"]


def test_a_live_lease_keeps_a_running_job_from_the_sweeper(store):
    job = running_job(store)
    assert not store.requeue_if_orphaned(job["id"])
    assert store.running_job_ids() == [job["id"]]


def test_renewal_takes_back_a_lease_that_expired_unclaimed(store):
    job_id = new_job(store)["id"]
    assert store.acquire_lease(job_id, "a", 0.1)
    store.mark_running(job_id, lease_token="a")
    time.sleep(0.2)
    assert store.renew_lease(job_id, "a", 30) and store.lease_holder(job_id) == "a"


def test_renewal_does_not_take_back_a_job_the_sweeper_requeued(store):
    job_id = new_job(store)["id"]
    assert store.acquire_lease(job_id, "a", 0.1)
    store.mark_running(job_id, lease_token="a")
    time.sleep(0.2)
    assert store.requeue_if_orphaned(job_id)
    assert not store.renew_lease(job_id, "a", 30) and store.lease_holder(job_id) is None


def test_metrics_append_and_replace(store):
    job = running_job(store)
    for epoch in (1, 2):
        store.append_metrics(job["id"], {"epoch": epoch, "loss": 1.0 / epoch}, lease_token="token")
    assert [m["epoch"] for m in store.get(job["id"])["metrics"]] == [1, 2]
    store.replace_metrics(job["id"], [{"epoch": 1, "loss": 1.0}])
    assert store.get(job["id"])["metrics"] == [{"epoch": 1, "loss": 1.0}]


def test_events_replay_resume_and_end_after_the_terminal_status(store):
    job = running_job(store)
    store.update_progress(job["id"], {"epoch": 1}, lease_token="token")
    store.append_metrics(job["id"], {"epoch": 1, "loss": 0.5}, lease_token="token")
    store.finish(job["id"], "succeeded", model_id=new_id(), lease_token="token")
    events = list(store.events(job["id"]))
    assert [(name, data.get("status")) for _id, name, data in events] == [
        ("status", "queued"), ("status", "running"), ("progress", None), ("epoch", None),
        ("status", "succeeded")]
    resumed = list(store.events(job["id"], last_event_id=events[2][0]))
    assert resumed == events[3:]
    assert list(store.events(job["id"], last_event_id=events[-1][0])) == []
    assert list(store.events(job["id"], last_event_id="not-an-id")) == events
    assert list(store.events(new_id())) == [] and list(store.events("../x")) == []


def test_events_follow_a_live_job_with_keepalives(store):
    job = running_job(store)
    seen = []

    def produce():
        time.sleep(0.3)
        store.append_metrics(job["id"], {"epoch": 1}, lease_token="token")
        time.sleep(0.3)
        store.finish(job["id"], "cancelled", lease_token="token")

    producer = threading.Thread(target=produce)
    producer.start()
    for _id, name, _data in store.events(job["id"], block_ms=100, keepalive=True):
        seen.append(name)
    producer.join()
    assert seen[:2] == ["status", "status"] and seen[-1] == "status"
    assert "epoch" in seen and "keepalive" in seen


def test_ping_and_queue_depth(store, make_redis_server):
    assert store.ping() and store.queue_depth() == 0
    server = make_redis_server()
    other = JobStore.from_url(server.url)
    server.stop()
    assert other.ping() is False


# ---- stop and keep, stop reasons, worker speeds -------------------------------------------------

def test_a_stop_flags_a_running_job_and_its_writes_report_it(store):
    job = running_job(store)
    assert store.pending_request(job["id"]) is None
    assert store.update_progress(job["id"], {"epoch": 1}, lease_token="token") is None
    stopped = store.request_stop(job["id"])
    assert stopped["status"] == "running" and stopped["stop_requested"] is True
    assert store.pending_request(job["id"]) == "stop"
    assert store.update_progress(job["id"], {"epoch": 1}, lease_token="token") == "stop"
    assert store.append_metrics(job["id"], {"epoch": 1}, lease_token="token") == "stop"
    store.request_cancel(job["id"])  # a cancel wins over a stop: it keeps nothing
    assert store.pending_request(job["id"]) == "cancel"
    assert store.update_progress(job["id"], {"epoch": 1}, lease_token="token") == "cancel"


def test_only_a_running_job_can_be_stopped(store):
    queued = new_job(store)
    with pytest.raises(JobStateError, match="nothing to keep; cancel it instead"):
        store.request_stop(queued["id"])
    done = running_job(store)
    store.finish(done["id"], "succeeded", lease_token="token", stop_reason="completed")
    with pytest.raises(JobStateError, match="already succeeded"):
        store.request_stop(done["id"])
    with pytest.raises(JobNotFound):
        store.request_stop(new_id())
    with pytest.raises(JobNotFound):
        store.request_stop("../x")
    assert store.get(queued["id"])["stop_requested"] is False


def test_every_finished_job_says_why_it_stopped(store):
    reasons = {}
    for status, reason in [("succeeded", "completed"), ("succeeded", "early_stopping"),
                           ("succeeded", "stopped"), ("failed", None), ("cancelled", None)]:
        job = running_job(store)
        store.finish(job["id"], status, lease_token="token", stop_reason=reason)
        reasons[(status, reason)] = store.get(job["id"])["stop_reason"]
        assert terminal_events(store, job["id"])[-1]["stop_reason"] == reasons[(status, reason)]
    assert list(reasons.values()) == ["completed", "early_stopping", "stopped", "failed", "cancelled"]
    cancelled_while_queued = store.request_cancel(new_job(store)["id"])
    assert cancelled_while_queued["stop_reason"] == "cancelled"
    assert new_job(store)["stop_reason"] is None


def test_worker_speeds_are_kept_per_worker_and_the_newest_is_used(store):
    assert store.worker_speed() is None and store.worker_speeds() == []
    first = store.record_worker_speed("w1@host", {"flops_per_second": 1e9, "seconds_per_batch": 1e-4})
    time.sleep(0.002)  # measured_at has millisecond resolution
    second = store.record_worker_speed("w2@host", {"flops_per_second": 2e9, "seconds_per_batch": 2e-4})
    assert first["worker"] == "w1@host" and first["measured_at"].endswith("Z")
    assert store.worker_speed() == second
    time.sleep(0.002)
    again = store.record_worker_speed("w1@host", {"flops_per_second": 3e9, "seconds_per_batch": 1e-4})
    assert store.worker_speed() == again
    assert [record["worker"] for record in store.worker_speeds()] == ["w1@host", "w2@host"]
