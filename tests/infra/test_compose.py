"""docker-compose.yml and the Dockerfile describe the same service `mlpq serve` runs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from mlpq import serve
from tests.support.environment import REPO_ROOT, missing
from worker.store.environment import read_in
from worker.store.settings import SETTINGS


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def _strip_interpreter(command: list[str]) -> list[str]:
    """`python -m gunicorn ...` as run by mlpq serve is `gunicorn ...` in a container."""
    assert command[1] == "-m"
    return command[2:]


def test_compose_has_the_services_with_health_checks(compose):
    services = compose["services"]
    assert {"redis", "api", "worker", "flower"} <= set(services)

    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]

    api = services["api"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert any(port.endswith(":8000") for port in api["ports"])
    assert services["worker"]["healthcheck"]["test"]

    for name in ("api", "worker", "flower"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_worker_scales_and_flower_is_optional(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert compose["services"]["flower"]["profiles"] == ["monitoring"]
    assert "profiles" not in worker and "profiles" not in compose["services"]["api"]


def test_api_and_worker_share_artifact_and_data_volumes(compose):
    named = set(compose["volumes"])
    for name in ("api", "worker"):
        service = compose["services"][name]
        env = service["environment"]
        mounts = dict(volume.split(":")[:2][::-1] for volume in service["volumes"])
        for variable in ("MLPQ_ARTIFACT_DIR", "MLPQ_DATA_DIR"):
            assert mounts[env[variable]] in named, f"{name}: {variable} is not on a named volume"
        assert "MLPQ_API_KEYS" in env, "API keys come from .env"


def test_every_setting_reaches_the_containers_from_env(compose):
    """Settings set in `.env` or the shell pass through; unset ones stay unset (code defaults).

    The list is the registry's settings read by the processes the containers run, except the
    container's own --bind; nothing else of ours is passed (boto3's AWS_* are its own)."""
    environment = compose["x-mlpq-environment"]
    fixed = {"REDIS_URL", "MLPQ_ARTIFACT_DIR", "MLPQ_DATA_DIR"}
    expected = set(read_in("api", "worker", "gunicorn")) - {"MLPQ_BIND"}
    ours = {name for name in environment if not name.startswith("AWS_")}
    assert ours == expected, (f"docker-compose.yml lacks {sorted(expected - ours)}, "
                              f"passes unknown {sorted(ours - expected)}")
    assert all(environment[name] is None for name in environment if name not in fixed)


def test_env_example_names_only_settings_or_compose_variables(compose):
    """`.env.example` sets registry settings, and the few variables docker-compose.yml itself
    interpolates (host ports), nothing misspelt or retired."""
    text = (REPO_ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO_ROOT / "docker-compose.yml").read_text()))
    ours = {name for name in named if not name.startswith("AWS_")}
    assert {"MLPQ_API_KEYS", "MLPQ_PORT"} <= ours
    assert ours <= set(SETTINGS) | interpolated, sorted(ours - set(SETTINGS) - interpolated)


def test_compose_runs_the_commands_mlpq_serve_runs(compose):
    api = compose["services"]["api"]["command"]
    expected_api = _strip_interpreter(serve.api_command("0.0.0.0:8000", None))
    assert api == expected_api
    worker = compose["services"]["worker"]["command"]
    expected_worker = _strip_interpreter(serve.worker_command(None))
    assert worker[:len(expected_worker)] == expected_worker


def test_compose_file_is_valid_for_docker_compose():
    # .ci/run installs Debian's docker-compose, so CI must have it; elsewhere the structural
    # tests above still run and this one says why it did not.
    binary = shutil.which("docker-compose")
    if binary is None:
        missing("docker-compose is not installed (.ci/run installs it)")
    result = subprocess.run([binary, "-f", "docker-compose.yml", "config", "-q"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_dockerfile_is_slim_non_root_and_caches_dependencies():
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")  # join continued lines
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    # The base image is a build argument whose default is python:3.11-slim.
    assert instructions[0] == "ARG PYTHON_IMAGE=python:3.11-slim"
    # Every stage starts from that base or from an earlier stage.
    stages = [line.split() for line in instructions if line.startswith("FROM ")]
    names = [stage[3] for stage in stages if len(stage) == 4 and stage[2] == "AS"]
    assert stages[0][1] == stages[-1][1] == "${PYTHON_IMAGE}"
    assert all(stage[1] == "${PYTHON_IMAGE}" or stage[1] in names[:i] for i, stage in enumerate(stages))
    user = [line for line in instructions if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in instructions)
    copies = [line for line in instructions if line.startswith("COPY ")]
    # Only pyproject.toml (and the wheelhouse) precede the dependency install, so source edits
    # reuse that layer.
    first_install = next(i for i, line in enumerate(instructions) if "pip install" in line)
    assert instructions.index("COPY pyproject.toml /src/") < first_install
    sources = [line for line in copies if line.split()[1] in ("engine", "worker", "api", "mlpq")]
    assert len(sources) == 4 and all(instructions.index(line) > first_install for line in sources)
