"""Uploaded datasets in both artifact stores (files, and S3 on a real moto server): one contract,
atomic writes, verified loads, listing by owner, deletion, and damage refused."""

import hashlib
import io
import json

import numpy as np
import pytest

from worker.store.artifacts import ArtifactStore
from worker.store.datasets import (
    DATASET_ARRAYS,
    DATASET_JSON,
    DatasetFileError,
    DatasetNotFound,
    bundle,
)
from worker.store.ids import new_id
from worker.store.s3_artifacts import S3ArtifactStore

RNG = np.random.default_rng(0)


def arrays(rows=10, width=3, task="classification"):
    y = (RNG.integers(0, 2, rows) if task == "classification"
         else RNG.standard_normal(rows).astype(np.float32))
    X = RNG.standard_normal((rows, width)).astype(np.float32)
    return {"X_train": X[:8], "y_train": y[:8], "X_test": X[8:], "y_test": y[8:]}


def record(**fields):
    return {"name": "titanic", "owner": "alice", "kind": "table", "task": "classification",
            "created_at": "2024-01-01T00:00:00Z", "sha256": "ab" * 32,
            "preprocessing": {"kind": "table"}, **fields}


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return ArtifactStore(tmp_path / "files")
    return S3ArtifactStore(request.getfixturevalue("s3_url"), tmp_path / "local")


def test_the_dataset_contract_holds_for_both_backends(store):
    ids = [new_id() for _ in range(3)]
    saved = {}
    for day, (dataset_id, owner) in enumerate(zip(ids, ["alice", "bob", "alice"], strict=True)):
        saved[dataset_id] = arrays()
        got = store.save_dataset(dataset_id, record(owner=owner, created_at=f"2024-01-0{day + 1}"),
                                 saved[dataset_id])
        assert got == store.get_dataset(dataset_id) == {**record(
            owner=owner, created_at=f"2024-01-0{day + 1}"), "id": dataset_id}
    assert [item["id"] for item in store.list_datasets()] == ids[::-1]  # newest first
    assert [item["id"] for item in store.list_datasets(owner="alice")] == [ids[2], ids[0]]
    assert store.list_datasets(owner="carol") == []
    loaded = store.load_dataset_arrays(ids[1])
    assert set(loaded) == {"X_train", "y_train", "X_test", "y_test"}
    for name, array in saved[ids[1]].items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype
    assert store.delete_dataset(ids[1]) is True and store.delete_dataset(ids[1]) is False
    assert store.get_dataset(ids[1]) is None
    assert [item["id"] for item in store.list_datasets()] == [ids[2], ids[0]]
    with pytest.raises(DatasetNotFound):
        store.load_dataset_arrays(ids[1])
    # Ids are checked before they reach a path or a key.
    assert store.get_dataset("../models") is None and store.delete_dataset("x") is False
    with pytest.raises(ValueError, match="dataset id"):
        store.load_dataset_arrays("../../etc")


def test_a_regression_dataset_keeps_float_targets(store):
    dataset_id = new_id()
    store.save_dataset(dataset_id, record(task="regression"), arrays(task="regression"))
    assert store.load_dataset_arrays(dataset_id)["y_train"].dtype == np.float32


def test_the_file_store_writes_exactly_two_files_atomically(tmp_path):
    store = ArtifactStore(tmp_path)
    dataset_id = new_id()
    store.save_dataset(dataset_id, record(), arrays())
    store.save_dataset(dataset_id, record(name="again"), arrays())  # a replacement swaps in whole
    assert sorted(path.name for path in (tmp_path / "datasets").iterdir()) == [dataset_id]
    assert sorted(path.name for path in store.dataset_dir(dataset_id).iterdir()) == [
        DATASET_ARRAYS, DATASET_JSON]
    assert store.get_dataset(dataset_id)["name"] == "again"
    document = json.loads((store.dataset_dir(dataset_id) / DATASET_JSON).read_text())
    assert document["arrays"]["X_train"] == [[8, 3], "float32"]
    assert document["arrays_sha256"] == hashlib.sha256(
        (store.dataset_dir(dataset_id) / DATASET_ARRAYS).read_bytes()).hexdigest()


