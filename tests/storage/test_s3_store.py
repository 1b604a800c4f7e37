"""The artifact store on a real S3-compatible server (moto's standalone server process).

One contract for both backends (parametrised over file and s3), then what only an object store
needs: atomic visibility, checksums on load, replacement and deletion seen by the model cache,
and MLPQ_ARTIFACT_URL parsing.
"""

import threading
import time

import numpy as np
import pytest

from api.models.cache import ModelCache, ModelCorrupt
from engine import datasets
from engine.network import Network
from engine.serialization import ModelFileError
from worker.store.artifacts import ArtifactStore, ModelNotFound
from worker.store.config import Settings
from worker.store.ids import new_id
from worker.store.s3_artifacts import STAMP_SECONDS, S3ArtifactStore, make_client
from worker.store.setting_types import SettingsError
from worker.store.stores import open_artifact_store


@pytest.fixture(scope="module")
def xor_nets():
    """Two different trained XOR networks (a model and its replacement)."""
    (X, y), _ = datasets.load("xor")
    nets = []
    for seed in (0, 1):
        net = Network.from_spec({"layers": [{"units": 4, "activation": "tanh"},
                                            {"units": 2, "activation": "softmax"}]},
                                input_size=2, seed=seed)
        net.fit(X, y, epochs=3 + seed, batch_size=4)
        nets.append(net)
    return nets


def record(**fields):
    return {"job_id": new_id(), "name": "m", "dataset": "xor", "owner": "alice",
            "spec": {"model": {}}, "metrics": [], "evaluation": {"accuracy": 1.0},
            "created_at": "2024-01-01T00:00:00.000Z", **fields}


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return ArtifactStore(tmp_path / "files")
    return S3ArtifactStore(request.getfixturevalue("s3_url"), tmp_path / "local")


def objects(store: S3ArtifactStore) -> list[str]:
    return sorted(item["Key"][len(store.prefix):] for item in store._list(store.prefix))


def test_the_store_contract_holds_for_both_backends(store, xor_nets, tmp_path):
    net, (X, _) = xor_nets[0], datasets.load("xor")[0]
    ids = [new_id() for _ in range(3)]
    for day, (model_id, owner) in enumerate(zip(ids, ["alice", "bob", "alice"], strict=True)):
        saved = store.save_model(model_id, net, metadata=record(
            owner=owner, created_at=f"2024-01-0{day + 1}T00:00:00.000Z"))
        assert saved == store.get_model(model_id) and saved["status"] == "ready"
        assert saved["owner"] == owner and saved["size_bytes"] > 0
    assert [model["id"] for model in store.list_models()] == ids[::-1]
    assert [model["id"] for model in store.list_models(owner="alice")] == [ids[2], ids[0]]
    assert store.list_models(dataset="mnist") == []
    np.testing.assert_array_equal(store.load_network(ids[0]).predict(X), net.predict(X))
    directory = store.local_model_dir(ids[0])
    assert sorted(path.name for path in directory.iterdir() if not path.name.startswith(".")) \
        == ["manifest.json", "weights.npz"]
    assert store.model_file(ids[0], "weights.npz").read_bytes()[:2] == b"PK"
    assert store.delete_model(ids[0]) is True and store.delete_model(ids[0]) is False
    assert store.get_model(ids[0]) is None
    with pytest.raises(ModelNotFound):
        store.load_network(ids[0])
    # Checkpoints: save, resume, delete.
    job_id = new_id()
    assert store.load_checkpoint(job_id) is None
    store.save_checkpoint(job_id, net.checkpoint())
    assert store.load_checkpoint(job_id)["epoch"] == 3
    store.delete_checkpoint(job_id)
    assert store.load_checkpoint(job_id) is None


def test_another_host_sees_the_models_and_checkpoints(s3_url, xor_nets, tmp_path):
    """Two stores on the same bucket with separate local directories: nothing goes via disk."""
    here, there = (S3ArtifactStore(s3_url, tmp_path / name) for name in ("here", "there"))
    model_id, job_id = new_id(), new_id()
    here.save_model(model_id, xor_nets[0], metadata=record(name="shared"))
    here.save_checkpoint(job_id, xor_nets[1].checkpoint())
    assert there.get_model(model_id)["name"] == "shared"
    assert [model["id"] for model in there.list_models()] == [model_id]
    assert there.load_checkpoint(job_id)["epoch"] == 4
    assert there.load_network(model_id).sizes == xor_nets[0].sizes
    assert there.local_model_dir(model_id).parent.parent == tmp_path / "there"


def test_a_model_is_visible_only_once_complete(s3_url, xor_nets, tmp_path):
    store = S3ArtifactStore(s3_url, tmp_path / "local")
    model_id = new_id()
    store.save_model(model_id, xor_nets[0], metadata=record())
    keys = objects(store)
    weights_key = next(key for key in keys if key.startswith(f"models/{model_id}/weights-"))
    assert keys == sorted([f"models/{model_id}/manifest.json", weights_key])
    # A save that died after uploading its weights but before its manifest: no model.
    orphan = new_id()
    store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}models/{orphan}/weights-ab.npz",
                            Body=b"partial")
    assert store.get_model(orphan) is None
    assert [model["id"] for model in store.list_models()] == [model_id]


