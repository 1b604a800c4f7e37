"""Damaged model files on disk: predict says so with a stable error type; other models keep serving.

tests/predict/test_model_cache.py covers the cache's handling of flipped weight bytes; these add
other kinds of damage, damage to a model already cached, the V2 endpoints, and repair.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.support.api import make_app, submit
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job
from worker.store.ids import new_id

XOR_INPUTS = {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]}


def flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(byte ^ 0xFF for byte in data[middle:middle + 8])
    path.write_bytes(bytes(data))


def edit_manifest(directory: Path, **changes) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.update(changes)
    (directory / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "weights-bits-flipped": lambda directory: flip_bytes(directory / "weights.npz"),
    "weights-truncated": lambda directory: (directory / "weights.npz").write_bytes(
        (directory / "weights.npz").read_bytes()[:100]),
    "weights-missing": lambda directory: (directory / "weights.npz").unlink(),
    "manifest-not-json": lambda directory: (directory / "manifest.json").write_text('{"format_version": 1,'),
    "manifest-shapes-edited": lambda directory: edit_manifest(directory, input_shape=[3]),
}


@pytest.fixture(scope="module")
def healthy_model(worker_settings, _session_celery_worker):
    """A model trained by the session's real worker (XOR: a second of work)."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = wait_for_job(client, submit(client, XOR_JOB)["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["model_id"]


@pytest.fixture
def copy_model(healthy_model, artifact_dir):
    """Factory: a copy of the healthy model's files under a new id, removed afterwards."""
    made = []

    def copy() -> tuple[str, Path]:
        model_id = new_id()
        directory = Path(artifact_dir) / "models" / model_id
        shutil.copytree(Path(artifact_dir) / "models" / healthy_model, directory)
        made.append(directory)
        return model_id, directory

    yield copy
    for directory in made:
        shutil.rmtree(directory, ignore_errors=True)


def predict(client, model_id):
    return client.post(f"/v1/models/{model_id}/predict", json=XOR_INPUTS)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_model_is_refused_by_name_and_others_keep_serving(
        damage, healthy_model, copy_model, worker_settings):
    client = make_app(worker_settings).test_client()
    broken_id, directory = copy_model()
    assert predict(client, broken_id).status_code == 200  # served (and cached) while intact
    DAMAGE[damage](directory)

    for _ in range(2):  # the verdict is remembered, not recomputed, and stays the same
        response = predict(client, broken_id)
        assert response.status_code == 409, response.get_json()
        body = response.get_json()
        assert body["type"] == "model_corrupt" and broken_id in body["message"], body
        assert body["code"] == 409 and body["status"] == "Conflict"
    infer = client.post(f"/v2/models/{broken_id}/infer", json={"inputs": [
        {"name": "input", "datatype": "FP32", "shape": [1, 2], "data": [0, 1]}]})
    assert infer.status_code == 409 and broken_id in infer.get_json()["error"]
    assert client.get(f"/v2/models/{broken_id}/ready").status_code == 503

    healthy = predict(client, healthy_model)
    assert healthy.status_code == 200
    assert [p["label"] for p in healthy.get_json()["predictions"]] == [0, 1, 1, 0]
    listing = client.get("/v1/models")
    assert listing.status_code == 200
    assert client.get("/healthz").status_code == 200


def test_a_repaired_model_serves_again(healthy_model, copy_model, worker_settings, artifact_dir):
    client = make_app(worker_settings).test_client()
    broken_id, directory = copy_model()
    healthy = predict(client, broken_id)
    assert healthy.status_code == 200
    original = (directory / "weights.npz").read_bytes()
    flip_bytes(directory / "weights.npz")
    assert predict(client, broken_id).status_code == 409
    (directory / "weights.npz").write_bytes(original)  # e.g. restored from a backup
    repaired = predict(client, broken_id)
    assert repaired.status_code == 200
    # the restored weights are the ones serving: the same answers as before the damage
    assert repaired.get_json()["predictions"] == healthy.get_json()["predictions"]
