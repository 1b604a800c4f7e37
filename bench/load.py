"""Load on the real stack: predicts at saturation plus a steady stream of training jobs.

Starts a private Redis (mlpq/redis_server.py), one `celery -A worker worker` and gunicorn with
the production config (`gunicorn -c python:api.gunicorn_conf 'api:create_app()'`), trains the
model it serves through the stack itself (a 1-epoch MNIST job), then measures in one run:

1. baseline: single-sample V1 predicts (JSON) from wrk at --connections for --baseline s, alone;
2. load: the same for --duration s while a client submits one small XOR job every
   --job-interval s through the API and follows each one to its end.

Reports predict requests/s, p50, p99 and errors in both phases (and load / baseline), job
submissions against successes, lost jobs (not finished --grace s after the load ends) and job
turnaround (created_at -> finished_at). Target: zero errors, zero lost jobs.

Usage: python bench/load.py [--duration 60] [--connections 32] [--job-interval 2] [--baseline 15]
Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory heads sys.path and bench/http.py would shadow the standard
# library's http package (which httpx imports): put the repository there instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [entry for entry in sys.path
                             if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402

import httpx  # noqa: E402
import orjson  # noqa: E402

from engine import datasets  # noqa: E402
from mlpq.redis_server import RedisServer, free_port  # noqa: E402
from worker.store.job_scripts import TERMINAL_STATUSES  # noqa: E402

SHARED_DATASETS = REPO.parent / "shared" / "datasets"
if "MLPQ_DATA_DIR" not in os.environ and SHARED_DATASETS.is_dir():
    os.environ["MLPQ_DATA_DIR"] = str(SHARED_DATASETS)
SERVED_MODEL_JOB = {"name": "load-served", "dataset": "mnist",
                    "model": {"layers": [{"units": 128, "activation": "relu"},
                                         {"units": 10, "activation": "softmax"}]},
                    "training": {"epochs": 1, "batch_size": 128}}
XOR_JOB = {"name": "load-xor", "dataset": "xor",
           "model": {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                     "loss": "binary_cross_entropy", "init": "xavier"},
           "training": {"epochs": 200, "batch_size": 4, "optimizer": {"name": "adam", "learning_rate": 0.05}}}
# wrk posts the body file and prints one machine-readable line at the end.
WRK_SCRIPT = """
local file = io.open(os.getenv("LOAD_BODY"), "rb"); wrk.body = file:read("*all"); file:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def start(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen | None) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after 20 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_ready(client: httpx.Client, processes: list[subprocess.Popen], timeout: float = 120) -> None:
    """Until /readyz says Redis and a worker answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a service process exited during start-up; see the logs")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the stack did not become ready")


def run_job(client: httpx.Client, body: dict, timeout: float = 600) -> dict:
    response = client.post("/v1/jobs", json=body)
    response.raise_for_status()
    job_id, deadline = response.json()["id"], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in TERMINAL_STATUSES:
            return job
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} did not finish in {timeout} s")


def wrk(url: str, connections: int, seconds: int, script: Path, body: Path) -> dict:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(script), url]
    output = subprocess.run(command, env={**os.environ, "LOAD_BODY": str(body)},
                            capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, micros, p50, p99, bad_status, socket_errors = map(int, line.split()[1:])
    return {"requests": requests, "rps": requests / (micros / 1e6), "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000, "errors": bad_status + socket_errors,
            "non_2xx": bad_status, "socket_errors": socket_errors}


class JobStream(threading.Thread):
    """Submits one XOR job every `interval` s until `stop` is set; remembers ids and failures."""

    def __init__(self, url: str, interval: float, stop_event: threading.Event):
        super().__init__(daemon=True)
        self.url, self.interval, self.stop_event = url, interval, stop_event
        self.job_ids: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                try:
                    response = client.post("/v1/jobs", json=XOR_JOB)
                    if response.status_code == 202:
                        self.job_ids.append(response.json()["id"])
                    else:
                        self.failures.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                next_at += self.interval
                self.stop_event.wait(max(0.0, next_at - time.monotonic()))


def follow(client: httpx.Client, job_ids: list[str], grace: float) -> dict[str, dict]:
    """Each job's final record, or its last record if it had not finished after `grace` s."""
    deadline, jobs = time.monotonic() + grace, {}
    pending = list(job_ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            response = client.get(f"/v1/jobs/{job_id}")
            jobs[job_id] = response.json() if response.status_code == 200 else {"status": "missing"}
            if jobs[job_id]["status"] in TERMINAL_STATUSES:
                pending.remove(job_id)
        time.sleep(0.5)
    return jobs


def turnaround_seconds(job: dict) -> float | None:
    if not job.get("finished_at"):
        return None
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(job["finished_at"]) - parse(job["created_at"])).total_seconds()


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, Python "
            f"{platform.python_version()}; load average before the run: {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--baseline", type=int, default=15, help="seconds of predicts alone first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--job-interval", type=float, default=2.0)
    parser.add_argument("--grace", type=float, default=120.0,
                        help="seconds after the load for submitted jobs to finish")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    print(f"machine: {machine()}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="mlpq-bench-load-"))
    redis_server = RedisServer(data_dir=work / "redis", appendonly=True).start()
    env = {**os.environ, "REDIS_URL": redis_server.url, "MLPQ_ARTIFACT_DIR": str(work / "artifacts"),
           "MLPQ_BIND": f"127.0.0.1:{free_port()}", "PYTHONPATH": str(REPO)}
    url = f"http://{env['MLPQ_BIND']}"
    worker = gunicorn = None
    try:
        worker = start([sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO"],
                       env, work / "worker.log")
        gunicorn = start([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
                          "api:create_app()"], env, work / "gunicorn.log")
        with httpx.Client(base_url=url, timeout=30) as client:
            wait_ready(client, [worker, gunicorn])
            print("training the served model (784-128-10, 1 MNIST epoch) through the stack ...",
                  flush=True)
            served = run_job(client, SERVED_MODEL_JOB)
            assert served["status"] == "succeeded", served["error"]
            _, (X_test, _) = datasets.load("mnist")
            body = work / "predict.json"
            body.write_bytes(orjson.dumps({"inputs": [X_test[0]]}, option=orjson.OPT_SERIALIZE_NUMPY))
            script = work / "load.lua"
            script.write_text(WRK_SCRIPT)
            predict_url = f"{url}/v1/models/{served['model_id']}/predict"
            assert client.post(predict_url.removeprefix(url), content=body.read_bytes(),
                               headers={"Content-Type": "application/json"}).status_code == 200

            print(f"baseline: {args.baseline} s of predicts alone ...", flush=True)
            baseline = wrk(predict_url, args.connections, args.baseline, script, body)
            print(f"load: {args.duration} s of predicts + one XOR job every {args.job_interval:g} s ...",
                  flush=True)
            stop_event = threading.Event()
            stream = JobStream(url, args.job_interval, stop_event)
            stream.start()
            loaded = wrk(predict_url, args.connections, args.duration, script, body)
            stop_event.set()
            stream.join()
            jobs = follow(client, stream.job_ids, args.grace)
        report(args, baseline, loaded, stream, jobs)
    finally:
        stop(gunicorn)
        stop(worker)
        redis_server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def report(args, baseline: dict, loaded: dict, stream: JobStream, jobs: dict[str, dict]) -> None:
    statuses = [job["status"] for job in jobs.values()]
    succeeded = statuses.count("succeeded")
    lost = len(stream.job_ids) - sum(status in TERMINAL_STATUSES for status in statuses)
    turnaround = sorted(t for job in jobs.values() if (t := turnaround_seconds(job)) is not None)
    print(f"\npredicts, {args.connections} connections (single-sample V1 JSON):")
    print(f"  {'phase':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for name, result in [(f"alone ({args.baseline} s)", baseline),
                         (f"with a job every {args.job_interval:g} s ({args.duration} s)", loaded)]:
        print(f"  {name:<34} {result['rps']:8.0f} {result['p50_ms']:8.2f} {result['p99_ms']:8.2f} "
              f"{result['requests']:9d} {result['errors']:7d}")
    print(f"  throughput under training load / alone: {loaded['rps'] / baseline['rps']:.2f}")
    print(f"jobs: {len(stream.job_ids)} submitted, {succeeded} succeeded, "
          f"{statuses.count('failed')} failed, {lost} lost (not finished {args.grace:g} s after), "
          f"{len(stream.failures)} submissions refused")
    if turnaround:
        print(f"  turnaround (created -> finished): p50 {statistics.median(turnaround):.2f} s, "
              f"max {turnaround[-1]:.2f} s")
    for failure in stream.failures[:5]:
        print(f"  refused: {failure}")
    ok = baseline["errors"] == loaded["errors"] == 0 and lost == 0 and not stream.failures \
        and succeeded == len(stream.job_ids)
    print("target (zero errors, zero lost jobs):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
