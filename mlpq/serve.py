"""`mlpq serve`: the whole service (Redis when needed, the API, a Celery worker) in one command."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import click

from mlpq.supervisor import Child, Supervisor
from worker.store import environment
from worker.store.setting_types import SettingsError
from worker.store.settings import SETTINGS

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# The processes this command starts read these; checked before any of them starts.
CHILD_PROCESSES = ("api", "worker", "gunicorn")
SHUTDOWN_MARGIN = 5.0  # seconds beyond MLPQ_GRACEFUL_TIMEOUT before the processes are killed


@click.command()
@click.option("--host", default=None,
              help="address the API binds (default 127.0.0.1, this machine only; "
                   "0.0.0.0 for every interface)")
@click.option("--port", type=int, default=None,
              help="API port (default 8000). Without --host and --port, "
                   "MLPQ_BIND (host:port) is used when set")
@click.option("--workers", type=int, metavar="N", default=None,
              help=f"training jobs run at once: the Celery worker's --concurrency (default: "
                   f"MLPQ_WORKER_CONCURRENCY, else {SETTINGS['MLPQ_WORKER_CONCURRENCY'].default})")
@click.option("--api-workers", type=int, metavar="N", default=None,
              help=f"gunicorn worker processes (default: MLPQ_WORKERS, else "
                   f"{SETTINGS['MLPQ_WORKERS'].default})")
@click.option("--home", default=lambda: str(environment.value("MLPQ_HOME")), show_default="./var",
              help="state directory: the local Redis keeps its append-only file in "
                   "HOME/redis, models default to HOME/artifacts (env MLPQ_HOME)")
@click.option("--shutdown-timeout", type=float, default=None, metavar="SECONDS",
              help=f"grace period after SIGINT/SIGTERM before the processes are killed "
                   f"(default: MLPQ_GRACEFUL_TIMEOUT + {SHUTDOWN_MARGIN:g}, so the processes "
                   f"stop on their own first); a job still training then resumes from its "
                   f"checkpoint on the next start")
def serve(**options) -> int:
    """Run the whole service: Redis (started locally if REDIS_URL does not answer), the API and
    a training worker."""
    return run(SimpleNamespace(**options))


def bind_address(host: str | None, port: int | None) -> str:
    """gunicorn's --bind: the options, else MLPQ_BIND, else this machine only on port 8000."""
    if host is None and port is None and environment.is_set("MLPQ_BIND"):
        return environment.value("MLPQ_BIND")
    host = host or "127.0.0.1"
    return f"[{host}]:{port or 8000}" if ":" in host else f"{host}:{port or 8000}"


def api_command(bind: str, api_workers: int | None) -> list[str]:
    """The docker-compose `api` command, run with this interpreter so the same venv is used."""
    command = [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
               "--bind", bind]
    if api_workers:
        command += ["--workers", str(api_workers)]
    return command + ["api:create_app()"]


