"""Fault-injection helpers: a job sampler, a restartable gunicorn, recovery timings from the event log."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

import pytest
import redis

from tests.api.conftest import GunicornServer, serve_gunicorn

TERMINAL = {"succeeded", "failed", "cancelled"}

# A small MNIST network: ~0.3-0.8 s per epoch on one core, so a job spans many seconds of
# epochs that can be interrupted, yet each epoch is cheap to redo.
SMALL_MNIST = {"layers": [{"units": 16, "activation": "relu"}, {"units": 10, "activation": "softmax"}]}


def mnist_spec(epochs: int, batch_size: int = 256, seed: int = 3) -> dict:
    """A JobStore spec (model + training) for the small MNIST network."""
    return {"model": SMALL_MNIST,
            "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed,
                         "early_stopping": None}}


def mnist_job_body(epochs: int, name: str = "fault-mnist") -> dict:
    """The same job as a POST /v1/jobs body."""
    spec = mnist_spec(epochs)
    return {"name": name, "dataset": "mnist", "model": spec["model"], "training": spec["training"]}


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


class ApiServer(GunicornServer):
    """The production gunicorn config on a fixed port, which can be killed and started again."""

    def kill(self) -> None:
        """SIGKILL gunicorn's whole process group (arbiter and workers), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        super().stop()
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # stragglers of the group
            except ProcessLookupError:
                pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def start_api(tmp_path):
    """Factory: gunicorn -c python:api.gunicorn_conf 'api:create_app()' with `env`; stopped after."""
    yield from serve_gunicorn(ApiServer, tmp_path)


def api_env(service_env: dict[str, str], **overrides: str) -> dict[str, str]:
    """Gunicorn's environment: one process (two cores are shared with the worker), short graces."""
    return {**service_env, "MLPQ_WORKERS": "1", "MLPQ_THREADS": "8",
            "MLPQ_GRACEFUL_TIMEOUT": "3", "MLPQ_ACCESS_LOG": "", **overrides}

