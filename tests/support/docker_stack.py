"""A real Docker engine for the compose test: dockerd, stand-in base images, the wheelhouse, compose.

This machine cannot pull from Docker Hub, so the base images docker-compose.yml and the
Dockerfile name (`redis:7`, `python:3.11-slim`) are replaced, in the test's own compose
override only, by stand-ins built from Debian packages with debootstrap + `docker import`.
They keep their own names (STAND_IN_*), are built once and reused by later runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.support.environment import REPO_ROOT

DEBIAN_SUITE = "bookworm"
STAND_IN_PYTHON = f"mlpq-stand-in/python:{DEBIAN_SUITE}"
STAND_IN_REDIS = f"mlpq-stand-in/redis:{DEBIAN_SUITE}"
# name -> (Debian packages, `docker import --change` instructions)
STAND_INS = {
    STAND_IN_PYTHON: ("python3,python3-venv,python3-pip,ca-certificates",
                      ["ENV LANG=C.UTF-8", 'CMD ["python3"]']),
    STAND_IN_REDIS: ("redis-server", ["WORKDIR /data", 'CMD ["redis-server"]']),
}
# The image the test builds from the Dockerfile, one tag per checkout: runs from two checkouts
# at once must not start each other's code. Layers are shared, whatever the tag.
TEST_IMAGE = f"mlpq-test/mlpq:{hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]}"
# The flags this machine's kernel allows: no bridge network, containers on the host network.
DOCKERD_COMMAND = ["dockerd", "--bridge=none", "--iptables=false"]
DOCKERD_LOG = Path(tempfile.gettempdir()) / "mlpq-dockerd.log"
LOCK_DIR = Path(tempfile.gettempdir())
WHEELHOUSE = REPO_ROOT / "wheelhouse"
# What the wheels in ./wheelhouse were made for (hash of pyproject.toml and base image id).
WHEELHOUSE_STAMP = WHEELHOUSE / ".stamp"
# Finished wheelhouses, by pyproject.toml and base image, shared by checkouts on this machine.
WHEELHOUSE_CACHE = Path("/var/tmp/mlpq-wheelhouse")


class DockerUnavailable(RuntimeError):
    """No Docker engine could be reached or started here."""


@contextmanager
def _locked(name: str):
    """Serialise one setup step across concurrent test sessions on this machine."""
    with open(LOCK_DIR / f"mlpq-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run(command: list[str], *, timeout: float = 600, check: bool = True, **options):
    """Run a command, capturing output; on failure raise with its output in the message."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **options)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}:\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return run(["docker", "version", "--format", "{{.Server.Version}}"],
                   timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure_dockerd(timeout: float = 90) -> str:
    """A Docker engine that answers: the running one, else `dockerd` started here.

    A daemon started here keeps running after the tests (it is shared, like a system service;
    its images are the cache of later runs). Returns a line saying which it is.
    """
    if docker_answers():
        return "using the running Docker engine"
    with _locked("dockerd"):
        if docker_answers():
            return "using the running Docker engine"
        missing = [tool for tool in ("docker", "dockerd") if shutil.which(tool) is None]
        if missing:
            raise DockerUnavailable(f"{' and '.join(missing)} not installed "
                                    "(Debian: apt-get install docker.io)")
        if os.geteuid() != 0:
            raise DockerUnavailable("no Docker engine answers and starting dockerd needs root")
        with open(DOCKERD_LOG, "ab") as log:
            process = subprocess.Popen(DOCKERD_COMMAND, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not docker_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = DOCKERD_LOG.read_text(errors="replace")[-2000:]
                raise DockerUnavailable(f"`{' '.join(DOCKERD_COMMAND)}` did not start "
                                        f"(log {DOCKERD_LOG}):\n{tail}")
            time.sleep(0.5)
        return f"started `{' '.join(DOCKERD_COMMAND)}` (pid {process.pid}, log {DOCKERD_LOG})"


def image_exists(name: str) -> bool:
    return run(["docker", "image", "inspect", name], check=False, timeout=60).returncode == 0


def ensure_stand_in_images() -> None:
    """Build each missing stand-in with debootstrap (about a minute each); reuse existing ones."""
    with _locked("stand-ins"):
        missing = [name for name in STAND_INS if not image_exists(name)]
        if missing and shutil.which("debootstrap") is None:
            raise DockerUnavailable("debootstrap is not installed (apt-get install debootstrap)")
        # Side by side: each is mostly waiting on downloads.
        builds = [_start_debootstrap(name) for name in missing]
        for name, root, process in builds:
            _import_root(name, root, process)


def _start_debootstrap(name: str):
    packages, _ = STAND_INS[name]
    root = Path(tempfile.mkdtemp(prefix="mlpq-rootfs-", dir="/var/tmp"))
    log = open(root.with_suffix(".log"), "wb")  # noqa: SIM115 - closed in _import_root
    process = subprocess.Popen(
        ["debootstrap", "--variant=minbase", f"--include={packages}", DEBIAN_SUITE, str(root)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    return name, root, process


def _import_root(name: str, root: Path, process) -> None:
    try:
        code = process.wait(timeout=900)
        process.log.close()
        if code != 0:
            tail = root.with_suffix(".log").read_text(errors="replace")[-3000:]
            raise DockerUnavailable(f"debootstrap for {name} failed:\n{tail}")
        # Downloaded packages and apt lists are not part of an image.
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / cache).glob("*"):
                if path.is_file():
                    path.unlink()
        _, changes = STAND_INS[name]
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        command = ["docker", "import"]
        for change in changes:
            command += ["--change", change]
        run([*command, "-", name], stdin=tar.stdout, timeout=600)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        root.with_suffix(".log").unlink(missing_ok=True)


def ensure_wheelhouse(python_image: str) -> None:
    """./wheelhouse for the Dockerfile's air-gapped build (README's command), complete for the
    Python of `python_image`; rebuilt only when pyproject.toml or the image changes.

    pip picks dependencies for the Python that runs it: a host Python newer than the image's
    skips backports the image needs (redis wants async-timeout below 3.11.3). So the image's
    own pip resolves against the wheelhouse, and whatever it names as missing is added.
    A finished wheelhouse is kept in WHEELHOUSE_CACHE and copied into later checkouts: the
    same bytes let Docker reuse the dependency layer even in a fresh clone (a wheel built
    again differs, and the build would install every dependency again).
    """
    image_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", python_image]).stdout
    key = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes() + image_id.encode())
    stamp, cached = key.hexdigest(), WHEELHOUSE_CACHE / key.hexdigest()[:16]
    with _locked("wheelhouse"):
        if WHEELHOUSE_STAMP.exists() and WHEELHOUSE_STAMP.read_text() == stamp:
            return
        for stale in WHEELHOUSE.glob("*.whl"):
            stale.unlink()
        if not cached.is_dir():
            _build_wheelhouse(python_image, cached)
        for wheel in cached.glob("*.whl"):
            shutil.copy2(wheel, WHEELHOUSE / wheel.name)
        WHEELHOUSE_STAMP.write_text(stamp)


def _build_wheelhouse(python_image: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=destination.parent))
    try:
        requirements = ["setuptools>=68", ".[monitoring]"]
        for _ in range(10):
            run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                 "--wheel-dir", str(building), *requirements], cwd=REPO_ROOT, timeout=900)
            requirements = _missing_for_image(python_image, building)
            if not requirements:
                # The build installs mlpq from its source, not from this wheel.
                _project_wheel(building).unlink()
                building.rename(destination)
                return
        raise RuntimeError(f"the wheelhouse still lacks {requirements} for {python_image}")
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _missing_for_image(python_image: str, wheelhouse: Path) -> list[str]:
    """Requirements the image's pip cannot satisfy from `wheelhouse` alone (empty: complete)."""
    result = run(["docker", "run", "--rm", "--network", "host",
                  "-v", f"{wheelhouse}:/wheelhouse:ro", python_image, "python3", "-m", "pip",
                  "download", "--quiet", "--no-index", "--find-links", "/wheelhouse",
                  "--dest", "/tmp/resolved", f"/wheelhouse/{_project_wheel(wheelhouse).name}[monitoring]",
                  "setuptools>=68"], check=False, timeout=600)
    if result.returncode == 0:
        return []
    marker = "No matching distribution found for "
    missing = [line.split(marker, 1)[1].split(";")[0].strip()
               for line in result.stderr.splitlines() if marker in line]
    if not missing:
        raise RuntimeError(f"pip in {python_image} could not resolve the wheelhouse:\n"
                           f"{result.stderr[-3000:]}")
    return missing


