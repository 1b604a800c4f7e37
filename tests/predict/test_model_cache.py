"""The per-process model cache: never serves a deleted or replaced model; corrupt ones are isolated."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from api.models.cache import ModelCache, ModelCorrupt
from engine import load as load_network
from engine.serialization import save
from tests.support.models import corrupt_weights
from worker.store.artifacts import ModelNotFound

SAMPLE = {"json": {"inputs": [[0.5] * 784]}}


def test_hits_misses_and_lru_eviction(artifact_store, model_copy, mnist_test):
    X_test, _ = mnist_test
    first, second, third = model_copy(), model_copy(), model_copy()
    cache = ModelCache(artifact_store, size=2)
    model = cache.get(first)
    assert cache.get(first) is model
    np.testing.assert_allclose(model.predict_proba(X_test[:5]),
                               load_network(artifact_store.model_dir(first)).predict_proba(X_test[:5]),
                               rtol=1e-6, atol=1e-8)
    cache.get(second)
    cache.get(first)  # first is now the most recently used
    cache.get(third)  # evicts second
    assert cache.stats() == {"hits": 2, "misses": 3, "loads": 3, "evictions": 1, "entries": 2,
                             "size": 2}
    cache.get(second)
    assert cache.stats()["loads"] == 4


def test_a_deleted_model_is_never_served(artifact_store, model_copy):
    model_id = model_copy()
    cache = ModelCache(artifact_store)
    cache.get(model_id)
    assert artifact_store.delete_model(model_id)  # as another API process or the CLI would
    with pytest.raises(ModelNotFound):
        cache.get(model_id)
    assert cache.stats()["entries"] == 0


def test_a_replaced_model_is_reloaded(artifact_store, model_copy, mnist_test):
    X_test, _ = mnist_test
    model_id = model_copy()
    directory = artifact_store.model_dir(model_id)
    cache = ModelCache(artifact_store)
    before = cache.get(model_id).predict_proba(X_test[:3])
    network = load_network(directory)
    network.params[-1]["b"][...] += np.arange(10, dtype=np.float32)  # a visibly different model
    save(network, directory, metadata={"record": {"id": model_id}}, dataset="mnist")
    after = cache.get(model_id).predict_proba(X_test[:3])
    np.testing.assert_allclose(after, network.predict_proba(X_test[:3]), rtol=1e-6, atol=1e-8)
    assert not np.allclose(before, after)


def test_corrupt_weights_are_reported_once_and_others_keep_serving(artifact_store, model_copy):
    good, bad = model_copy(), model_copy()
    corrupt_weights(artifact_store.model_dir(bad))
    cache = ModelCache(artifact_store)
    for _ in range(3):
        with pytest.raises(ModelCorrupt, match="sha256|SHA-256|hash"):
            cache.get(bad)
        cache.get(good)
    assert cache.stats()["loads"] == 2  # the broken model was checked once, not per request


def test_concurrent_requests_share_nothing_mutable(artifact_store, model_copy, mnist_test):
    """gthread serves requests on threads: the same cached model must give each its own answer."""
    X_test, _ = mnist_test
    model_ids = [model_copy(), model_copy()]
    cache = ModelCache(artifact_store)
    expected = load_network(artifact_store.model_dir(model_ids[0])).predict_proba(X_test[:512])
    failures = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        for _ in range(40):
            rows = rng.integers(0, 512, size=int(rng.integers(1, 64)))
            model = cache.get(model_ids[seed % 2])
            if not np.allclose(model.predict_proba(X_test[rows]), expected[rows], rtol=1e-5,
                               atol=1e-7):
                failures.append(seed)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert cache.stats()["loads"] == 2  # each model loaded once despite the concurrent misses


def test_http_predict_delete_predict_on_one_process(client, model_copy):
    model_id = model_copy()
    assert client.post(f"/v1/models/{model_id}/predict", **SAMPLE).status_code == 200
    assert client.post(f"/v2/models/{model_id}/ready").status_code == 405
    assert client.delete(f"/v1/models/{model_id}").status_code == 204
    response = client.post(f"/v1/models/{model_id}/predict", **SAMPLE)
    assert response.status_code == 404 and response.get_json()["type"] == "model_not_found"
    assert client.get(f"/v2/models/{model_id}/ready").status_code == 404


def test_http_corrupt_model_is_a_clear_error_and_others_serve(client, model_copy, trained_model):
    bad = model_copy()
    corrupt_weights(trained_model.directory.parent / bad)
    response = client.post(f"/v1/models/{bad}/predict", **SAMPLE)
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "model_corrupt" and "corrupt" in body["message"]
    assert str(trained_model.directory.parent) not in body["message"]  # no server paths leak
    v2 = client.post(f"/v2/models/{bad}/infer", json={"inputs": [{
        "name": "input", "datatype": "FP32", "shape": [1, 784], "data": [0.5] * 784}]})
    assert v2.status_code == 409 and "corrupt" in v2.get_json()["error"]
    ready = client.get(f"/v2/models/{bad}/ready")
    assert ready.status_code == 503 and ready.get_json()["ready"] is False
    assert client.post(f"/v1/models/{trained_model.model_id}/predict", **SAMPLE).status_code == 200