def test_tampered_weights_fail_their_checksum_on_load(s3_url, xor_nets, tmp_path):
    writer = S3ArtifactStore(s3_url, tmp_path / "writer")
    model_id = new_id()
    writer.save_model(model_id, xor_nets[0], metadata=record())
    key = next(item["Key"] for item in writer._list(writer.prefix) if "/weights-" in item["Key"])
    blob = bytearray(writer.client.get_object(Bucket=writer.bucket, Key=key)["Body"].read())
    blob[-30] ^= 0xFF
    writer.client.put_object(Bucket=writer.bucket, Key=key, Body=bytes(blob))
    reader = S3ArtifactStore(s3_url, tmp_path / "reader")
    with pytest.raises(ModelFileError, match="SHA-256"):
        reader.load_network(model_id)
    with pytest.raises(ModelCorrupt):
        ModelCache(reader).get(model_id)


def test_the_model_cache_notices_replacement_and_deletion_by_another_host(s3_url, xor_nets, tmp_path):
    writer = S3ArtifactStore(s3_url, tmp_path / "writer")
    cache = ModelCache(S3ArtifactStore(s3_url, tmp_path / "api"))
    model_id, (X, _) = new_id(), datasets.load("xor")[0]
    writer.save_model(model_id, xor_nets[0], metadata=record(name="v1"))
    first = cache.get(model_id)
    assert cache.get(model_id) is first  # warm: no reload
    writer.save_model(model_id, xor_nets[1], metadata=record(name="v2"))
    time.sleep(STAMP_SECONDS * 1.5)
    second = cache.get(model_id)
    assert second is not first and second.record["name"] == "v2"
    np.testing.assert_allclose(second.predict_proba(X.astype(second.dtype)),
                               xor_nets[1].predict_proba(X), rtol=1e-5)
    assert len([key for key in objects(writer) if "/weights-" in key]) == 1  # old one removed
    writer.delete_model(model_id)
    time.sleep(STAMP_SECONDS * 1.5)
    with pytest.raises(ModelNotFound):
        cache.get(model_id)
    assert not (tmp_path / "api" / "models" / model_id).exists()  # its stale local copy went too


def test_readers_see_whole_models_while_another_host_rewrites_one(s3_url, xor_nets, tmp_path):
    writer = S3ArtifactStore(s3_url, tmp_path / "writer")
    reader = S3ArtifactStore(s3_url, tmp_path / "reader")
    model_id, stop, seen = new_id(), threading.Event(), []

    def write():
        for round_ in range(8):
            writer.save_model(model_id, xor_nets[round_ % 2], metadata=record(name=f"v{round_}"))
        stop.set()

    thread = threading.Thread(target=write)
    thread.start()
    while not stop.is_set():
        try:
            seen.append(reader.load_network(model_id).sizes)
        except ModelNotFound:
            pass  # not saved yet
    thread.join()
    assert seen and all(sizes == xor_nets[0].sizes for sizes in seen)


@pytest.mark.parametrize("url, rule", [
    ("ftp://host/x", "file:///path or s3://bucket/prefix"),
    ("s3:///no-bucket", "names its bucket"),
    ("file://otherhost/x", "file:///absolute/path"),
    ("models", "file:///path or s3://bucket/prefix"),
])
def test_bad_artifact_urls_are_refused_at_start_up(url, rule):
    with pytest.raises(SettingsError, match="MLPQ_ARTIFACT_URL") as refused:
        Settings.from_env({"MLPQ_ARTIFACT_URL": url})
    assert rule in str(refused.value)


def test_artifact_url_picks_the_backend(tmp_path, s3_env):
    default = open_artifact_store(Settings.from_env({"MLPQ_ARTIFACT_DIR": str(tmp_path / "a")}))
    assert type(default) is ArtifactStore and default.root == tmp_path / "a"
    files = open_artifact_store(Settings.from_env({"MLPQ_ARTIFACT_URL": f"file://{tmp_path}/b"}))
    assert type(files) is ArtifactStore and files.root == tmp_path / "b"
    remote = open_artifact_store(Settings.from_env({"MLPQ_ARTIFACT_URL": "s3://bucket/some/prefix",
                                                     "MLPQ_ARTIFACT_DIR": str(tmp_path / "c")}))
    assert isinstance(remote, S3ArtifactStore) and remote.is_local is False
    assert (remote.bucket, remote.prefix, remote.root) == ("bucket", "some/prefix/", tmp_path / "c")
    assert make_client().meta.endpoint_url == s3_env["AWS_ENDPOINT_URL"]
