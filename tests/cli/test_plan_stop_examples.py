"""Commands on the endpoints added alongside: stop-and-keep, plans and the built-in examples."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

import mlpq
from tests.support.cli import MLPQ, json_lines, run_mlpq, write_json
from tests.support.specs import SMALL_MNIST_JOB, with_training

LONG = with_training(SMALL_MNIST_JOB, epochs=50)


def test_detach_off_a_terminal_then_stop_keeps_the_model(url, client):
    job = client.train(LONG)
    # Started with SIGINT ignored, as a script's background job is: Ctrl-C still detaches.
    watcher = subprocess.Popen([MLPQ, "--url", url, "status", job.id, "--watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        while not watcher.stdout.readline().startswith("epoch"):  # watching, an epoch done
            assert watcher.poll() is None, watcher.stderr.read()
        watcher.send_signal(signal.SIGINT)
        stdout, stderr = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0 and f"detached; job {job.id} goes on" in stderr
    assert job.refresh().status == "running"

    stopped = run_mlpq("stop", job.id, url=url)
    assert stopped.returncode == 0 and "its model is kept" in stopped.stdout
    watched = run_mlpq("status", job.id, "--watch", url=url)
    assert watched.returncode == 0, watched.stderr
    assert "stopped early (stopped)" in watched.stdout and "test accuracy" in watched.stdout
    record = job.refresh().record
    assert record["status"] == "succeeded" and record["stop_reason"] == "stopped" and record["model_id"]
    assert len(job.history) < 50
    again = run_mlpq("stop", job.id, url=url)
    assert again.returncode == 3 and "409" in again.stderr
    with pytest.raises(mlpq.Conflict):
        job.stop()


def test_plan_shows_layers_costs_and_warnings(url, tmp_path):
    spec = write_json(tmp_path / "troubled.json", {
        "dataset": "mnist", "model": {"layers": [{"units": 30, "activation": "sigmoid"},
                                                  {"units": 10, "activation": "sigmoid"}],
                                       "loss": "mse", "init": "normal"},
        "training": {"epochs": 2, "optimizer": {"name": "sgd", "learning_rate": 3.0}}})
    shown = run_mlpq("plan", spec, url=url)
    assert shown.returncode == 0, shown.stderr
    assert "23,860 parameters" in shown.stdout and "warning" in shown.stdout
    found = json.loads(run_mlpq("--json", "plan", spec, url=url).stdout)
    assert found["parameters"] == 784 * 30 + 30 + 30 * 10 + 10
    assert [layer["units"] for layer in found["layers"]] == [30, 10] and found["warnings"]
    refused = run_mlpq("plan", "--dataset", "xor", "--layers", "0:relu", url=url)
    assert refused.returncode == 2 and "model.layers[0].units" in refused.stderr


def test_examples_list_and_train_one(url, tmp_path):
    listed = json.loads(run_mlpq("--json", "examples", url=url).stdout)
    names = [example["name"] for example in listed]
    assert "xor-log-loss" in names and all("spec" in example for example in listed)
    table = run_mlpq("examples", url=url)
    assert table.returncode == 0 and "xor-log-loss" in table.stdout
    trained = run_mlpq("--json", "train", "--example", "and-perceptron", "--watch", url=url)
    assert trained.returncode == 0, trained.stderr
    result = json_lines(trained.stdout)[-1]["data"]
    assert result["status"] == "succeeded" and result["evaluation"]["accuracy"] == 1.0
    here = run_mlpq("train", "--local", "--example", "and-perceptron")
    assert here.returncode == 0 and "test accuracy 1.0000 (4/4)" in here.stdout
    missing = run_mlpq("train", "--example", "no-such-example", url=url)
    assert missing.returncode == 3 and "no example" in missing.stderr
    missing_here = run_mlpq("train", "--local", "--example", "no-such-example")
    assert missing_here.returncode == 2 and "known examples: and-perceptron" in missing_here.stderr
