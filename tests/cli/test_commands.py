"""The installed `mlpq` script against the real stack: train and watch, jobs, models, predict, curves."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from engine import datasets
from mlpq.redis_server import free_port
from tests.support.cli import json_lines, run_mlpq, write_json
from tests.support.specs import SMALL_MNIST_JOB, TUTORIAL_XOR_JOB, with_training
from tests.support.waiting import wait_until


def test_train_xor_with_watch_prints_one_line_per_epoch_when_piped(url, client, tmp_path):
    result = run_mlpq("train", write_json(tmp_path / "xor.json", TUTORIAL_XOR_JOB), "--watch", url=url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    epochs = [line.split()[1] for line in lines if line.startswith("epoch ")]
    assert epochs == [f"{epoch}/300" for epoch in range(1, 301)], "each epoch exactly once, in order"
    assert "\r" not in result.stdout and "\x1b[" not in result.stdout
    assert lines.index("status running") < lines.index("status succeeded")
    assert "test accuracy 1.0000 (4/4)" in result.stdout
    model_id = lines[-1].removeprefix("model ")
    assert client.model(model_id)["evaluation"]["accuracy"] == 1.0


def test_json_output_parses_everywhere(url, tmp_path):
    spec = write_json(tmp_path / "xor.json", TUTORIAL_XOR_JOB)
    result = run_mlpq("--json", "train", spec, "--epochs", "20", "--watch", url=url)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [e["data"]["epoch"] for e in events if e["event"] == "epoch"] == list(range(1, 21))
    ids = [e["id"] for e in events if e["event"] != "result"]
    assert len(ids) == len(set(ids)), "no event repeated across reconnections"
    result_event = events[-1]
    assert result_event["event"] == "result" and result_event["data"]["status"] == "succeeded"
    job_id, model_id = result_event["data"]["job_id"], result_event["data"]["model_id"]

    submitted = run_mlpq("train", spec, "--epochs", "5", "--json", url=url)
    assert submitted.returncode == 0 and json.loads(submitted.stdout)["status"] in {"queued", "running"}
    for args, check in [(("jobs",), lambda v: any(job["id"] == job_id for job in v)),
                        (("jobs", "--status", "succeeded"), lambda v: all(j["status"] == "succeeded" for j in v)),
                        (("status", job_id), lambda v: v["model_id"] == model_id),
                        (("models",), lambda v: any(model["id"] == model_id for model in v)),
                        (("model", model_id), lambda v: v["evaluation"]["accuracy"] == 1.0),
                        (("curves", job_id), lambda v: len(v) == 20),
                        (("env",), lambda v: v["server"]["ready"] and v["server"]["auth"] == "disabled")]:
        shown = run_mlpq(*args, "--json", url=url)
        assert shown.returncode == 0, (args, shown.stderr)
        assert check(json.loads(shown.stdout)), args


def test_tables_status_model_card_and_curves(url, tmp_path):
    job = json.loads(run_mlpq("--json", "train", write_json(tmp_path / "x.json", TUTORIAL_XOR_JOB), "--epochs", "30",
                              "--watch", url=url).stdout.splitlines()[-1])["data"]
    listed = run_mlpq("jobs", url=url)
    assert listed.returncode == 0 and listed.stdout.splitlines()[0].split("\t")[:3] == ["id", "name", "status"]
    assert f"{job['job_id']}\txor\tsucceeded" in listed.stdout
    status = run_mlpq("status", job["job_id"], url=url)
    assert "succeeded" in status.stdout and "epoch 30/30" in status.stdout and job["model_id"] in status.stdout
    card = run_mlpq("model", job["model_id"], url=url)
    assert card.returncode == 0 and card.stdout.startswith("# Model card: xor")
    assert "## Evaluation (test split)" in card.stdout
    curves = run_mlpq("curves", job["job_id"], url=url)
    assert len([line for line in curves.stdout.splitlines() if line.startswith("epoch")]) == 30
    plotted = run_mlpq("curves", job["job_id"], "-o", tmp_path / "curves.png", url=url)
    assert plotted.returncode == 0, plotted.stderr
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG" and image.width > 400


@pytest.fixture(scope="module")
def mnist_models(stack, _session_celery_worker, tmp_path_factory):
    """One small model each for MNIST and Fashion-MNIST, trained by the stack's worker."""
    from mlpq import Client

    _session_celery_worker.start()
    with Client(stack.url) as client:
        jobs = {name: client.train({**with_training(SMALL_MNIST_JOB, epochs=1), "name": name,
                                    "dataset": name})
                for name in ("mnist", "fashion-mnist")}
        return {name: job.wait(timeout=240).model_id for name, job in jobs.items()}


