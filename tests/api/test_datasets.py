"""POST/GET/DELETE /v1/datasets over the real stack (gunicorn, Redis): uploads of real CSV files in
every accepted dialect, their encoding checked against engine.tables run by hand, ownership,
uploads stored once; and an iris job trained. (tests/api/test_dataset_bad_input.py refuses the bad
uploads; tests/api/test_dataset_jobs.py trains on uploads by id and refuses to delete a dataset
a job uses.)"""

from __future__ import annotations

import gzip
import hashlib

import httpx
import numpy as np
import pytest

from engine import datasets, serialization
from engine.table_datasets import split_indices
from engine.tables import TablePreprocessing
from tests.support.api import make_key, submit
from tests.support.servers import GunicornServer, api_env
from tests.support.services import build_service_env
from tests.support.tables import (
    HOUSE_COLUMNS,
    PASSENGER_COLUMNS,
    csv_bytes,
    houses,
    passengers,
)
from tests.support.waiting import wait_for_job
from worker.store.artifacts import ArtifactStore

KEYS = {name: make_key(name, admin=name == "admin") for name in ("alice", "bob", "admin")}


@pytest.fixture(scope="module")
def stack(redis_url, tmp_path_factory):
    """gunicorn (production config) on the session's Redis, with its own artifact directory."""
    root = tmp_path_factory.mktemp("datasets-stack")
    env = api_env(build_service_env(redis_url, root / "artifacts"),
                  MLPQ_API_KEYS=",".join(key.entry for key in KEYS.values()))
    server = GunicornServer(env, root / "gunicorn.log").start()
    yield server, ArtifactStore(root / "artifacts")
    server.stop()


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack[0].url, timeout=60) as client:
        yield client


def upload(http, content: bytes, filename="table.csv", key="alice", test_file=None, **fields):
    files = {"file": (filename, content, "text/csv")}
    if test_file is not None:
        files["test_file"] = ("test.csv", test_file, "text/csv")
    return http.post("/v1/datasets", files=files, data={k: str(v) for k, v in fields.items()},
                     headers=KEYS[key].headers)


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def by_name(rows: list[list], header: list[str]) -> list[dict]:
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_a_table_with_text_columns_and_gaps_is_encoded_as_the_engine_would(http, stack):
    rows = passengers()
    content = csv_bytes(PASSENGER_COLUMNS, rows)
    refused = upload(http, content, "passengers.csv")
    assert refused.status_code == 422
    assert refused.json()["message"] == ("file 'passengers.csv': line 5, column 'age': missing "
                                         "value; fill it in, or upload again with missing=mean, "
                                         "most_frequent or drop")
    record = created(upload(http, content, "passengers.csv", missing="mean", seed=7))
    assert (record["name"], record["owner"], record["kind"], record["task"], record["target"]) == (
        "passengers.csv", "alice", "table", "classification", "survived")
    assert record["classes"] == ["no", "yes"] and record["num_classes"] == 2
    assert record["sha256"] == hashlib.sha256(content).hexdigest()
    assert record["size_bytes"] == len(content) and record["format"] == "csv"
    assert [(f["name"], f["type"]) for f in record["features"]] == [
        ("age", "numeric"), ("sex", "category"), ("class", "category"), ("fare", "numeric"),
        ("embarked", "category")]
    ages = [row[0] for row in rows if row[0] is not None]
    assert record["features"][0]["stats"] == pytest.approx({
        "count": len(ages), "missing": len(rows) - len(ages), "min": min(ages), "max": max(ages),
        "mean": np.mean(ages), "std": np.std(ages)})
    assert record["features"][4]["stats"]["missing"] == sum(row[4] is None for row in rows)
    assert record["feature_names"][:4] == ["age", "sex=female", "sex=male", "class=first"]
    assert record["input_size"] == len(record["feature_names"]) == 1 + 2 + 3 + 1 + 3
    assert record["train_size"] + record["test_size"] == len(rows)
    balance = record["class_balance"]
    assert sum(balance["train"].values()) == record["train_size"]
    assert balance["test"] == {name: sum(row[5] == name for row in rows) - balance["train"][name]
                               for name in ("no", "yes")}
    assert record["preview"][0] == dict(zip(PASSENGER_COLUMNS, rows[0], strict=True))
    # The stored arrays are engine.tables' encoding of the rows of the seeded, stratified split.
    prep = TablePreprocessing.from_dict(record["preprocessing"])
    arrays = stack[1].load_dataset_arrays(record["id"])
    labels = np.array([row[5] for row in rows])
    train, test = split_indices(len(rows), 0.2, 7, labels)
    raw = by_name(rows, PASSENGER_COLUMNS)
    complete = [i for i, row in enumerate(train) if None not in rows[row]]
    np.testing.assert_allclose(prep.encode_rows([raw[train[i]] for i in complete]),
                               arrays["X_train"][complete], rtol=1e-6)
    assert prep.encode_target(labels[test]).tolist() == arrays["y_test"].tolist()
    age_mean = np.mean([rows[row][0] for row in train if rows[row][0] is not None])
    assert prep.columns[0].mean == pytest.approx(age_mean)  # the training split's statistics
    gap = next(i for i, row in enumerate(train) if rows[row][0] is None)  # filled with that mean
    assert arrays["X_train"][gap, 0] == pytest.approx(0.0, abs=1e-6)


