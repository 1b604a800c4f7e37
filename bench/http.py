"""Prediction over HTTP on the real stack: gunicorn (production config) measured with wrk.

Starts a private Redis (mlpq/redis_server.py), trains a 784-128-10 MNIST model with the
engine and stores it through the worker's ArtifactStore, starts
`gunicorn -c python:api.gunicorn_conf 'api:create_app()'`, then measures in one run:

1. wrk (Debian package `wrk`) at 1, 8 and 32 connections: GET /healthz (the stack's own
   baseline), single-sample V1 predict (JSON) and single-sample V2 infer (binary tensors):
   requests/s, p50, p99, and each predict's throughput as a fraction of /healthz.
2. One request of 1000 inputs: server time (the Server-Timing header: decode + infer + encode
   inside the view) and client round trip, on the V2 binary path and the V1 / V2 JSON paths.
3. Parsing the 1000x784 JSON body in-process: the standard library's json vs orjson.

Usage: python bench/http.py [--duration 12] [--rounds 4] [--connections 1,8,32] [--workers 2]
Targets (2-core machine): predict >= 70% of healthz req/s; p50 <= 3 ms at 1 client; 1000-input
batch <= 20 ms server time on the binary path.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory heads sys.path and "http.py" would shadow the
# standard library's http package (which httpx imports): put the repository there instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [entry for entry in sys.path
                             if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402

from engine import Network, datasets  # noqa: E402
from mlpq.redis_server import RedisServer, free_port  # noqa: E402
from worker.store.artifacts import ArtifactStore  # noqa: E402
from worker.store.ids import new_id  # noqa: E402

HEADER_LENGTH = "Inference-Header-Content-Length"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"  # where this project's machines keep MNIST
if "MLPQ_DATA_DIR" not in os.environ and SHARED_DATASETS.is_dir():
    os.environ["MLPQ_DATA_DIR"] = str(SHARED_DATASETS)
# wrk runs this per request; the body comes from a file so binary tensors survive intact.
WRK_SCRIPT = """
local path = os.getenv("BENCH_BODY")
if path then
  local file = io.open(path, "rb"); wrk.body = file:read("*all"); file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
  local header_length = os.getenv("BENCH_HEADER_LENGTH")
  if header_length then wrk.headers["Inference-Header-Content-Length"] = header_length end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def train_and_store(artifact_dir: Path) -> tuple[str, np.ndarray]:
    """A 1-epoch 784-128-10 model saved through the worker's ArtifactStore; also test digits."""
    (X_train, y_train), (X_test, y_test) = datasets.load("mnist")
    net = Network.from_spec({"layers": [{"units": 128, "activation": "relu"},
                                        {"units": 10, "activation": "softmax"}]}, input_size=784)
    net.fit(X_train, y_train, epochs=1, batch_size=128, seed=0)
    model_id = new_id()
    ArtifactStore(artifact_dir).save_model(model_id, net, metadata={
        "name": "bench-http", "dataset": "mnist", "evaluation": net.evaluate(X_test, y_test)})
    return model_id, X_test


def start_gunicorn(env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - the server writes to it until stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api:create_app()"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{env['MLPQ_BIND']}"
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + log_path.read_text()[-3000:])
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz:\n" + log_path.read_text()[-3000:])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """pid -> user + system CPU time used so far (from /proc/<pid>/stat)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return seconds


