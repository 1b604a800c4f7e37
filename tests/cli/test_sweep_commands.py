"""`mlpq sweep` and `mlpq sweeps` driven as the installed console script against the real stack."""

from __future__ import annotations

import csv
import io

import pexpect

from tests.support.cli import json_lines, run_mlpq, spawn, write_json
from tests.support.specs import XOR_MODEL, adam

XOR_SWEEP = {
    "name": "cli-xor-sweep", "seeds": [0, 1], "metric": {"name": "accuracy", "goal": "max"},
    "base": {"dataset": "xor",
             "model": XOR_MODEL,
             "training": {"epochs": 40, "batch_size": 4, "early_stopping": None,
                          "optimizer": adam(0.05)}},
    "parameters": {"training.optimizer.learning_rate": {"values": [0.05, 0.01]}},
}


def test_sweep_watch_prints_progress_lines_then_the_table_when_piped(url, client, tmp_path):
    spec = write_json(tmp_path / "sweep.json", XOR_SWEEP)
    plot = tmp_path / "sweep.png"
    done = run_mlpq("sweep", spec, "--watch", "--interval", "0.2", "--plot", plot, url=url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "\r" not in done.stdout
    progress = [line for line in lines if line.startswith("sweep ")]
    assert progress[-1].startswith("sweep ") and " succeeded: 4/4 runs finished" in progress[-1]
    sweep_id = progress[0].split()[1]
    header = lines.index(next(line for line in lines if line.startswith("#\t")))
    assert lines[header].split("\t")[:3] == ["#", "training.optimizer.learning_rate",
                                               "accuracy mean ± std"]
    assert len(lines[header + 1:header + 3]) == 2 and lines[-1] == f"saved {plot}"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = client.sweep(sweep_id)
    assert record["status"] == "succeeded"

    listed = run_mlpq("--json", "sweeps", url=url)
    assert sweep_id in {item["id"] for item in json_lines(listed.stdout)[0]}
    table = run_mlpq("sweeps", sweep_id, "--csv", url=url)
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [float(row["accuracy_mean"]) for row in rows] == [row["mean"] for row in record["results"]]
    shown = run_mlpq("sweeps", sweep_id, "--json", url=url)
    assert json_lines(shown.stdout)[0]["results"] == record["results"]


def test_sweep_json_prints_one_object_per_look(url, tmp_path):
    spec = write_json(tmp_path / "sweep.json", {**XOR_SWEEP, "seeds": [3]})
    done = run_mlpq("sweep", spec, "--watch", "--json", "--interval", "0.2", url=url)
    assert done.returncode == 0, done.stderr
    looks = json_lines(done.stdout)
    assert looks[-1]["status"] == "succeeded" and looks[-1]["progress"]["finished"] == 2


def test_a_bad_sweep_shows_the_run_and_field_and_exits_2(url, tmp_path):
    bad = {**XOR_SWEEP, "parameters": {"model.layers[0].units": {"values": [4, 0]}}}
    done = run_mlpq("sweep", write_json(tmp_path / "bad.json", bad), url=url)
    assert done.returncode == 2
    assert "runs[2].model.layers[0].units" in done.stderr and "(run 3: units=0, seed 1)" in done.stderr
    assert "Traceback" not in done.stderr


def test_sweep_watch_draws_a_live_table_on_a_terminal(url, tmp_path):
    spec = write_json(tmp_path / "sweep.json", {**XOR_SWEEP, "seeds": [5]})
    terminal = spawn("sweep", spec, "--watch", "--interval", "0.2", url=url)
    terminal.expect(r"sweep [0-9a-f]{32} (queued|running)")
    terminal.expect(r"learning_rate")  # the table's header, inside the live display
    terminal.expect(r"succeeded: 2/2 runs finished")
    terminal.expect(r"accuracy mean")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0
