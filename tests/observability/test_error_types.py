"""docs/errors.md lists every stable error type the code can produce, and failures carry one."""

from __future__ import annotations

import re

from tests.api.conftest import make_app, submit, wait_for_job
from tests.service_fixtures import REPO_ROOT
from worker.runner import ERROR_TYPES, error_type

DOCUMENTED = set(re.findall(r"^\| `([a-z_]+)` \|", (REPO_ROOT / "docs" / "errors.md").read_text(),
                            re.M))
# The prediction code names its types as literals: PredictionError(status, "type", ...), and
# images.py's rules become "image_<rule>".
PREDICTION_ERROR = re.compile(r'PredictionError\(\s*(?:\d{3}|\w+),\s*"([a-z_]+)"')
IMAGE_RULE = re.compile(r'ImageError\(\s*"([a-z_]+)"')


def test_training_failure_types_are_documented():
    produced = set(ERROR_TYPES.values()) | {error_type(RuntimeError("a bug")), "enqueue_failed"}
    assert "enqueue_failed" in (REPO_ROOT / "api" / "jobs.py").read_text()
    assert produced <= DOCUMENTED, sorted(produced - DOCUMENTED)


def test_prediction_error_types_are_documented():
    produced = set()
    for name in ("predict.py", "serving.py", "v2.py", "v2_tensors.py"):
        produced |= set(PREDICTION_ERROR.findall((REPO_ROOT / "api" / name).read_text()))
    produced |= {f"image_{rule}" for rule in
                 IMAGE_RULE.findall((REPO_ROOT / "api" / "images.py").read_text())}
    assert {"model_not_found", "invalid_value", "image_too_many_pixels"} <= produced  # sanity
    assert produced <= DOCUMENTED, sorted(produced - DOCUMENTED)


def test_a_failed_job_carries_a_documented_type(worker_settings, celery_worker):
    """A job that diverges (a huge learning rate) ends failed with type training_diverged."""
    client = make_app(worker_settings).test_client()
    job = submit(client, {
        "name": "diverges", "dataset": "xor",
        "model": {"layers": [{"units": 8, "activation": "relu"},
                             {"units": 1, "activation": "sigmoid"}],
                  "loss": "mse"},
        "training": {"epochs": 50, "batch_size": 4,
                     "optimizer": {"name": "sgd", "learning_rate": 1e30}}})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "failed", done
    assert done["error"]["type"] == "training_diverged" and "non-finite" in done["error"]["message"]


def test_a_prediction_failure_carries_its_type(client):
    response = client.post("/v1/models/latest/predict?dataset=fashion-mnist",
                           data="not json", content_type="text/plain")
    assert response.get_json()["type"] in DOCUMENTED
