"""`docker compose up`, for real: the image built from the Dockerfile and the stack run on a Docker
engine; XOR and MNIST trained and served through it; two workers; a worker restart mid-job.

Runs in CI. Deselect locally with `-m "not docker"`. Without a Docker engine it fails in CI
(`CI` set) and is skipped elsewhere, with the reason. The compose override below is the test's
own: host networking, free ports, the stand-in base images and the air-gapped build.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from engine import datasets
from mlpq.redis_server import free_port
from tests.support import docker_stack
from tests.support.environment import REPO_ROOT, missing
from tests.support.services import FAST_SETTINGS
from tests.support.specs import XOR_JOB, mnist_job, with_training
from tests.support.waiting import wait_for_job, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

COMPOSE_XOR_JOB = {**with_training(XOR_JOB, seed=0), "name": "compose-xor"}


class ComposeStack:
    """One compose project: docker-compose.yml plus the test's override, on free ports."""

    def __init__(self, workdir: Path, data_dir: Path):
        self.project = f"mlpqtest{uuid.uuid4().hex[:8]}"
        self.redis_port, self.api_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        compose = [*docker_stack.compose_command(), "--project-name", self.project]
        merged = docker_stack.merge_override(compose, REPO_ROOT / "docker-compose.yml",
                                             self.override(data_dir), workdir)
        self.command = [*compose, "--file", str(merged)]
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def override(self, data_dir: Path) -> dict:
        environment = {**FAST_SETTINGS, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                       "MLPQ_WORKERS": "1", "MLPQ_GRACEFUL_TIMEOUT": "3"}
        build = {"context": str(REPO_ROOT),
                 "args": {"PYTHON_IMAGE": docker_stack.STAND_IN_PYTHON, "WHEELHOUSE": "1"}}
        mlpq = {"image": docker_stack.TEST_IMAGE, "build": build, "network_mode": "host",
                "environment": environment,
                # The real datasets, read-only, instead of the empty named volume.
                "volumes": [f"{data_dir}:/data/datasets:ro"]}
        probe = f"urllib.request.urlopen('{self.base_url}/healthz', timeout=3)"
        # On the host network every container has the host's name, so each worker names
        # itself (`$$` is compose's escape for the shell's `$`).
        worker_command = ('name="worker-$$(cut -c1-8 /proc/sys/kernel/random/uuid)@%h"; '
                          'echo "$$name" > /tmp/celery-node; '
                          'exec celery -A worker worker --loglevel INFO --hostname "$$name"')
        return {"services": {
            "redis": {"image": docker_stack.STAND_IN_REDIS, "network_mode": "host",
                      "command": ["redis-server", "--port", str(self.redis_port),
                                  "--bind", "127.0.0.1", "--appendonly", "yes",
                                  "--appendfsync", "everysec"],
                      "healthcheck": {"test": ["CMD", "redis-cli", "-p", str(self.redis_port),
                                               "ping"], "interval": "1s"}},
            "api": {**mlpq,
                    "command": ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind",
                                f"127.0.0.1:{self.api_port}", "api:create_app()"],
                    "healthcheck": {"test": ["CMD", "python", "-c",
                                             f"import urllib.request; {probe}"]}},
            "worker": {**mlpq, "command": ["sh", "-c", worker_command],
                       "healthcheck": {"test": ["CMD-SHELL", "celery -A worker inspect ping "
                                                "--destination \"$$(cat /tmp/celery-node)\" "
                                                "--timeout 5"]}},
        }}

    def compose(self, *args: str, timeout: float = 900):
        return docker_stack.run([*self.command, *args], cwd=REPO_ROOT, timeout=timeout)

    def containers(self, service: str) -> list[str]:
        """Ids of the service's containers (compose v1 and v2 both label them)."""
        result = docker_stack.run(["docker", "ps", "--all", "--quiet",
                                   "--filter", f"label=com.docker.compose.project={self.project}",
                                   "--filter", f"label=com.docker.compose.service={service}"])
        return result.stdout.split()

    def logs(self, container: str) -> str:
        result = docker_stack.run(["docker", "logs", container])
        return result.stdout + result.stderr

    def wait_ready(self, timeout: float = 300) -> dict:
        def ready():
            try:
                response = self.http.get("/readyz")
            except httpx.TransportError:
                return None
            return response.json() if response.status_code == 200 else None
        return wait_until(ready, timeout=timeout, interval=1, message="/readyz to answer 200")

    def submit(self, body: dict) -> str:
        response = self.http.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def job(self, job_id: str) -> dict:
        return self.http.get(f"/v1/jobs/{job_id}").json()

    def wait_finished(self, job_id: str, timeout: float = 300) -> dict:
        job = wait_for_job(self.http, job_id, timeout=timeout, interval=0.5)
        assert job["status"] == "succeeded", job
        return job

    def predict(self, model_id: str, inputs) -> list[dict]:
        response = self.http.post(f"/v1/models/{model_id}/predict",
                                  json={"inputs": np.asarray(inputs).tolist()})
        assert response.status_code == 200, response.text
        return response.json()["predictions"]


