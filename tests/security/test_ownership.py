"""Jobs and models belong to the key that made them: others get 404 and never see them listed."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.api import keyed_config, make_app, make_key
from worker.store.artifacts import ArtifactStore
from worker.store.ids import new_id

XOR_INPUTS = {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]}


def ids(response):
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()}


def test_another_keys_job_is_404_everywhere(secure_client, keys, owned_models):
    job_id = owned_models["alice"].job["id"]
    bob = keys["bob"].headers
    for method, path in [("GET", f"/v1/jobs/{job_id}"), ("POST", f"/v1/jobs/{job_id}/cancel"),
                         ("GET", f"/v1/jobs/{job_id}/events")]:
        response = secure_client.open(path, method=method, headers=bob)
        assert response.status_code == 404, (path, response.status_code)
        assert "alice" not in response.get_data(as_text=True)
    # The same requests from the owner work.
    alice = keys["alice"].headers
    assert secure_client.get(f"/v1/jobs/{job_id}", headers=alice).get_json()["owner"] == "alice"


def test_another_keys_model_is_404_everywhere(secure_client, keys, owned_models, artifact_dir):
    model_id, job_id = owned_models["alice"].model_id, owned_models["alice"].job["id"]
    bob = keys["bob"].headers
    for method, path, body in [
        ("GET", f"/v1/models/{model_id}", None),
        ("GET", f"/v1/models/{model_id}/download", None),
        ("DELETE", f"/v1/models/{model_id}", None),
        ("POST", f"/v1/models/{model_id}/predict", XOR_INPUTS),
        ("POST", f"/v1/models/{job_id}/predict", XOR_INPUTS),  # a job id stands for its model
        ("GET", f"/v2/models/{model_id}", None),
        ("GET", f"/v2/models/{model_id}/ready", None),
        ("POST", f"/v2/models/{model_id}/infer", {"inputs": [
            {"name": "input", "datatype": "FP32", "shape": [1, 2], "data": [0, 1]}]}),
    ]:
        response = secure_client.open(path, method=method, json=body, headers=bob)
        assert response.status_code == 404, (path, response.status_code, response.get_json())
    assert ArtifactStore(artifact_dir).get_model(model_id) is not None  # bob's DELETE did nothing
    predicted = secure_client.post(f"/v1/models/{model_id}/predict", json=XOR_INPUTS, headers=bob)
    assert predicted.get_json()["type"] == "model_not_found"


def test_lists_hold_only_the_callers_own(secure_client, keys, owned_models):
    alice, bob = owned_models["alice"], owned_models["bob"]
    for name, own, other in [("alice", alice, bob), ("bob", bob, alice)]:
        headers = keys[name].headers
        jobs = secure_client.get("/v1/jobs?page_size=100", headers=headers)
        assert own.job["id"] in ids(jobs) and other.job["id"] not in ids(jobs)
        assert {job["owner"] for job in jobs.get_json()} == {name}
        assert json.loads(jobs.headers["X-Pagination"])["total"] == len(ids(jobs))
        models = secure_client.get("/v1/models?page_size=100", headers=headers)
        assert own.model_id in ids(models) and other.model_id not in ids(models)
        assert {model["owner"] for model in models.get_json()} == {name}
        succeeded = secure_client.get("/v1/jobs?status=succeeded&page_size=100", headers=headers)
        assert own.job["id"] in ids(succeeded) and other.job["id"] not in ids(succeeded)


def test_an_admin_key_sees_and_uses_everything(secure_client, keys, owned_models):
    root = keys["root"].headers
    jobs = ids(secure_client.get("/v1/jobs?page_size=100", headers=root))
    models = ids(secure_client.get("/v1/models?page_size=100", headers=root))
    for trained in owned_models.values():
        assert trained.job["id"] in jobs and trained.model_id in models
        assert secure_client.get(f"/v1/jobs/{trained.job['id']}", headers=root).status_code == 200
        predicted = secure_client.post(f"/v1/models/{trained.model_id}/predict",
                                       json=XOR_INPUTS, headers=root)
        assert [row["label"] for row in predicted.get_json()["predictions"]] == [0, 1, 1, 0]


def test_latest_means_the_callers_newest_model(secure_client, keys, owned_models):
    """Bob's model is newer than alice's, yet alice's `latest` is her own newest."""
    for name in ("alice", "bob"):
        headers = keys[name].headers
        newest_own = secure_client.get("/v1/models", headers=headers).get_json()[0]
        assert newest_own["owner"] == name
        assert secure_client.get("/v1/models/latest", headers=headers).get_json() == newest_own
        predicted = secure_client.post("/v1/models/latest/predict", json=XOR_INPUTS,
                                       headers=headers)
        assert predicted.get_json()["model_id"] == newest_own["id"]
        assert secure_client.get("/v2/models/latest", headers=headers).get_json()["name"] == \
            newest_own["id"]
    alice_latest = secure_client.get("/v1/models/latest", headers=keys["alice"].headers)
    assert alice_latest.get_json()["id"] != owned_models["bob"].model_id


@pytest.mark.parametrize("owner", ["alice", "bob"])
def test_owners_predict_with_their_own_models(secure_client, keys, owned_models, owner):
    trained = owned_models[owner]
    response = secure_client.post(f"/v1/models/{trained.model_id}/predict", json=XOR_INPUTS,
                                  headers=keys[owner].headers)
    assert response.status_code == 200
    assert [row["label"] for row in response.get_json()["predictions"]] == [0, 1, 1, 0]


def test_a_key_with_no_models_has_no_latest(worker_settings, keys, owned_models):
    carol = make_key("carol")
    client = make_app(worker_settings, API_KEYS=keyed_config({**keys, "carol": carol})[
        "API_KEYS"]).test_client()
    response = client.get("/v1/models/latest", headers=carol.headers)
    assert response.status_code == 404
    assert client.get("/v1/models", headers=carol.headers).get_json() == []
    assert client.get("/v1/jobs", headers=carol.headers).get_json() == []


def test_owners_delete_their_own_models(secure_client, keys, owned_models, artifact_dir):
    """Deleting works for the owner (checked on a copy, so other tests keep their model)."""
    store = ArtifactStore(artifact_dir)
    copy_id = new_id()
    shutil.copytree(store.model_dir(owned_models["alice"].model_id), store.model_dir(copy_id))
    assert secure_client.delete(f"/v1/models/{copy_id}", headers=keys["bob"].headers).status_code \
        == 404
    assert secure_client.delete(f"/v1/models/{copy_id}", headers=keys["alice"].headers) \
        .status_code == 204
    assert store.get_model(copy_id) is None
