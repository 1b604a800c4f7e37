"""`mlpq train --local`, `predict --local`, `evaluate`: the engine in this process, no service."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.support.cli import MLPQ, json_lines, run_mlpq, write_json
from tests.support.specs import TUTORIAL_XOR_JOB, with_training

ROWS = [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_train_xor_locally_then_predict_and_evaluate_the_saved_model(tmp_path):
    spec = write_json(tmp_path / "xor.json", TUTORIAL_XOR_JOB)
    result = run_mlpq("train", spec, "--local", "--save", tmp_path / "model")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training <Network 2-3-1 (tanh,sigmoid)") and "on xor here" in lines[0]
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    # piped: exactly one plain line per epoch and no carriage returns
    assert [line.split()[1] for line in epoch_lines] == [f"{e}/300" for e in range(1, 301)]
    assert "\r" not in result.stdout and "\x1b[" not in result.stdout
    assert "test accuracy 1.0000 (4/4)" in result.stdout
    assert f"saved the model to {tmp_path / 'model'}" in result.stdout
    assert (tmp_path / "model" / "manifest.json").is_file()

    rows = write_json(tmp_path / "rows.json", ROWS)
    predicted = run_mlpq("--json", "predict", "--local", tmp_path / "model", rows)
    assert predicted.returncode == 0, predicted.stderr
    answers = json.loads(predicted.stdout)
    assert [a["label"] for a in answers] == [0, 1, 1, 0]
    assert [a["class"] for a in answers] == ["false", "true", "true", "false"]
    assert all(abs(sum(a["probabilities"]) - 1) < 1e-5 for a in answers)

    shown = run_mlpq("predict", "--local", tmp_path / "model", rows)
    assert shown.returncode == 0 and "rows.json[1]: true" in shown.stdout and "◀" in shown.stdout

    evaluated = run_mlpq("evaluate", tmp_path / "model")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "xor test set: accuracy 1.0000" in evaluated.stdout and "confusion matrix" in evaluated.stdout


def test_json_output_of_a_local_run_is_one_object_per_event(tmp_path):
    spec = write_json(tmp_path / "xor.json", TUTORIAL_XOR_JOB)
    result = run_mlpq("train", spec, "--local", "--epochs", "5", "--json")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [e["data"]["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3, 4, 5]
    assert {e["event"] for e in events} == {"status", "progress", "epoch", "result"}
    assert events[-1]["event"] == "result" and events[-1]["data"]["status"] == "succeeded"


def test_flags_build_the_spec(tmp_path):
    result = run_mlpq("train", "--local", "--dataset", "xor", "--layers", "4:tanh,1:sigmoid",
                      "--loss", "binary_cross_entropy", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "3", "--batch-size", "2", "--json")
    assert result.returncode == 0, result.stderr
    first = json_lines(result.stdout)[1]
    assert first == {"event": "progress", "data": first["data"]} and first["data"]["batches"] == 2
    assert json_lines(result.stdout)[-1]["data"]["epochs"] == 3


def test_spec_violations_are_listed_with_paths_and_rules(tmp_path):
    job = {**TUTORIAL_XOR_JOB, "model": {"layers": [{"units": 3, "activation": "softmax"},
                                           {"units": 3, "activation": "sigmoid"}],
                                "loss": "binary_cross_entropy"},
           "training": {"epochs": 0}}
    result = run_mlpq("train", write_json(tmp_path / "job.json", job), "--local")
    assert result.returncode == 2 and result.stdout == ""
    assert "model.layers[0].activation: softmax is only allowed on the output layer [output_only]" in result.stderr
    assert "model.layers[1].units:" in result.stderr and "[output_width]" in result.stderr
    assert "training.epochs: must be >= 1, got 0 [range]" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "message"), [("{not json", "is not valid JSON"),
                                                   ("[1, 2]", "must hold a JSON object"),
                                                   ('{"modle": {}}', "unknown top-level fields")])
def test_malformed_spec_file_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "job.json"
    path.write_text(content)
    result = run_mlpq("train", path, "--local")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("layers", ["128", "x:relu", "10:softmax:abc"])
def test_bad_layers_flag_is_a_usage_error(layers):
    result = run_mlpq("train", "--local", "--layers", layers)
    assert result.returncode == 2 and "--layers" in result.stderr and "Traceback" not in result.stderr


def test_missing_dataset_says_where_to_put_the_files(tmp_path):
    job = {**TUTORIAL_XOR_JOB, "dataset": "mnist", "model": {"layers": [{"units": 10, "activation": "softmax"}]}}
    # an unreachable local mirror stands for being offline: no test touches the network
    result = run_mlpq("train", write_json(tmp_path / "job.json", job), "--local",
                      "--data-dir", tmp_path / "empty", env={"MLPQ_DATASET_MIRRORS": "http://127.0.0.1:9/"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Put the four files" in result.stderr and str(tmp_path / "empty" / "mnist") in result.stderr


def test_damaged_model_is_reported_not_raised(tmp_path):
    (tmp_path / "model").mkdir()
    result = run_mlpq("evaluate", tmp_path / "model")
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr
    result = run_mlpq("predict", "--local", tmp_path / "model", tmp_path / "rows.json")
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr


def test_ctrl_c_off_a_terminal_stops_after_the_batch_and_still_reports(tmp_path):
    job = with_training(TUTORIAL_XOR_JOB, epochs=10_000_000)
    spec = write_json(tmp_path / "job.json", {**job, "dataset": "xor"})
    process = subprocess.Popen([MLPQ, "train", str(spec), "--local", "--save", str(tmp_path / "model")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("training")
        assert process.stdout.readline().startswith("status running")
        assert process.stdout.readline().startswith("epoch")  # the loop is running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping after this batch" in stderr
    assert "stopped early (stopped)" in stdout and "test accuracy" in stdout
    assert (tmp_path / "model" / "manifest.json").is_file()
