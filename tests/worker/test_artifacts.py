"""ArtifactStore on a real directory: atomic saves and deletes, id checks, records kept with files."""

import threading

import numpy as np
import pytest

from engine import datasets
from engine.network import Network
from engine.serialization import ModelFileError
from worker.store.artifacts import ArtifactStore, ModelNotFound
from worker.store.ids import new_id

BAD_IDS = ["..", "../../etc/passwd", "", "A" * 32, new_id()[:31], new_id() + "/x", "%2e%2e"]


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path)


@pytest.fixture(scope="module")
def xor_net():
    (X, y), _ = datasets.load("xor")
    net = Network.from_spec({"layers": [{"units": 4, "activation": "tanh"},
                                        {"units": 2, "activation": "softmax"}]}, input_size=2)
    net.fit(X, y, epochs=3, batch_size=4)
    return net


def record(**fields):
    return {"job_id": new_id(), "name": "m", "dataset": "xor", "owner": "alice",
            "spec": {"model": {}}, "metrics": [], "evaluation": {"accuracy": 1.0},
            "created_at": "2024-01-01T00:00:00.000Z", **fields}


def test_saved_model_carries_its_record_and_loads(store, xor_net):
    model_id = new_id()
    saved = store.save_model(model_id, xor_net, metadata=record(name="first"))
    assert saved == store.get_model(model_id)
    assert saved["id"] == model_id and saved["name"] == "first" and saved["status"] == "ready"
    assert saved["size_bytes"] == sum(p.stat().st_size for p in store.model_dir(model_id).iterdir())
    (X, _), _ = datasets.load("xor")
    np.testing.assert_array_equal(store.load_network(model_id).predict(X), xor_net.predict(X))


def test_list_is_newest_first_and_filters(store, xor_net):
    ids = [new_id() for _ in range(3)]
    for day, (model_id, owner) in enumerate(zip(ids, ["alice", "bob", "alice"], strict=True)):
        store.save_model(model_id, xor_net, metadata=record(
            owner=owner, created_at=f"2024-01-0{day + 1}T00:00:00.000Z"))
    assert [m["id"] for m in store.list_models()] == ids[::-1]
    assert [m["id"] for m in store.list_models(owner="alice")] == [ids[2], ids[0]]
    assert store.list_models(dataset="mnist") == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_malformed_ids_never_reach_the_filesystem(store, bad):
    assert store.get_model(bad) is None
    assert store.delete_model(bad) is False
    for touch in (store.model_dir, store.load_network, store.checkpoint_dir, store.load_checkpoint):
        with pytest.raises(ValueError, match="uuid4"):
            touch(bad)


def test_delete_removes_the_model_and_reports_whether_it_existed(store, xor_net):
    model_id = new_id()
    store.save_model(model_id, xor_net, metadata=record())
    assert store.delete_model(model_id) is True
    assert store.get_model(model_id) is None and store.list_models() == []
    assert store.delete_model(model_id) is False
    with pytest.raises(ModelNotFound):
        store.load_network(model_id)
    assert list(store.trash_root.iterdir()) == []


def test_leftovers_of_interrupted_writes_are_not_models(store, xor_net):
    store.models_root.mkdir(parents=True)
    (store.models_root / f".{new_id()}.tmp-abc").mkdir()  # a save that crashed mid-way
    (store.models_root / new_id()).mkdir()  # an empty directory without a manifest
    assert store.list_models() == []


def test_a_damaged_model_is_listed_as_damaged_and_refuses_to_load(store, xor_net):
    model_id = new_id()
    store.save_model(model_id, xor_net, metadata=record())
    (store.model_dir(model_id) / "manifest.json").write_text("{not json")
    assert store.get_model(model_id)["status"] == "damaged"
    with pytest.raises(ModelFileError):
        store.load_network(model_id)
    assert store.delete_model(model_id)


def test_readers_see_whole_models_while_a_model_is_rewritten_and_deleted(store, xor_net):
    model_id, stop, seen = new_id(), threading.Event(), []

    def write():
        for round_ in range(30):
            store.save_model(model_id, xor_net, metadata=record(name=f"v{round_}"))
            if round_ % 3 == 2:
                store.delete_model(model_id)
        stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not stop.is_set():
        for found in [store.get_model(model_id), *store.list_models()]:
            if found is not None:
                seen.append(found["status"])
    writer.join()
    assert seen and set(seen) == {"ready"}


def test_checkpoints_round_trip_and_are_deleted(store, xor_net):
    job_id = new_id()
    assert store.load_checkpoint(job_id) is None
    store.save_checkpoint(job_id, xor_net.checkpoint())
    loaded = store.load_checkpoint(job_id)
    assert loaded["epoch"] == 3 and len(loaded["history"]) == 3
    (store.checkpoint_dir(job_id) / "checkpoint.json").write_text("garbage")
    assert store.load_checkpoint(job_id) is None  # a damaged checkpoint means: start over
    store.delete_checkpoint(job_id)
    assert not store.checkpoint_dir(job_id).exists()


def test_a_checkpoint_loads_as_a_network_that_says_its_epoch(store, xor_net):
    job_id = new_id()
    assert store.load_checkpoint_network(job_id) is None  # nothing trained yet
    store.save_checkpoint(job_id, xor_net.checkpoint())
    net, epoch = store.load_checkpoint_network(job_id)
    assert epoch == 3 and len(net.history) == 3 and "layers" in net.history[-1]
    (X, _), _ = datasets.load("xor")
    np.testing.assert_array_equal(net.predict_proba(X), xor_net.predict_proba(X))
