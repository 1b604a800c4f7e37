"""Jobs that name an uploaded dataset by id, over a real stack of their own (gunicorn with API
keys, Redis, a Celery worker): a CSV with text columns and gaps trained as a classifier, a
regression CSV whose evaluation equals the engine run by hand on the stored arrays, the model
record, manifest and card carrying the dataset and its preprocessing; another key's dataset is
an unknown dataset; a dataset deleted before its job runs fails the job (`dataset_deleted`); a
dataset is not deleted while a real job trains on it; and the built-in diabetes regression."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from engine import serialization
from engine.network import Network
from engine.tables import TablePreprocessing
from tests.support.api import make_app, make_key
from tests.support.servers import GunicornServer, api_env
from tests.support.services import CeleryWorker, build_service_env, start_redis
from tests.support.tables import (
    HOUSE_COLUMNS,
    PASSENGER_COLUMNS,
    csv_bytes,
    houses,
    passengers,
)
from tests.support.waiting import wait_for_job
from worker.store.artifacts import ArtifactStore
from worker.store.config import Settings

KEYS = {name: make_key(name, admin=name == "admin") for name in ("alice", "bob", "admin")}
SMALL_NET = {"layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]}
REGRESSION_NET = {"task": "regression", "init": "xavier", "layers": [
    {"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}]}
ADAM = {"name": "adam", "learning_rate": 0.01}


@dataclass(frozen=True)
class Stack:
    url: str
    artifacts: ArtifactStore


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Its own Redis, artifact store, Celery worker and gunicorn (production config, API keys):
    the datasets uploaded here stay out of the session's listings."""
    root = tmp_path_factory.mktemp("dataset-jobs")
    redis = start_redis(root / "redis")
    env = build_service_env(redis.url, root / "artifacts")
    worker = CeleryWorker(env, root / "logs").start()
    server = GunicornServer(api_env(env, MLPQ_API_KEYS=",".join(key.entry for key in KEYS.values())),
                            root / "gunicorn.log").start()
    yield Stack(server.url, ArtifactStore(root / "artifacts"))
    server.stop()
    worker.stop()
    redis.stop()


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        yield client


