"""A job as its event log and its pollers saw it: status sequences, samples, recovery timings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Sample:
    """One look at a job record: wall-clock time and what a poller would have seen."""

    at: float
    status: str
    attempts: int
    metrics: int  # per-epoch entries recorded
    epoch: int  # progress.epoch


class JobSampler:
    """Reads one job every `interval` seconds from a thread, riding out Redis outages."""

    def __init__(self, store, job_id: str, interval: float = 0.05):
        self.store, self.job_id, self.interval = store, job_id, interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-sampler", daemon=True)

    def __enter__(self) -> JobSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                job = self.store.get(self.job_id)
            except redis.RedisError:
                continue
            if job is not None:
                self.samples.append(Sample(time.time(), job["status"], job["attempts"],
                                           len(job["metrics"]), (job["progress"] or {}).get("epoch") or 0))


def event_log(store, job_id: str) -> list[tuple[float, str, dict]]:
    """The job's whole event stream as (Redis server time in s, event name, data); job must be over."""
    return [(int(event_id.split("-")[0]) / 1000, name, data)
            for event_id, name, data in store.events(job_id)]


@dataclass(frozen=True)
class Recovery:
    """How long after a kill the job was requeued, started again, and training batches again."""

    requeued: float | None
    restarted: float
    training: float


def recovery_after(events, killed_at: float) -> Recovery:
    """Timings (seconds after `killed_at`) read from the event log of the job."""
    after = [(at, name, data) for at, name, data in events if at >= killed_at]
    requeued = next((at for at, name, data in after
                     if name == "status" and data["status"] == "queued"), None)
    restarted = next(at for at, name, data in after
                     if name == "status" and data["status"] == "running")
    training = next(at for at, name, data in after
                    if at >= restarted and name == "progress" and data["batch"] >= 1)
    return Recovery(None if requeued is None else requeued - killed_at,
                    restarted - killed_at, training - killed_at)


def status_events(events) -> list[str]:
    return [data["status"] for _at, name, data in events if name == "status"]
