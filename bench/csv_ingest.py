"""Benchmark: reading an uploaded CSV table into a dataset, stage by stage, with peak memory.

Writes a ~50 MB CSV (500,000 rows x 12 columns: 10 numbers, a text column, a text target) and runs
what POST /v1/datasets runs on it (api.datasets: the streaming checks, pandas' chunked read, the
split and encoding), in a fresh process so that its peak RSS is that of the upload alone.

    python bench/csv_ingest.py                 # 500,000 rows
    python bench/csv_ingest.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/http.py would shadow the standard library's
# http package: the repository takes bench/'s place.
sys.path[0] = str(Path(__file__).resolve().parents[1])


def write_table(path: Path, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    cities = np.array(["paris", "berlin", "rome", "madrid", "lisbon"])
    labels = np.array(["low", "mid", "high"])
    with open(path, "w") as out:
        out.write(",".join([*(f"x{i}" for i in range(10)), "city", "label"]) + "\n")
        for start in range(0, rows, 50_000):
            count = min(50_000, rows - start)
            numbers = np.round(rng.normal(100, 30, (count, 10)), 4).astype(str)
            block = np.column_stack([numbers, cities[rng.integers(0, 5, count)],
                                     labels[rng.integers(0, 3, count)]])
            out.write("\n".join(",".join(row) for row in block) + "\n")


def measure(path: Path) -> dict:
    """The stages on `path`, in this (fresh) process."""
    from werkzeug.datastructures import FileStorage

    from api.datasets.ingest import Options, prepare, read_table
    from api.datasets.upload import Limits, receive

    def rss() -> float:
        """This process's peak RSS so far (VmHWM: unlike getrusage's ru_maxrss, not carried
        over from the parent across fork and exec)."""
        status = Path("/proc/self/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    limits = Limits(max_bytes=256 << 20, max_rows=2_000_000, max_columns=1000, max_classes=1000,
                    max_datasets=100)
    before, times = rss(), {}
    with open(path, "rb") as upload, tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        checked = receive(FileStorage(upload, filename=path.name), "file", Path(workdir), limits)
        times["checks"] = time.perf_counter() - started
        table = read_table(checked)
        times["pandas"] = time.perf_counter() - started - times["checks"]
        record, arrays = prepare(table, None, Options(name=path.name), limits)
        times["split_encode"] = time.perf_counter() - started - times["checks"] - times["pandas"]
    return {"file_bytes": path.stat().st_size, "rows": record["train_size"] + record["test_size"],
            "input_size": record["input_size"], "seconds": times,
            "rss_before": before, "rss_peak": rss()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "table.csv"
        write_table(path, args.rows)
        child = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                               capture_output=True, text=True)
    result = json.loads(child.stdout.splitlines()[-1])
    size, grown = result["file_bytes"], result["rss_peak"] - result["rss_before"]
    stages = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result["seconds"].items())
    print(f"{size / 1e6:.1f} MB, {result['rows']:,} rows -> {result['input_size']} inputs: "
          f"{stages}; total {sum(result['seconds'].values()):.2f} s")
    print(f"peak RSS {result['rss_peak'] / 1e6:.0f} MB, {grown / 1e6:.0f} MB over the "
          f"process's {result['rss_before'] / 1e6:.0f} MB before reading: {grown / size:.2f}x "
          "the file")


if __name__ == "__main__":
    main()