def _docker_or_fail() -> str:
    try:
        return docker_stack.ensure_dockerd()
    except docker_stack.DockerUnavailable as error:
        missing(f"the compose stack test needs a Docker engine: {error}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack up (`up -d --build`) and ready; `down -v` afterwards, leaving nothing behind."""
    started = time.monotonic()
    print(_docker_or_fail())
    data_dir = datasets.resolve_data_dir().resolve()
    assert (data_dir / "mnist").is_dir(), f"no MNIST files under {data_dir} (set MLPQ_DATA_DIR)"
    docker_stack.ensure_stand_in_images()
    docker_stack.ensure_wheelhouse(docker_stack.STAND_IN_PYTHON)
    stack = ComposeStack(tmp_path_factory.mktemp("compose"), data_dir)
    print(f"prepared in {time.monotonic() - started:.0f}s")
    try:
        stack.compose("up", "--detach", "--build")
        stack.wait_ready()
        print(f"ready {time.monotonic() - started:.0f}s after the test started")
        yield stack
    finally:
        stack.compose("down", "--volumes", "--timeout", "5")
        stack.http.close()
    left = docker_stack.run(["docker", "volume", "ls", "--quiet", "--filter",
                             f"label=com.docker.compose.project={stack.project}"]).stdout.split()
    assert stack.containers("worker") + stack.containers("api") + left == []
    print(f"compose stack test took {time.monotonic() - started:.0f}s")


def test_the_image_runs_as_non_root_with_a_healthcheck_and_no_build_tools(stack):
    inspect = docker_stack.run(["docker", "image", "inspect", "--format",
                                "{{.Config.User}}|{{json .Config.Healthcheck.Test}}|{{.Size}}",
                                docker_stack.TEST_IMAGE]).stdout.strip()
    user, healthcheck, size = inspect.split("|")
    assert user not in ("", "root", "0")
    assert "/healthz" in healthcheck
    print(f"image size {int(size) / 1e6:.0f} MB on {docker_stack.STAND_IN_PYTHON}")
    probe = ("id -u; for tool in gcc cc c++ make; do command -v $tool; done; "
             "ls -d /wheelhouse /root/.cache /home/mlpq/.cache 2>/dev/null; true")
    output = docker_stack.run(["docker", "run", "--rm", "--network", "host",
                               docker_stack.TEST_IMAGE, "sh", "-c", probe]).stdout.split()
    assert output == ["10001"], f"expected only the uid, found {output}"
    (api,) = stack.containers("api")
    health = wait_until(lambda: docker_stack.run(
        ["docker", "inspect", "--format", "{{.State.Health.Status}}", api]).stdout.strip()
        in ("healthy", "unhealthy") and docker_stack.run(
        ["docker", "inspect", "--format", "{{.State.Health.Status}}", api]).stdout.strip(),
        timeout=120, interval=1, message="the api container's healthcheck")
    assert health == "healthy"


def test_xor_trains_and_predicts(stack):
    job = stack.wait_finished(stack.submit(COMPOSE_XOR_JOB))
    predictions = stack.predict(job["model_id"], [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert [prediction["label"] for prediction in predictions] == [0, 1, 1, 0]


def test_mnist_one_epoch_trains_on_the_mounted_dataset_and_predicts(stack):
    job = stack.wait_finished(stack.submit(mnist_job(1, "compose-mnist", seed=1)))
    assert [entry["epoch"] for entry in job["metrics"]] == [1]
    (_, _), (x_test, y_test) = datasets.load("mnist", download=False)
    predictions = stack.predict(job["model_id"], x_test[:200])
    labels = np.array([prediction["label"] for prediction in predictions])
    # One epoch of a 16-unit network gets most digits right; chance is 10%.
    assert (labels == y_test[:200]).mean() > 0.7


def test_two_workers_both_take_jobs(stack):
    stack.compose("up", "--detach", "--scale", "worker=2", "--no-recreate")
    workers = stack.containers("worker")
    assert len(workers) == 2
    # Both consume before anything is queued, so the first cannot drain the queue alone.
    wait_until(lambda: all(" ready." in stack.logs(worker) for worker in workers),
               timeout=180, interval=1, message="both workers to report ready")
    job_ids = [stack.submit(mnist_job(1, f"compose-scale-{n}", seed=1)) for n in range(4)]
    for job_id in job_ids:
        stack.wait_finished(job_id)
    for worker in workers:
        log = stack.logs(worker)
        assert any(job_id in log for job_id in job_ids), f"worker {worker[:12]} ran no job"


def test_restarting_the_worker_service_mid_job_resumes_the_job(stack):
    epochs = 12
    job_id = stack.submit(mnist_job(epochs, "compose-restart", seed=1))
    wait_until(lambda: len(stack.job(job_id)["metrics"]) >= 2, timeout=300, interval=0.2,
               message="two epochs before the restart")
    # Docker waits longer than MLPQ_GRACEFUL_TIMEOUT: the job is handed back, not killed.
    stack.compose("restart", "--timeout", "20", "worker")
    # Handed back (queued) or still running: in any case not finished.
    assert stack.job(job_id)["status"] in ("queued", "running"), "the job ended before the restart"
    job = stack.wait_finished(job_id)
    # Exactly once per epoch, and trained by more than one worker process.
    assert [entry["epoch"] for entry in job["metrics"]] == list(range(1, epochs + 1))
    assert job["attempts"] >= 2, job
    logs = "".join(stack.logs(worker) for worker in stack.containers("worker"))
    assert f"job {job_id}: resuming after epoch" in logs