def test_a_save_that_fails_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValueError, match="arrays are"):
        store.save_dataset(new_id(), record(), {"X_train": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError):  # NaN is not JSON: refused before anything is written
        store.save_dataset(new_id(), record(score=float("nan")), arrays())
    assert store.list_datasets() == []
    assert not (tmp_path / "datasets").exists()  # not even a directory was made


def npz(**named):
    buffer = io.BytesIO()
    np.savez(buffer, **named)
    return buffer.getvalue()


def test_damaged_arrays_are_refused_on_load(tmp_path):
    store = ArtifactStore(tmp_path)
    dataset_id = new_id()
    store.save_dataset(dataset_id, record(), arrays())
    directory = store.dataset_dir(dataset_id)
    blob = bytearray((directory / DATASET_ARRAYS).read_bytes())
    blob[-40] ^= 0xFF
    (directory / DATASET_ARRAYS).write_bytes(bytes(blob))
    with pytest.raises(DatasetFileError, match="SHA-256"):
        store.load_dataset_arrays(dataset_id)
    # Arrays of the wrong dtype under a matching hash: refused too (a float label, a pickle).
    bad = arrays()
    bad["y_train"] = bad["y_train"].astype(np.float64)
    files = bundle(record(), bad)
    (directory / DATASET_ARRAYS).write_bytes(files[DATASET_ARRAYS])
    (directory / DATASET_JSON).write_bytes(files[DATASET_JSON])
    with pytest.raises(DatasetFileError, match="y_train is float64"):
        store.load_dataset_arrays(dataset_id)
    objects = npz(X_train=np.array([object()], dtype=object), y_train=np.zeros(1),
                  X_test=np.zeros(1), y_test=np.zeros(1))
    document = json.loads(files[DATASET_JSON])
    document["arrays_sha256"] = hashlib.sha256(objects).hexdigest()
    (directory / DATASET_ARRAYS).write_bytes(objects)
    (directory / DATASET_JSON).write_text(json.dumps(document))
    with pytest.raises(DatasetFileError, match="not a readable .npz"):
        store.load_dataset_arrays(dataset_id)
    (directory / DATASET_JSON).write_text("{not json")
    assert store.get_dataset(dataset_id) is None  # unreadable: not listed, not served
    with pytest.raises(DatasetFileError, match="not readable JSON"):
        store.load_dataset_arrays(dataset_id)


def test_another_host_sees_the_dataset_and_its_deletion(s3_url, tmp_path):
    here, there = (S3ArtifactStore(s3_url, tmp_path / name) for name in ("here", "there"))
    dataset_id, data = new_id(), arrays()
    here.save_dataset(dataset_id, record(name="shared"), data)
    keys = sorted(item["Key"][len(here.prefix):] for item in here._list(here.prefix))
    digest = json.loads((here.dataset_dir(dataset_id) / DATASET_JSON).read_text())["arrays_sha256"]
    assert keys == [f"datasets/{dataset_id}/arrays-{digest}.npz", f"datasets/{dataset_id}/dataset.json"]
    assert there.get_dataset(dataset_id)["name"] == "shared"
    assert [item["id"] for item in there.list_datasets(owner="alice")] == [dataset_id]
    np.testing.assert_array_equal(there.load_dataset_arrays(dataset_id)["X_test"], data["X_test"])
    assert there.local_dataset_dir(dataset_id).parent.parent == tmp_path / "there"
    assert here.delete_dataset(dataset_id) is True
    assert list(here._list(here.prefix + "datasets/")) == []
    with pytest.raises(DatasetNotFound):
        there.load_dataset_arrays(dataset_id)  # its stale local copy is not served


def test_tampered_arrays_in_the_bucket_fail_their_checksum(s3_url, tmp_path):
    writer = S3ArtifactStore(s3_url, tmp_path / "writer")
    dataset_id = new_id()
    writer.save_dataset(dataset_id, record(), arrays())
    key = next(item["Key"] for item in writer._list(writer.prefix) if "/arrays-" in item["Key"])
    blob = bytearray(writer.client.get_object(Bucket=writer.bucket, Key=key)["Body"].read())
    blob[-40] ^= 0xFF
    writer.client.put_object(Bucket=writer.bucket, Key=key, Body=bytes(blob))
    reader = S3ArtifactStore(s3_url, tmp_path / "reader")
    with pytest.raises(DatasetFileError, match="SHA-256"):
        reader.load_dataset_arrays(dataset_id)


def test_a_dataset_is_visible_only_once_complete(s3_url, tmp_path):
    store = S3ArtifactStore(s3_url, tmp_path / "local")
    orphan = new_id()  # a save that died after its arrays, before its JSON
    store.client.put_object(Bucket=store.bucket, Body=b"partial",
                            Key=f"{store.prefix}datasets/{orphan}/arrays-ab.npz")
    assert store.get_dataset(orphan) is None and store.list_datasets() == []
    with pytest.raises(DatasetNotFound):
        store.load_dataset_arrays(orphan)
