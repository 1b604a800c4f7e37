"""/v1/models against a model trained by the real worker: read, download, alias, delete."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import numpy as np
import pytest

from api.core.services import services
from engine import load
from tests.support.api import make_app, submit
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job

MODEL_FIELDS = {"id", "job_id", "name", "dataset", "owner", "spec", "metrics", "evaluation",
                "size_bytes", "status", "created_at", "stop_reason", "input", "dataset_name",
                "dataset_sha256", "task", "preprocessing"}


@pytest.fixture(scope="module")
def trained(worker_settings, _session_celery_worker):
    """A succeeded XOR job and its model id (trained once for this module)."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = submit(client, {**XOR_JOB, "name": "xor-for-models"})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    return done


def test_read_a_model(client, trained):
    response = client.get(f"/v1/models/{trained['model_id']}")
    assert response.status_code == 200
    model = response.get_json()
    assert set(model) == MODEL_FIELDS
    assert model["id"] == trained["model_id"] and model["job_id"] == trained["id"]
    assert model["name"] == "xor-for-models" and model["dataset"] == "xor"
    assert (model["dataset_name"], model["dataset_sha256"], model["task"]) == (
        "xor", None, "classification")
    assert model["preprocessing"] is None  # a table model's only
    assert model["status"] == "ready" and model["size_bytes"] > 0
    assert model["spec"] == trained["spec"]
    assert model["metrics"] == trained["metrics"]
    evaluation = model["evaluation"]
    assert set(evaluation) >= {"accuracy", "loss", "confusion_matrix", "precision", "recall"}
    assert evaluation["accuracy"] == 1.0
    assert evaluation["confusion_matrix"] == [[2, 0], [0, 2]]


def test_list_and_latest(client, trained):
    listed = client.get("/v1/models?dataset=xor")
    assert listed.status_code == 200
    assert trained["model_id"] in [model["id"] for model in listed.get_json()]
    assert "X-Pagination" in listed.headers
    assert client.get("/v1/models?dataset=nope").status_code == 422
    latest = client.get("/v1/models/latest?dataset=xor").get_json()
    assert latest["dataset"] == "xor"
    assert latest["created_at"] >= client.get(f"/v1/models/{trained['model_id']}").get_json()["created_at"]


def test_latest_with_no_models_is_404(idle_client):
    response = idle_client.get("/v1/models/latest")
    assert response.status_code == 404
    assert "No trained model" in response.get_json()["message"]