def _project_wheel(wheelhouse: Path) -> Path:
    wheels = sorted(wheelhouse.glob("mlpq-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip wheel made no mlpq wheel in {wheelhouse}")
    return wheels[-1]


def compose_command() -> list[str]:
    """`docker compose` (the plugin) when present, else Debian's `docker-compose`."""
    if run(["docker", "compose", "version"], check=False, timeout=30).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise DockerUnavailable("neither `docker compose` nor `docker-compose` is installed "
                            "(Debian: apt-get install docker-compose)")


def merge_override(compose: list[str], base: Path, override: dict, workdir: Path) -> Path:
    """`base` with `override` applied by compose itself, as one file in `workdir`.

    On the host network a container cannot publish ports, and an override file cannot remove
    the base file's `ports` (compose v1 has no `!reset`), so they are dropped from the merged
    file of services that use the host network; everything else is as compose merged it.
    """
    override_path = workdir / "compose.override.test.json"
    override_path.write_text(json.dumps(override, indent=2))  # JSON is YAML
    merged = yaml.safe_load(run([*compose, "--file", str(base), "--file", str(override_path),
                                 "config"], cwd=base.parent).stdout)
    for service in merged["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    merged_path = workdir / "compose.merged.test.yml"
    # `config` printed the file interpolated: a `$` left in it was written `$$`, and is again.
    merged_path.write_text(yaml.safe_dump(_escape_dollars(merged), sort_keys=False))
    return merged_path


def _escape_dollars(value):
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape_dollars(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(item) for item in value]
    return value