def upload(http, content: bytes, filename: str, key: str = "alice", **fields) -> dict:
    response = http.post("/v1/datasets", files={"file": (filename, content, "text/csv")},
                         data={name: str(value) for name, value in fields.items()},
                         headers=KEYS[key].headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def submit(http, body: dict, key: str = "alice") -> dict:
    response = http.post("/v1/jobs", json=body, headers=KEYS[key].headers)
    assert response.status_code == 202, response.text
    return response.json()


def finished(http, job_id: str, key: str = "alice", timeout: float = 180.0) -> dict:
    return wait_for_job(Keyed(http, key), job_id, timeout=timeout)


class Keyed:
    """An httpx client that sends one key's header (for the shared waits)."""

    def __init__(self, http, key: str):
        self.http, self.key = http, key

    def get(self, path, **kwargs):
        return self.http.get(path, headers=KEYS[self.key].headers, **kwargs)


def test_a_table_with_text_and_gaps_trains_by_id_and_its_model_carries_the_preprocessing(
        http, stack):
    content = csv_bytes(PASSENGER_COLUMNS, passengers(120))
    dataset = upload(http, content, "passengers.csv", missing="mean", name="passengers")
    job = submit(http, {"dataset": dataset["id"], "model": SMALL_NET,
                        "training": {"epochs": 20, "batch_size": 16, "optimizer": ADAM}})
    assert (job["dataset"], job["dataset_name"], job["dataset_sha256"], job["task"]) == (
        dataset["id"], "passengers", dataset["sha256"], "classification")
    assert job["name"] == "passengers-8-2" and job["plan"]["input_size"] == dataset["input_size"]
    done = finished(http, job["id"])
    assert done["status"] == "succeeded", done["error"]
    model = http.get(f"/v1/models/{done['model_id']}", headers=KEYS["alice"].headers).json()
    assert {key: model[key] for key in ("dataset", "dataset_name", "dataset_sha256", "task")} == {
        "dataset": dataset["id"], "dataset_name": "passengers",
        "dataset_sha256": dataset["sha256"], "task": "classification"}
    assert model["preprocessing"] == dataset["preprocessing"]
    assert model["input"]["kind"] == "table" and model["input"]["size"] == dataset["input_size"]
    assert model["input"]["columns"][:2] == [
        {"name": "age", "type": "numeric"},
        {"name": "sex", "type": "category", "categories": ["female", "male"]}]
    assert model["evaluation"]["accuracy"] > 0.7
    manifest = serialization.read_manifest(stack.artifacts.local_model_dir(model["id"]))
    assert manifest["preprocessing"] == dataset["preprocessing"]  # unchanged, as the dataset has it
    assert manifest["classes"] == ["no", "yes"] and manifest["dataset"] == dataset["id"]
    listed = http.get(f"/v1/models?dataset={dataset['id']}", headers=KEYS["alice"].headers).json()
    assert [item["id"] for item in listed] == [model["id"]]

    card = http.get(f"/v1/models/{model['id']}/card", headers=KEYS["alice"].headers).text
    table = TablePreprocessing.from_dict(dataset["preprocessing"])
    age, sex = table.columns[0], table.columns[1]
    assert f"uploaded table (id `{dataset['id']}`); file SHA-256 `{dataset['sha256']}`" in card
    assert "- Task: classification — sort rows of `passengers` into 2 classes" in card
    assert "\n### What happens to a row before the first layer\n" in card
    assert f"| `age` | number | (x − {age.mean:.6g}) / {age.std:.6g} | `age` |" in card
    assert ("| `sex` | category | one-hot over its 2 values `female`, `male`: 1 for the row's "
            "value, 0 for the others; any other value is refused | `sex=female`, `sex=male` |") in card
    assert sex.categories == ("female", "male")
    assert "The target `survived` is a class, learned as its index (no → 0, yes → 1)" in card
    assert "truth table" not in card and '"inputs"' not in card
    first = dataset["preview"][0]  # a real row: the first one with every column filled
    assert all(first[name] is not None for name in table.column_names)
    row = {name: first[name] for name in table.column_names}
    assert json.dumps({"rows": [row]}) in card


def test_a_regression_table_is_evaluated_as_the_engine_by_hand(http, stack):
    dataset = upload(http, csv_bytes(HOUSE_COLUMNS, houses(120, seed=3)), "houses.csv",
                     name="houses", seed=5)
    assert dataset["task"] == "regression"
    job = submit(http, {"dataset": dataset["id"], "model": REGRESSION_NET, "training": {
        "epochs": 40, "batch_size": 16, "optimizer": ADAM, "validation_split": 0.1, "seed": 3}})
    assert job["task"] == "regression"
    done = finished(http, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert {"loss", "rmse", "mae", "r2", "val_rmse", "val_mae", "val_r2"} <= set(done["metrics"][-1])
    assert "accuracy" not in done["metrics"][-1]
    model = http.get(f"/v1/models/{done['model_id']}", headers=KEYS["alice"].headers).json()
    assert model["task"] == "regression" and model["metrics"] == done["metrics"]

    # The engine by hand: the stored arrays, the same spec and seed, the target's scale.
    store = stack.artifacts
    arrays = store.load_dataset_arrays(dataset["id"])
    table = TablePreprocessing.from_dict(dataset["preprocessing"])
    net = Network.from_spec(model["spec"]["model"], input_size=table.input_size,
                            seed=model["spec"]["training"]["seed"])
    net.target_scale = (table.target.mean, table.target.std)
    net.fit(arrays["X_train"], arrays["y_train"], **model["spec"]["training"])
    by_hand = net.evaluate(arrays["X_test"], arrays["y_test"])
    assert model["evaluation"] == pytest.approx(by_hand, rel=1e-5)
    assert model["evaluation"]["r2"] > 0.8  # price is nearly linear in rooms and area
    prices = table.decode_values(arrays["y_test"])  # the evaluation is in the target's units
    predicted = net.predict_values(arrays["X_test"])
    assert model["evaluation"]["rmse"] == pytest.approx(
        float(np.sqrt(np.mean((predicted - prices) ** 2))), rel=1e-4)
    manifest = serialization.read_manifest(store.local_model_dir(model["id"]))
    assert manifest["target_scale"] == {"mean": [table.target.mean], "std": [table.target.std]}
    assert manifest["preprocessing"] == dataset["preprocessing"] and manifest["classes"] == []

    card = http.get(f"/v1/models/{model['id']}/card", headers=KEYS["alice"].headers).text
    mean, std = f"{table.target.mean:.6g}", f"{table.target.std:.6g}"
    assert (f"z = (y − {mean}) / {std}, and its output is turned back into y = {mean} + {std} · z, "
            "so predictions, RMSE and MAE are in `price`'s own units") in card
    assert f"- RMSE {model['evaluation']['rmse']:.4g} and MAE" in card
    assert "Each row gets a `value`, in `price`'s units." in card


def test_a_dataset_of_another_key_is_an_unknown_dataset(http):
    dataset = upload(http, csv_bytes(HOUSE_COLUMNS, houses(30, seed=8)), "private.csv", seed=8)
    body = {"dataset": dataset["id"], "model": REGRESSION_NET, "training": {"epochs": 1}}
    unknown = {**body, "dataset": "0" * 32}
    for path in ("/v1/jobs", "/v1/plans"):
        refused = http.post(path, json=body, headers=KEYS["bob"].headers)
        assert refused.status_code == 422, refused.text
        message = refused.json()["errors"]["dataset"][0]
        assert message.startswith(f"unknown dataset '{dataset['id']}': name a built-in")
        # Exactly what a dataset that does not exist gets: nothing says the id is taken.
        other = http.post(path, json=unknown, headers=KEYS["bob"].headers).json()
        assert other["errors"]["dataset"][0] == message.replace(dataset["id"], "0" * 32)
    plan = http.post("/v1/plans", json=body, headers=KEYS["alice"].headers)
    assert plan.status_code == 200 and plan.json()["input_size"] == dataset["input_size"]
    assert plan.json()["samples"]["total"] == dataset["train_size"]
    admin = http.post("/v1/plans", json=body, headers=KEYS["admin"].headers)
    assert admin.status_code == 200, admin.text  # the admin key sees every key's datasets


def test_a_plan_on_an_uploaded_table_warns_about_its_data(http):
    """The warnings about a table's training data (engine.data_advice) come from the profile the
    upload keeps; the plan never reads the arrays."""
    rows = [[age, "FR", "yes" if index % 12 == 0 else "no"]
            for index, age in enumerate(range(20, 80))]  # 5 yes for 55 no; a constant column
    dataset = upload(http, csv_bytes(["age", "country", "buys"], rows), "skewed.csv", seed=1)
    plan = http.post("/v1/plans", headers=KEYS["alice"].headers, json={
        "dataset": dataset["id"], "model": SMALL_NET, "training": {"epochs": 1}})
    assert plan.status_code == 200, plan.text
    warnings = {warning["id"]: warning for warning in plan.json()["warnings"]}
    assert warnings["constant_columns"]["facts"]["names"] == "'country=FR'"
    assert warnings["class_imbalance"]["facts"]["rare"] == "yes"
    assert "unscaled_columns" not in warnings  # uploads are standardised


def test_delete_is_refused_while_a_real_job_trains_on_the_dataset(http):
    dataset = upload(http, csv_bytes(HOUSE_COLUMNS, houses(60, seed=6)), "busy.csv", seed=6)
    path = f"/v1/datasets/{dataset['id']}"
    job = submit(http, {"dataset": dataset["id"], "model": REGRESSION_NET,
                        "training": {"epochs": 20000, "batch_size": 1}})
    running = wait_for_job(Keyed(http, "alice"), job["id"], statuses="running", timeout=60)
    assert running["status"] == "running"
    refused = http.delete(path, headers=KEYS["alice"].headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["message"] == (
        f"1 queued or running job(s) ({job['id']}) train on dataset {dataset['id']}; cancel "
        "them or wait for them to end, then delete.")
    assert http.post(f"/v1/jobs/{job['id']}/cancel", headers=KEYS["alice"].headers).status_code == 202
    assert finished(http, job["id"], timeout=60)["status"] == "cancelled"
    assert http.delete(path, headers=KEYS["alice"].headers).status_code == 204
    assert http.get(path, headers=KEYS["alice"].headers).status_code == 404


def test_a_job_whose_dataset_is_deleted_before_it_runs_fails_as_documented(
        make_redis_server, make_celery_worker, tmp_path):
    """The API refuses the delete while the job is queued; a delete that slips in between the
    job's check and its start (here: straight in the store, as that race would) fails the job."""
    env = build_service_env(make_redis_server().url, tmp_path / "artifacts")
    client = make_app(Settings.from_env(env)).test_client()  # no worker consumes its queue yet
    created = client.post("/v1/datasets", content_type="multipart/form-data", data={
        "file": (io.BytesIO(csv_bytes(HOUSE_COLUMNS, houses(30))), "gone.csv")})
    assert created.status_code == 201, created.get_json()
    dataset_id = created.get_json()["id"]
    job = client.post("/v1/jobs", json={"dataset": dataset_id, "model": REGRESSION_NET,
                                        "training": {"epochs": 2}}).get_json()
    assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 409  # queued: refused
    assert ArtifactStore(tmp_path / "artifacts").delete_dataset(dataset_id)
    make_celery_worker(env=env)
    failed = wait_for_job(client, job["id"], timeout=90)
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "dataset_deleted", "message": (
        f"dataset {dataset_id} was deleted after the job was submitted; upload the table again "
        "and submit a job naming the new id")}


def test_the_diabetes_regression_trains_in_a_short_job(http):
    job = submit(http, {"dataset": "diabetes", "model": REGRESSION_NET, "training": {
        "epochs": 15, "batch_size": 32, "optimizer": ADAM, "seed": 0}}, key="bob")
    assert (job["dataset"], job["dataset_name"], job["dataset_sha256"]) == ("diabetes", "diabetes", None)
    done = finished(http, job["id"], key="bob")
    assert done["status"] == "succeeded", done["error"]
    model = http.get(f"/v1/models/{done['model_id']}", headers=KEYS["bob"].headers).json()
    assert model["evaluation"]["r2"] > 0.3, model["evaluation"]
    assert model["preprocessing"]["target"]["name"] == "progression"
    card = http.get(f"/v1/models/{model['id']}/card", headers=KEYS["bob"].headers).text
    assert "- Dataset: `diabetes` (built in) — Diabetes data of Efron" in card
    assert "diabetes_data_raw.csv.gz `7fc0ded5" in card