def test_a_float_target_is_a_regression_in_its_own_units(http, stack):
    rows = houses()
    record = created(upload(http, csv_bytes(HOUSE_COLUMNS, rows), "houses.csv"))
    assert (record["task"], record["classes"], record["num_classes"]) == ("regression", None, None)
    prices = [row[3] for row in rows]
    assert record["target_stats"]["mean"] == pytest.approx(np.mean(prices))
    assert record["class_balance"] is None
    prep = TablePreprocessing.from_dict(record["preprocessing"])
    arrays = stack[1].load_dataset_arrays(record["id"])
    assert arrays["y_train"].dtype == np.float32
    train, test = split_indices(len(rows), 0.2, 0)
    np.testing.assert_allclose(prep.decode_values(arrays["y_test"]), np.array(prices)[test],
                               rtol=1e-5)
    # A few distinct integers would be classes; task=regression says otherwise.
    rooms_first = [[row[1], row[2], row[3], row[0]] for row in rows]
    header = ["area", "district", "price", "rooms"]
    assert created(upload(http, csv_bytes(header, rooms_first)))["task"] == "classification"
    assert created(upload(http, csv_bytes(header, rooms_first), task="regression"))["task"] == "regression"


@pytest.mark.parametrize(("dialect", "delimiter", "name"), [
    ({"delimiter": ";"}, "semicolon", "semicolons.csv"),
    ({"delimiter": "\t"}, "tab", "tabs.tsv"),
    ({"bom": True}, "comma", "excel.csv"),
    ({"quote_all": True, "delimiter": ";"}, "semicolon", "quoted.csv"),
])
def test_every_dialect_reads_the_same_table(http, dialect, delimiter, name):
    rows = passengers(30, gaps=False)
    rows[2][4] = 'Cherbourg; "north", quay\nsecond line'  # quotes, delimiters and a newline
    record = created(upload(http, csv_bytes(PASSENGER_COLUMNS, rows, **dialect), name, seed=3))
    assert record["delimiter"] == delimiter
    assert [feature["name"] for feature in record["features"]] == PASSENGER_COLUMNS[:-1]
    assert record["preview"][2]["embarked"] == rows[2][4]
    assert record["train_size"] + record["test_size"] == 30