def worker_command(concurrency: int | None) -> list[str]:
    """The docker-compose `worker` command (concurrency otherwise from MLPQ_WORKER_CONCURRENCY)."""
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO"]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def local_url(bind: str) -> str:
    """Where this machine reaches an API bound to `bind`."""
    host, _, port = bind.rpartition(":")
    if host in ("0.0.0.0", "[::]", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def child_environment(redis_url: str, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env["MLPQ_HOME"] = str(home)
    env.setdefault("MLPQ_ARTIFACT_DIR", str(home / "artifacts"))
    env["PYTHONUNBUFFERED"] = "1"  # children's lines reach the terminal as they are written
    if sys.stdout.isatty():
        env.setdefault("MLPQ_LOG_FORMAT", "text")  # people read a terminal; machines read JSON
    return env


class RedisStartError(RuntimeError):
    """REDIS_URL is not reachable and no local server can stand in for it."""


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_redis(redis_url: str, home: Path, log):
    """Use the server at `redis_url` if it answers, else start a local one on its port.

    Returns the started `RedisServer`, or None when an existing server is used.
    """
    from mlpq.redis_server import RedisServer, RedisServerError, redis_reachable

    if redis_reachable(redis_url, timeout=1.0):
        log(f"using the Redis server at {redis_url}")
        return None
    parts = urlsplit(redis_url)
    host, port = parts.hostname or "localhost", parts.port or 6379
    if parts.scheme != "redis" or host not in LOCAL_HOSTS:
        raise RedisStartError(
            f"REDIS_URL={redis_url} does not answer, and a local server is only started for "
            f"redis://localhost URLs; start that server or change REDIS_URL")
    if _port_open("127.0.0.1", port):
        raise RedisStartError(
            f"something listens on port {port} but does not answer PING as REDIS_URL={redis_url} "
            f"asks (wrong password or not Redis?); stop it or change REDIS_URL")
    extra_args = ("--requirepass", parts.password) if parts.password else ()
    try:
        server = RedisServer(port=port, data_dir=home / "redis", appendonly=True,
                             extra_args=extra_args)
        server.start()
    except RedisServerError as error:
        raise RedisStartError(str(error)) from None
    log(f"started {Path(server.binary).name} (pid {server.process.pid}) on 127.0.0.1:{port}, "
        f"append-only data in {server.data_dir}, log {server.log_path}")
    return server


def announce_when_ready(supervisor: Supervisor, url: str, timeout: float = 120.0) -> None:
    """Tell the user once /readyz says 200: Redis answers and a worker replied to a ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    supervisor.write("mlpq", f"ready: {url}  (API docs at {url}/docs)")
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    if not supervisor.stopping:
        supervisor.write("mlpq", f"{url}/readyz has not answered 200 after {timeout:g}s")


def checked_environment(home: Path) -> tuple[str, dict[str, str]]:
    """REDIS_URL and the children's environment, every setting they read checked first."""
    redis_url = environment.value("REDIS_URL")
    env = child_environment(redis_url, home)
    environment.check(*CHILD_PROCESSES, environ=env)
    return redis_url, env


def run(args: SimpleNamespace) -> int:
    home = Path(args.home).resolve()
    try:  # a bad setting stops everything before anything starts, with its one-line message
        redis_url, env = checked_environment(home)
    except SettingsError as error:
        click.echo(str(error), err=True)
        return 1
    shutdown_timeout = args.shutdown_timeout
    if shutdown_timeout is None:
        shutdown_timeout = environment.value("MLPQ_GRACEFUL_TIMEOUT", env) + SHUTDOWN_MARGIN
    supervisor = Supervisor(shutdown_timeout=shutdown_timeout)
    supervisor.install_signal_handlers()
    try:
        redis_server = ensure_redis(redis_url, home, lambda line: supervisor.write("redis", line))
    except RedisStartError as error:
        supervisor.write("mlpq", f"error: {error}")
        return 1
    try:
        if supervisor.stopping:
            return 0
        bind = bind_address(args.host, args.port)
        supervisor.start(Child("api", api_command(bind, args.api_workers), env))
        supervisor.start(Child("worker", worker_command(args.workers), env))
        threading.Thread(target=announce_when_ready, daemon=True,
                         args=(supervisor, local_url(bind))).start()

        def redis_died() -> str | None:
            if redis_server is not None and not redis_server.running:
                return f"the local Redis server exited (log: {redis_server.log_path})"
            return None

        return supervisor.wait(extra_check=redis_died)
    finally:
        supervisor.stop_all()
        if redis_server is not None:
            redis_server.stop()
            supervisor.write("redis", "stopped")


@click.command("redis")
@click.option("--home", default=lambda: str(environment.value("MLPQ_HOME")), show_default="./var",
              help="the append-only file goes to HOME/redis (env MLPQ_HOME)")
def redis_command(home) -> int:
    """Use the Redis server at REDIS_URL, or run a local one on its port until stopped."""
    return run_redis(SimpleNamespace(home=home))


def run_redis(args: SimpleNamespace) -> int:
    """`mlpq redis`: the Redis part of `mlpq serve` alone, in the foreground (the Procfile uses it)."""
    try:
        redis_url = environment.value("REDIS_URL")
    except SettingsError as error:
        click.echo(str(error), err=True)
        return 1
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    try:
        server = ensure_redis(redis_url, Path(args.home).resolve(), print)
    except RedisStartError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        while not supervisor.stopping:
            if server is not None and not server.running:
                print(f"the Redis server exited (log: {server.log_path})", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        if server is not None:
            server.stop()
