"""`python -m engine`: train XOR end to end in a real subprocess, then evaluate and predict."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import ProgressBar
from engine.network import Network

ROOT = Path(__file__).resolve().parents[2]
XOR_JOB = {"dataset": "xor",
           "model": {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                     "loss": "binary_cross_entropy", "init": "xavier"},
           "training": {"epochs": 300, "batch_size": 4, "seed": 0,
                        "optimizer": {"name": "adam", "learning_rate": 0.1}}}


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def job_file(tmp_path, job, name="job.json"):
    path = tmp_path / name
    path.write_text(json.dumps(job))
    return path


def test_train_xor_prints_progress_and_saves_a_model(tmp_path):
    result = run("train", job_file(tmp_path, XOR_JOB), "--save", tmp_path / "model")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training <Network 2-3-1 (tanh,sigmoid)") and "on xor" in lines[0]
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert epoch_lines[0].startswith("epoch   1/300 [##############################] 1/1 loss ")
    assert epoch_lines[-1].startswith("epoch 300/300") and len(epoch_lines) <= 51
    assert "test accuracy: 1.0000 (4/4" in result.stdout
    assert (tmp_path / "model" / "manifest.json").is_file()

    evaluated = run("evaluate", tmp_path / "model")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "xor test set: accuracy 1.0000" in evaluated.stdout and "confusion matrix" in evaluated.stdout

    rows = tmp_path / "rows.json"
    rows.write_text("[[0, 0], [0, 1], [1, 0], [1, 1]]")
    predicted = run("predict", tmp_path / "model", "--input", rows)
    assert predicted.returncode == 0, predicted.stderr
    records = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [record["label"] for record in records] == [0, 1, 1, 0]
    assert [record["class"] for record in records] == ["false", "true", "true", "false"]


def test_epochs_option_overrides_the_file(tmp_path):
    result = run("train", job_file(tmp_path, XOR_JOB), "--epochs", 3)
    assert result.returncode == 0, result.stderr
    assert "epoch 3/3" in result.stdout and "test accuracy:" in result.stdout


def test_spec_violations_are_listed_with_paths_and_rules(tmp_path):
    job = {**XOR_JOB, "model": {"layers": [{"units": 3, "activation": "softmax"},
                                           {"units": 3, "activation": "sigmoid"}],
                                "loss": "binary_cross_entropy"},
           "training": {"epochs": 0}}
    result = run("train", job_file(tmp_path, job))
    assert result.returncode == 2 and result.stdout == ""
    assert "model.layers[0].activation: softmax is only allowed on the output layer [output_only]" in result.stderr
    assert "model.layers[1].units:" in result.stderr and "[output_width]" in result.stderr
    assert "training.epochs: must be >= 1, got 0 [range]" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "message"), [("{not json", "is not valid JSON"),
                                                   ("[1, 2]", "must hold a JSON object"),
                                                   ('{"modle": {}}', "unknown top-level fields")])
def test_malformed_job_file_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "job.json"
    path.write_text(content)
    result = run("train", path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_missing_dataset_says_where_to_put_the_files(tmp_path):
    job = {**XOR_JOB, "dataset": "mnist", "model": {"layers": [{"units": 10, "activation": "softmax"}]}}
    # an unreachable local mirror stands for being offline: no test touches the network
    result = run("train", job_file(tmp_path, job), "--data-dir", tmp_path / "empty",
                 env={"MLPQ_DATASET_MIRRORS": "http://127.0.0.1:9/"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Put the four files" in result.stderr and str(tmp_path / "empty" / "mnist") in result.stderr


def test_damaged_model_is_reported_not_raised(tmp_path):
    (tmp_path / "model").mkdir()
    result = run("evaluate", tmp_path / "model")
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr


def test_ctrl_c_stops_after_the_batch_and_still_reports(tmp_path):
    job = {**XOR_JOB, "training": {**XOR_JOB["training"], "epochs": 10_000_000}}
    process = subprocess.Popen([sys.executable, "-m", "engine", "train", str(job_file(tmp_path, job))],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("training")
        assert process.stdout.readline().startswith("epoch")  # the loop is running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping after this batch" in stderr
    assert "stopped early (stopped)" in stdout and "test accuracy:" in stdout


class Recorder(io.StringIO):
    def isatty(self):
        return False


def test_progress_bar_prints_one_line_per_shown_epoch():
    net = Network.from_spec(XOR_JOB["model"], input_size=2, seed=0)
    stream = Recorder()
    inputs, labels = [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]
    net.fit(inputs, labels, epochs=7, batch_size=2, callbacks=[ProgressBar(stream, width=10, every=3)])
    lines = stream.getvalue().splitlines()
    assert [line.split(" [")[0] for line in lines] == ["epoch 1/7", "epoch 3/7", "epoch 6/7", "epoch 7/7"]
    assert lines[0].startswith("epoch 1/7 [##########] 2/2 loss ") and "samples/s" in lines[0]