def test_gzip_and_a_separate_test_file(http, stack):
    rows = passengers(40, gaps=False)
    content = csv_bytes(PASSENGER_COLUMNS, rows)
    packed = gzip.compress(content)
    record = created(upload(http, packed, "passengers.csv.gz"))
    assert record["format"] == "csv+gzip" and record["sha256"] == hashlib.sha256(packed).hexdigest()
    plain = created(upload(http, content, "passengers.csv"))
    assert plain["preprocessing"] == record["preprocessing"]  # the same table
    held_out = passengers(12, seed=5, gaps=False)
    split = created(upload(http, content, test_file=csv_bytes(PASSENGER_COLUMNS, held_out)))
    assert (split["train_size"], split["test_size"]) == (40, 12)
    assert split["test_file"]["rows"] == 12
    prep = TablePreprocessing.from_dict(split["preprocessing"])
    arrays = stack[1].load_dataset_arrays(split["id"])
    np.testing.assert_allclose(arrays["X_test"], prep.encode_rows(by_name(held_out, PASSENGER_COLUMNS)),
                               rtol=1e-6)


def test_the_same_upload_twice_is_stored_once(http):
    content = csv_bytes(HOUSE_COLUMNS, houses(20, seed=9))
    first = created(upload(http, content, "again.csv", seed=1))
    again = upload(http, content, "renamed.csv", seed=1)
    assert again.status_code == 200 and again.json() == first
    other = created(upload(http, content, "again.csv", seed=2))  # other options: another split
    assert other["id"] != first["id"]
    listed = [item["id"] for item in http.get("/v1/datasets", headers=KEYS["alice"].headers).json()]
    assert listed.count(first["id"]) == 1 and listed.index(other["id"]) < listed.index(first["id"])
    bobs = created(upload(http, content, "again.csv", key="bob", seed=1))  # another key's own copy
    assert bobs["id"] != first["id"] and bobs["owner"] == "bob"


def test_a_dataset_is_its_owners(http):
    record = created(upload(http, csv_bytes(HOUSE_COLUMNS, houses(20, seed=4)), "private.csv", seed=4))
    path = f"/v1/datasets/{record['id']}"
    assert http.get(path, headers=KEYS["alice"].headers).json() == record
    for method in ("GET", "DELETE"):
        other = http.request(method, path, headers=KEYS["bob"].headers)
        assert other.status_code == 404, method
        assert other.json()["message"] == f"no dataset {record['id']!r} (or it belongs to another key)"
    assert record["id"] not in [item["id"] for item in
                                http.get("/v1/datasets", headers=KEYS["bob"].headers).json()]
    assert http.get(path, headers=KEYS["admin"].headers).json()["owner"] == "alice"
    assert http.get("/v1/datasets/iris", headers=KEYS["bob"].headers).json()["owner"] is None
    assert http.delete("/v1/datasets/iris", headers=KEYS["admin"].headers).status_code == 400
    assert http.get("/v1/datasets").status_code == 401


def test_built_ins_are_listed_with_their_source(http):
    listed = {item["id"]: item for item in http.get("/v1/datasets", headers=KEYS["bob"].headers).json()}
    assert {"mnist", "iris", "wine", "breast-cancer", "diabetes"} <= set(listed)
    assert listed["diabetes"]["task"] == "regression" and "Efron" in listed["diabetes"]["source"]
    assert "CC BY 4.0" in listed["wine"]["licence"]
    iris = http.get("/v1/datasets/iris", headers=KEYS["bob"].headers).json()
    assert iris["class_balance"]["test"] == {"setosa": 10, "versicolor": 10, "virginica": 10}
    assert iris["preprocessing"] == datasets.preprocessing_for("iris").to_dict()
    assert iris["preview"][0]["sepal length (cm)"] == 5.1


def test_an_iris_job_trains_and_its_model_carries_the_preprocessing(client, celery_worker,
                                                                     artifact_dir):
    job = submit(client, {"dataset": "iris", "model": {
        "layers": [{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]},
        "training": {"epochs": 30, "batch_size": 16, "optimizer": {"name": "adam",
                                                                  "learning_rate": 0.05}}})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    assert model["evaluation"]["accuracy"] > 0.8
    manifest = serialization.read_manifest(ArtifactStore(artifact_dir).local_model_dir(model["id"]))
    assert manifest["preprocessing"] == datasets.preprocessing_for("iris").to_dict()
    assert manifest["classes"] == ["setosa", "versicolor", "virginica"]