def test_predict_png_files_shows_labels_and_class_names(url, mnist_models, tmp_path):
    _, (X_test, y_test) = datasets.load("mnist")
    digit = tmp_path / "digit.png"
    Image.fromarray((X_test[0].reshape(28, 28) * 255).astype(np.uint8)).save(digit)
    shown = run_mlpq("predict", mnist_models["mnist"], digit, url=url)
    assert shown.returncode == 0, shown.stderr
    assert f"digit.png: {y_test[0]} " in shown.stdout and "◀" in shown.stdout

    _, (F_test, f_test) = datasets.load("fashion-mnist")
    boot_index = int(np.flatnonzero(f_test == 9)[0])
    boot = tmp_path / "boot.png"
    Image.fromarray((F_test[boot_index].reshape(28, 28) * 255).astype(np.uint8)).save(boot)
    answer = run_mlpq("--json", "predict", mnist_models["fashion-mnist"], boot, digit, url=url)
    assert answer.returncode == 0, answer.stderr
    results = json.loads(answer.stdout)
    assert [r["file"] for r in results] == [str(boot), str(digit)]
    assert results[0]["classes"][9] == "Ankle boot" and len(results[0]["probabilities"]) == 10
    chart = run_mlpq("predict", mnist_models["fashion-mnist"], boot, url=url)
    assert "Ankle boot" in chart.stdout and "T-shirt/top" in chart.stdout


def test_mistakes_and_weights_pictures(url, mnist_models, tmp_path):
    model_id = mnist_models["mnist"]
    listed = run_mlpq("mistakes", model_id, "--limit", "3", url=url)
    assert listed.returncode == 0, listed.stderr
    assert "of 10000 mnist test examples are misclassified" in listed.stdout
    assert len(listed.stdout.splitlines()) == 2 + 3  # summary, header, three mistakes
    cell = json.loads(run_mlpq("--json", "mistakes", model_id, "--true", "4", "--predicted", "9", url=url).stdout)
    assert all(m["true"] == 4 and m["predicted"] == 9 for m in cell["mistakes"])
    saved = run_mlpq("weights", model_id, "0", "-o", tmp_path / "layer0.png", url=url)
    assert saved.returncode == 0, saved.stderr
    with Image.open(tmp_path / "layer0.png") as picture:
        assert picture.format == "PNG"
    missing = run_mlpq("weights", model_id, "7", "-o", tmp_path / "none.png", url=url)
    assert missing.returncode == 3 and "No layer" in missing.stderr


def test_download_then_predict_locally_agrees_with_the_server(url, mnist_models, tmp_path):
    model_id = mnist_models["mnist"]
    downloaded = run_mlpq("download", model_id, "-o", tmp_path / "model", url=url)
    assert downloaded.returncode == 0, downloaded.stderr
    _, (X_test, _) = datasets.load("mnist")
    rows = tmp_path / "rows.npy"
    np.save(rows, X_test[:5])
    here = json.loads(run_mlpq("--json", "predict", "--local", tmp_path / "model", rows).stdout)
    there = json.loads(run_mlpq("--json", "predict", model_id, rows, url=url).stdout)
    assert [r["label"] for r in here] == [r["label"] for r in there]
    assert np.allclose([r["probabilities"] for r in here], [r["probabilities"] for r in there], atol=1e-5)


def test_cancel_a_running_job_and_watching_it_exits_1(url, client, tmp_path):
    job = client.train(with_training(SMALL_MNIST_JOB, epochs=50))
    wait_until(lambda: job.refresh().status == "running", timeout=60)
    cancelled = run_mlpq("cancel", job.id, url=url)
    assert cancelled.returncode == 0 and f"job {job.id} running (stops within a batch)" in cancelled.stdout
    watched = run_mlpq("status", job.id, "--watch", url=url)
    assert watched.returncode == 1 and f"job {job.id} cancelled" in watched.stdout
    again = run_mlpq("cancel", job.id, url=url)
    assert again.returncode == 3 and "409" in again.stderr and "Traceback" not in again.stderr


def test_bad_spec_shows_the_servers_field_errors_and_exits_2(url, tmp_path):
    result = run_mlpq("train", "--dataset", "xor", "--layers", "3:softmax,1:sigmoid", "--epochs", "0", url=url)
    assert result.returncode == 2, result.stderr
    assert "model.layers[0].activation" in result.stderr and "training.epochs" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    usage = run_mlpq("train", "--epochs", "nope", url=url)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_unknown_ids_and_a_dead_server_exit_3(url):
    missing = run_mlpq("status", uuid.uuid4().hex, url=url)
    assert missing.returncode == 3 and "404" in missing.stderr and "no job" in missing.stderr
    dead = run_mlpq("jobs", url="http://127.0.0.1:9")
    assert dead.returncode == 3 and "http://127.0.0.1:9" in dead.stderr and "Traceback" not in dead.stderr
    env = run_mlpq("env", url="http://127.0.0.1:9")
    assert env.returncode == 0 and "does not answer" in env.stdout


def test_watch_timeout_exits_4(url, client):
    job = client.train(with_training(SMALL_MNIST_JOB, epochs=50))
    try:
        result = run_mlpq("status", job.id, "--watch", "--timeout", "1", url=url)
        assert result.returncode == 4 and "still" in result.stderr
    finally:
        job.cancel()


def test_shell_completion_comes_from_click(url):
    script = run_mlpq(env={"_MLPQ_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "_mlpq_completion" in script.stdout
    words = run_mlpq(env={"_MLPQ_COMPLETE": "bash_complete", "COMP_WORDS": "mlpq tr", "COMP_CWORD": "1"})
    assert "train" in words.stdout


def test_a_server_that_is_not_mlpq_gets_one_line_not_a_traceback(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "jobs").write_text("<html>not an API</html>")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: run_mlpq("jobs", url=url).returncode == 3, timeout=30)
        result = run_mlpq("jobs", url=url)
        assert "instead of JSON: is this an mlpq server?" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        server.terminate()
        server.wait(10)