def test_download_zip_holds_manifest_and_weights(client, trained, tmp_path):
    response = client.get(f"/v1/models/{trained['model_id']}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"mlpq-model-{trained['model_id']}.zip" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["manifest.json", "weights.npz"]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["spec"] == trained["spec"]["model"]
    with np.load(io.BytesIO(archive.read("weights.npz")), allow_pickle=False) as weights:
        assert all(array.dtype == np.float32 for array in weights.values())

    # The files are a complete model the engine loads (hash and shapes verified) and runs.
    archive.extractall(tmp_path / "model")
    net = load(tmp_path / "model")
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    assert net.predict(inputs).tolist() == [0, 1, 1, 0]


def test_download_single_files(client, trained):
    base = f"/v1/models/{trained['model_id']}/download"
    manifest = client.get(f"{base}?file=manifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/json"
    assert json.loads(manifest.data)["spec"] == trained["spec"]["model"]
    weights = client.get(f"{base}?file=weights")
    assert weights.status_code == 200 and weights.mimetype == "application/octet-stream"
    with np.load(io.BytesIO(weights.data), allow_pickle=False) as arrays:
        assert len(arrays.files) >= 4  # W and b for each of the two layers
    assert client.get(f"{base}?file=../../etc/passwd").status_code == 422


def test_delete_a_model(client, celery_worker):
    job = submit(client, {**XOR_JOB, "name": "xor-to-delete"})
    model_id = wait_for_job(client, job["id"])["model_id"]
    assert client.delete("/v1/models/latest").status_code == 400
    response = client.delete(f"/v1/models/{model_id}")
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/v1/models/{model_id}").status_code == 404
    assert client.get(f"/v1/models/{model_id}/download").status_code == 404
    assert client.delete(f"/v1/models/{model_id}").status_code == 404
    assert model_id not in [model["id"] for model in client.get("/v1/models").get_json()]


UNKNOWN = uuid.uuid4().hex  # well-formed, never stored


@pytest.mark.parametrize(("path", "named"), [
    ("/v1/models/x", "no model 'x' (or it belongs to another key)"),
    ("/v1/models/x/download", "no model 'x' (or it belongs to another key)"),
    ("/v1/models/" + "0" * 32, f"no model '{'0' * 32}' (or it belongs to another key)"),
    ("/v1/jobs/x", "no job 'x' (or it belongs to another key)"),
    ("/v1/jobs/nope/events", "no job 'nope' (or it belongs to another key)"),
    ("/v1/jobs/" + UNKNOWN, f"no job '{UNKNOWN}' (or it belongs to another key)"),
    ("/v1/models/" + UNKNOWN, f"no model '{UNKNOWN}' (or it belongs to another key)"),
])
def test_unknown_model_or_job_404_names_the_resource(idle_client, path, named):
    """Malformed ids (no route matches) and well-formed unknown ones read alike."""
    response = idle_client.get(path)
    assert response.status_code == 404
    assert response.get_json()["message"] == named
    assert "requested URL" not in response.get_data(as_text=True)


def test_an_unknown_route_under_a_real_id_is_still_a_plain_404(idle_client):
    response = idle_client.get(f"/v1/models/{UNKNOWN}/nothing-here")
    assert response.status_code == 404
    assert "no model" not in response.get_json()["message"]


def test_models_say_what_input_they_take_and_filter_by_it(idle_client):
    """The draw panel offers only image models: `input.kind`, `?input=image`, `latest?input=image`."""
    from engine import Network
    from worker.store.ids import new_id

    store = services(idle_client.application).artifacts
    def save(dataset, input_size, units, created_at):
        net = Network.from_spec({"layers": [{"units": units, "activation": "softmax"}]},
                                input_size=input_size)
        model_id = new_id()
        store.save_model(model_id, net, metadata={
            "job_id": new_id(), "name": dataset, "dataset": dataset, "owner": None,
            "spec": {"model": dict(net.spec, input_size=input_size), "training": {}},
            "metrics": [], "evaluation": None, "created_at": created_at})
        return model_id

    digits = save("mnist", 784, 10, "2026-01-01T00:00:00.000Z")
    xor = save("xor", 2, 2, "2026-01-02T00:00:00.000Z")  # the newest model of all
    models = {model["id"]: model for model in idle_client.get("/v1/models").get_json()}
    assert models[digits]["input"] == {"kind": "image", "size": 784, "shape": [28, 28]}
    assert models[xor]["input"] == {"kind": "vector", "size": 2, "shape": [2]}
    assert [m["id"] for m in idle_client.get("/v1/models?input=image").get_json()] == [digits]
    assert [m["id"] for m in idle_client.get("/v1/models?input=vector").get_json()] == [xor]
    assert idle_client.get("/v1/models/latest").get_json()["id"] == xor
    assert idle_client.get("/v1/models/latest?input=image").get_json()["id"] == digits
    bad = idle_client.get("/v1/models?input=audio")
    assert bad.status_code == 422 and "input" in bad.get_json()["errors"]


def test_latest_of_a_kind_with_none_of_that_kind_is_404_saying_so(idle_client):
    for query, message in [("input=image", "No trained image model yet."),
                           ("input=vector&dataset=xor", "No trained vector model yet for dataset xor.")]:
        response = idle_client.get(f"/v1/models/latest?{query}")
        assert response.status_code == 404 and response.get_json()["message"] == message
