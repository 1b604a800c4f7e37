"""The service's processes for tests: settings for fast faults, Celery workers, a private stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mlpq.redis_server import RedisServer, exit_with_parent
from tests.support.environment import REPO_ROOT

# Fast timings so faults are detected within seconds in tests (production defaults are in
# worker/store/config.py). The lease must still outlast a heartbeat stalled by a busy 2-core machine.
FAST_SETTINGS = {
    "MLPQ_LEASE_SECONDS": "3",
    "MLPQ_SWEEP_SECONDS": "1",
    "MLPQ_VISIBILITY_TIMEOUT": "8",
    "MLPQ_UNACKED_RESTORE_INTERVAL": "1",
    "MLPQ_PROGRESS_INTERVAL": "0.1",
    "MLPQ_CHECKPOINT_SECONDS": "0.25",
    "MLPQ_BLAS_THREADS": "1",
    "MLPQ_WORKER_CONCURRENCY": "1",
}


def build_service_env(redis_url: str, artifact_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for an API or worker subprocess pointed at the test services."""
    env = dict(os.environ)
    env.update(FAST_SETTINGS)
    env.update({
        "REDIS_URL": redis_url,
        "MLPQ_ARTIFACT_DIR": str(artifact_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    })
    if "MLPQ_DATA_DIR" in os.environ:
        env["MLPQ_DATA_DIR"] = os.environ["MLPQ_DATA_DIR"]
    env.update(overrides)
    return env


class CeleryWorker:
    """A `celery -A worker worker` process in its own process group, with its log in a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, name: str | None = None,
                 concurrency: int = 1, extra_args: tuple[str, ...] = ()):
        self.env = dict(env)
        self.name = name or f"mlpq-test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = Path(log_dir) / f"{self.name.split('@')[0]}.log"
        self.concurrency = concurrency
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "worker", "worker",
            "--hostname", self.name, "--concurrency", str(self.concurrency),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            *self.extra_args,
        ]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> CeleryWorker:
        """Start the process and wait until it answers a control ping."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> CeleryWorker:
        """Start the process without waiting for it (several workers can boot side by side)."""
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=exit_with_parent())
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"celery worker {self.name} exited early:\n{self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker {self.name} did not answer ping in {timeout}s:\n"
                           f"{self.log_tail()}")

    def ping(self, timeout: float = 1.0) -> bool:
        """True when this worker answers a broadcast control ping."""
        from celery import Celery

        app = Celery("mlpq-test-ping", broker=self.env["REDIS_URL"], set_as_current=False)
        try:
            replies = app.control.ping(destination=[self.name], timeout=timeout)
        except Exception:  # noqa: BLE001 - a broker still starting up is just "not ready"
            return False
        finally:
            app.close()
        return any(self.name in reply for reply in replies)

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children), as a crash would."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
        self.process = None

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM): running tasks finish, then the worker exits."""
        if not self.running:
            self.process = None
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._signal_group(signal.SIGKILL)  # stragglers left in the group
        self.process = None

    def restart(self, timeout: float = 60.0) -> CeleryWorker:
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        """Everything the worker has logged so far ("" before its first line)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def start_redis(data_dir: Path, **options) -> RedisServer:
    """A Redis-compatible server on a free port, its files in `data_dir`."""
    return RedisServer(data_dir=data_dir, **options).start()


class IsolatedService:
    """A private Redis, artifact dir and worker factory for tests that break things."""

    def __init__(self, server: RedisServer, env: dict[str, str], make_worker):
        from worker.store.artifacts import ArtifactStore
        from worker.store.celery_app import create_celery_app
        from worker.store.config import Settings
        from worker.store.jobs import JobStore

        self.server, self.env, self._make_worker = server, env, make_worker
        self.settings = Settings.from_env(env)
        self.jobs = JobStore.from_url(server.url)
        self.artifacts = ArtifactStore(env["MLPQ_ARTIFACT_DIR"])
        self.celery = create_celery_app(self.settings)  # queues jobs on this Redis

    def close(self) -> None:
        self.jobs.close()
        self.celery.close()

    def start_worker(self, **options) -> CeleryWorker:
        return self._make_worker(env=self.env, **options)

    def submit(self, spec: dict, dataset: str = "xor", name: str = "job", **fields) -> str:
        from worker.store.celery_app import enqueue_training

        job = self.jobs.create(name=name, dataset=dataset, spec=spec, **fields)
        enqueue_training(self.celery, job["id"])
        return job["id"]
