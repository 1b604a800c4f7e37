"""The artifact store on S3-compatible storage against the file store, in one run.

Starts moto's standalone S3 server (the `dev` extra's `moto[server]`) on a free local port and
times, for a small and a larger MNIST model, through the ArtifactStore interface:
  save        save_model (file: atomic directory write; s3: that, then weights + manifest PUTs)
  cold load   a fresh host's first load_network (s3: download, verify SHA-256, load)
  checkpoint  save_checkpoint (what a training job pays at each checkpoint)
  cache hit   the API model cache's warm get (file: two stats; s3: the ETag stamp, re-read
              at most once a second, so almost always a dictionary look-up)
and prints s3 / file ratios. moto answers over loopback, so this is the client's own cost,
not a real network's: a remote bucket adds its round trips (a few ms each) to save and load.

Usage: python bench/artifacts.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/http.py would shadow the standard library's
# http package (which httpx imports): put the repository there instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [entry for entry in sys.path
                             if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from api.models.cache import ModelCache  # noqa: E402
from engine.network import Network  # noqa: E402
from worker.store.artifacts import ArtifactStore  # noqa: E402
from worker.store.ids import new_id  # noqa: E402
from worker.store.s3_artifacts import S3ArtifactStore, make_client  # noqa: E402

MODELS = {"784-128-10": [128], "784-512-512-10": [512, 512]}


def start_moto(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def network(hidden: list[int]) -> Network:
    layers = [{"units": units, "activation": "relu"} for units in hidden]
    net = Network.from_spec({"layers": [*layers, {"units": 10, "activation": "softmax"}]},
                            input_size=784, seed=0)
    rng = np.random.default_rng(0)
    net.fit(rng.random((256, 784)), rng.integers(0, 10, 256), epochs=1, batch_size=128)
    return net


def median_ms(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(make_store, net, rounds: int) -> dict[str, float]:
    writer, model_id, job_id = make_store(), new_id(), new_id()
    metadata = {"name": "bench", "dataset": "mnist", "created_at": "2024-01-01T00:00:00Z"}
    figures = {"save": median_ms(lambda: writer.save_model(model_id, net, metadata=metadata), rounds)}
    figures["cold load"] = median_ms(lambda: make_store().load_network(model_id), rounds)
    checkpoint = net.checkpoint()
    figures["checkpoint"] = median_ms(lambda: writer.save_checkpoint(job_id, checkpoint), rounds)
    cache = ModelCache(make_store())
    cache.get(model_id)
    figures["cache hit"] = median_ms(lambda: cache.get(model_id), rounds * 500)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        port = int(subprocess.check_output([sys.executable, "-c", (
            "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
            "print(s.getsockname()[1])")]))
        os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": "us-east-1"})
        moto = start_moto(port)
        try:
            make_client().create_bucket(Bucket="bench")

            def fresh(kind):
                """A store as a new host opens it (s3: an empty local directory each time)."""
                if kind == "file":
                    return lambda: ArtifactStore(Path(scratch) / "shared")
                client = make_client()  # made once per process, as a service does
                return lambda: S3ArtifactStore("s3://bench/mlpq", Path(scratch) / uuid.uuid4().hex,
                                               client=client)

            print(f"{'model':16} {'operation':11} {'file ms':>9} {'s3 ms':>9} {'s3/file':>8}")
            for name, hidden in MODELS.items():
                net = network(hidden)
                file = measure(fresh("file"), net, args.rounds)
                s3 = measure(fresh("s3"), net, args.rounds)
                for operation in file:
                    print(f"{name:16} {operation:11} {file[operation]:9.3f} {s3[operation]:9.3f} "
                          f"{s3[operation] / file[operation]:8.2f}")
        finally:
            moto.terminate()
            moto.wait(10)


if __name__ == "__main__":
    main()