def server_pids(master: int) -> list[int]:
    """gunicorn's master and its workers."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (FileNotFoundError, ValueError, IndexError):
            continue
    return pids


def wrk(url: str, connections: int, duration: int, script: Path, body: Path | None = None,
        content_type: str = "", header_length: int | None = None, server: int | None = None):
    """One wrk run; with `server` (gunicorn's pid) also the server's CPU time per request."""
    env = dict(os.environ)
    if body is not None:
        env.update(BENCH_BODY=str(body), BENCH_CONTENT_TYPE=content_type)
        if header_length is not None:
            env["BENCH_HEADER_LENGTH"] = str(header_length)
    command = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections),
               "-d", f"{duration}s", "--timeout", "10s", "-s", str(script), url]
    before = cpu_seconds(server_pids(server)) if server else {}
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(server_pids(server)) if server else {}
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, micros, p50, p99, errors = map(int, line.split()[1:])
    # gunicorn recycles a worker after max_requests: its CPU time then cannot be counted.
    cpu_us = (sum(after.values()) - sum(before.values())) / max(requests, 1) * 1e6 \
        if server and before.keys() == after.keys() else None
    return {"rps": requests / (micros / 1e6), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
            "errors": errors, "requests": requests, "cpu_us": cpu_us}


def interleaved(targets: dict, connections: int, args, script: Path, server: int) -> dict:
    """Each target for `duration` seconds in all, in `rounds` alternating slices.

    Other work on a shared machine comes and goes; alternating the endpoints slice by slice
    exposes them to the same conditions, and each ratio is taken within a round (the first
    target, /healthz, is the baseline) before the median over rounds is reported. The
    server's CPU time per request does not depend on who else uses the cores, so its ratio
    ("capacity") is the steadier figure on a busy machine.
    """
    slice_seconds = max(1, round(args.duration / args.rounds))
    runs = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, target in targets.items():
            runs[name].append(wrk(target[0], connections, slice_seconds, script, *target[1:],
                                  server=server))
    baseline = runs[next(iter(targets))]

    def median(results, key):
        values = [run[key] for run in results if run[key] is not None]
        return statistics.median(values) if values else float("nan")

    return {name: {
        "rps": median(results, "rps"), "p50_ms": median(results, "p50_ms"),
        "p99_ms": median(results, "p99_ms"), "cpu_us": median(results, "cpu_us"),
        "errors": sum(run["errors"] for run in results),
        "ratio": statistics.median(run["rps"] / base["rps"]
                                   for run, base in zip(results, baseline, strict=True)),
        "capacity": median(baseline, "cpu_us") / median(results, "cpu_us"),
    } for name, results in runs.items()}


def single_sample_bodies(sample: np.ndarray, directory: Path) -> dict:
    """name -> (path, content type, header length) for one-sample V1 JSON and V2 binary."""
    v1 = directory / "v1.json"
    v1.write_bytes(orjson.dumps({"inputs": [sample]}, option=orjson.OPT_SERIALIZE_NUMPY))
    tensor = np.ascontiguousarray(sample[None, :], dtype="<f4")
    header = orjson.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 784],
                                       "parameters": {"binary_data_size": tensor.nbytes}}],
                           "parameters": {"binary_data_output": True}})
    v2 = directory / "v2.bin"
    v2.write_bytes(header + tensor.tobytes())
    return {"v1 JSON predict": (v1, "application/json", None),
            "v2 binary infer": (v2, "application/octet-stream", len(header))}


def server_timings(response: httpx.Response) -> dict[str, float]:
    """The Server-Timing header as {"decode": ms, "infer": ms, "encode": ms}."""
    parts = (part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(","))
    return {name: float(milliseconds) for name, milliseconds in parts}


def batch_requests(samples: np.ndarray) -> dict:
    """name -> (path suffix, body, headers) for one request carrying all `samples`."""
    tensor = np.ascontiguousarray(samples, dtype="<f4")
    header = orjson.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                       "shape": list(tensor.shape),
                                       "parameters": {"binary_data_size": tensor.nbytes}}],
                           "parameters": {"binary_data_output": True}})
    v2_json = orjson.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                        "shape": list(tensor.shape), "data": tensor.ravel()}]},
                           option=orjson.OPT_SERIALIZE_NUMPY)
    v1_json = orjson.dumps({"inputs": tensor}, option=orjson.OPT_SERIALIZE_NUMPY)
    return {
        "v2 binary": ("v2", header + tensor.tobytes(),
                      {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}),
        "v2 JSON": ("v2", v2_json, {"Content-Type": "application/json"}),
        "v1 JSON": ("v1", v1_json, {"Content-Type": "application/json"}),
    }


def measure_batches(url: str, model_id: str, samples: np.ndarray, repeats: int) -> dict:
    paths = {"v1": f"/v1/models/{model_id}/predict", "v2": f"/v2/models/{model_id}/infer"}
    results = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for name, (kind, body, headers) in batch_requests(samples).items():
            timings, client_ms = [], []
            for attempt in range(repeats + 2):
                started = time.perf_counter()
                response = client.post(paths[kind], content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if attempt >= 2:  # two warm-ups: model cache, allocator, BLAS threads
                    timings.append(server_timings(response))
                    client_ms.append(elapsed)
            results[name] = {
                "server_ms": statistics.median(sum(timing.values()) for timing in timings),
                **{f"{part}_ms": statistics.median(timing[part] for timing in timings)
                   for part in timings[0]},
                "client_ms": statistics.median(client_ms), "body_mb": len(body) / 1e6}
    return results


def best_ms(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def json_parse_times(samples: np.ndarray, repeats: int = 5) -> dict:
    """Parsing the 1000-sample JSON body with each parser, and the lists -> one array step."""
    body = orjson.dumps({"inputs": samples.astype(np.float32)}, option=orjson.OPT_SERIALIZE_NUMPY)
    lists = orjson.loads(body)["inputs"]
    return {"json": best_ms(lambda: json.loads(body), repeats),
            "orjson": best_ms(lambda: orjson.loads(body), repeats),
            "to array": best_ms(lambda: np.array(lists), repeats)}


def blas_thread_times(artifact_dir: Path, model_id: str, samples: np.ndarray,
                      repeats: int = 20) -> dict:
    """The served forward pass of 1000 inputs with 1 and with 2 OpenBLAS threads, alternated."""
    from threadpoolctl import threadpool_limits

    from api.models.cache import ModelCache

    model = ModelCache(ArtifactStore(artifact_dir)).get(model_id)
    batch = np.ascontiguousarray(samples, dtype=np.float32)
    times = {1: [], 2: []}
    for _ in range(repeats):
        for threads in times:
            with threadpool_limits(limits=threads, user_api="blas"):
                times[threads].append(best_ms(lambda: model.predict_proba(batch), 1))
    return {threads: statistics.median(values) for threads, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=12,
                        help="seconds per endpoint and concurrency, split over --rounds")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating slices per endpoint (medians are reported)")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--workers", default=os.environ.get("MLPQ_WORKERS", "2"))
    parser.add_argument("--batch-repeats", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    connections = [int(count) for count in args.connections.split(",")]

    work = Path(tempfile.mkdtemp(prefix="mlpq-bench-http-"))
    redis_server = RedisServer(data_dir=work / "redis").start()
    gunicorn = None
    try:
        print("training a 784-128-10 model for 1 epoch with the engine ...", flush=True)
        model_id, X_test = train_and_store(work / "artifacts")
        env = {**os.environ, "REDIS_URL": redis_server.url, "MLPQ_ARTIFACT_DIR": str(work / "artifacts"),
               "MLPQ_BIND": f"127.0.0.1:{free_port()}", "MLPQ_WORKERS": args.workers,
               "PYTHONPATH": str(REPO)}
        gunicorn = start_gunicorn(env, work / "gunicorn.log")
        url = f"http://{env['MLPQ_BIND']}"
        script = work / "bench.lua"
        script.write_text(WRK_SCRIPT)
        bodies = single_sample_bodies(X_test[0], work)
        targets = {"healthz": (f"{url}/healthz", None, "", None),
                   "v1 JSON predict": (f"{url}/v1/models/{model_id}/predict", *bodies["v1 JSON predict"]),
                   "v2 binary infer": (f"{url}/v2/models/{model_id}/infer", *bodies["v2 binary infer"])}
        # Not a prediction: what receiving the single-sample JSON body costs this stack at all
        # (gunicorn reads it, Flask answers 405), the floor under any POST of that size.
        targets["POST body, 405"] = (f"{url}/healthz", *bodies["v1 JSON predict"])
        for target in targets.values():  # warm every worker's cache and code paths
            wrk(target[0], 8, 2, script, *target[1:])

        print(f"\nwrk, {args.duration} s per endpoint in {args.rounds} alternating slices (medians), "
              f"gunicorn {args.workers} workers (gthread), {os.cpu_count()} CPUs shared with wrk")
        print("(vs healthz: req/s ratio; server CPU: gunicorn's CPU time per request; capacity: "
              "healthz's server CPU per request / this one's)")
        print(f"{'endpoint':16s} {'conns':>5s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} "
              f"{'errors':>6s} {'vs healthz':>10s} {'server CPU':>10s} {'capacity':>8s}")
        for count in connections:
            for name, result in interleaved(targets, count, args, script, gunicorn.pid).items():
                errors = "(405)" if name == "POST body, 405" else str(result["errors"])
                print(f"{name:16s} {count:5d} {result['rps']:7.0f} {result['p50_ms']:7.2f} "
                      f"{result['p99_ms']:7.2f} {errors:>6s} {result['ratio']:10.0%} "
                      f"{result['cpu_us']:7.0f} us {result['capacity']:8.0%}", flush=True)

        print(f"\none request of 1000 inputs (median of {args.batch_repeats}; server time from "
              "the Server-Timing header)")
        for name, result in measure_batches(url, model_id, X_test[:1000], args.batch_repeats).items():
            print(f"{name:10s} body {result['body_mb']:5.2f} MB  server {result['server_ms']:7.2f} ms"
                  f" = receive {result['receive_ms']:.2f} + decode {result['decode_ms']:.2f} + "
                  f"infer {result['infer_ms']:.2f} + encode {result['encode_ms']:.2f}; client "
                  f"round trip {result['client_ms']:.2f} ms")

        times = json_parse_times(X_test[:1000])
        print(f"\nparse 1000x784 JSON numbers: json {times['json']:.1f} ms, orjson "
              f"{times['orjson']:.1f} ms ({times['json'] / times['orjson']:.1f}x faster); "
              f"lists -> array {times['to array']:.1f} ms")
        blas = blas_thread_times(work / "artifacts", model_id, X_test[:1000])
        print(f"forward pass of 1000 inputs in-process (median of 20): 1 BLAS thread "
              f"{blas[1]:.2f} ms, 2 BLAS threads {blas[2]:.2f} ms")
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()
            gunicorn.wait(30)
        redis_server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
