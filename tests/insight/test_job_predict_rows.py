"""POST /v1/jobs/{id}/predict with rows: a table job's checkpoint predicts with its dataset's
preprocessing (uploaded or built-in, classification or regression), as its model will."""

from __future__ import annotations

import io

import numpy as np

from engine import Network, datasets
from engine.tables import TablePreprocessing
from tests.support.api import make_app, submit
from tests.support.tables import (
    PEOPLE_COLUMNS,
    csv_bytes,
    people,
    row_dicts,
    table_spec,
    upload_dataset,
)
from tests.support.waiting import wait_for_job
from worker.store.artifacts import ArtifactStore
from worker.store.jobs import JobStore

ROWS = row_dicts(PEOPLE_COLUMNS[:-1], [row[:-1] for row in people(6, seed=5)])


def running_job_with_checkpoint(settings, dataset, table, X, y, epochs=2):
    """A job the store says is running on `dataset` (no worker takes it: an idle Redis), and an
    end-of-epoch checkpoint of a network the engine trained on X, y, as a worker saves one."""
    spec = table_spec(table)
    network = Network.from_spec(spec, input_size=table.input_size, seed=3)
    network.fit(X, y, epochs=epochs, batch_size=16, diagnostics=False)
    store = JobStore.from_url(settings.redis_url)
    try:
        job = store.create(name="rows", dataset=dataset,
                           spec={"model": spec, "training": {"epochs": 10}})
        store.mark_running(job["id"])
    finally:
        store.close()
    ArtifactStore(settings.artifact_dir).save_checkpoint(job["id"], network.checkpoint())
    return job["id"], network


def test_an_uploaded_tables_checkpoint_predicts_rows(idle_settings):
    client = make_app(idle_settings).test_client()
    record = upload_dataset(client, csv_bytes(PEOPLE_COLUMNS, people()), "people.csv",
                            target="buys")
    arrays = ArtifactStore(idle_settings.artifact_dir).load_dataset_arrays(record["id"])
    table = TablePreprocessing.from_dict(record["preprocessing"])
    job_id, network = running_job_with_checkpoint(idle_settings, record["id"], table,
                                                  arrays["X_train"], arrays["y_train"])
    response = client.post(f"/v1/jobs/{job_id}/predict", json={"rows": ROWS})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["weights"] == "checkpoint" and body["epoch"] == 2 and body["classes"] == ["no", "yes"]
    served = np.array([prediction["probabilities"] for prediction in body["predictions"]])
    np.testing.assert_allclose(served, network.predict_proba(table.encode_rows(ROWS)),
                               rtol=0, atol=1e-6)
    csv = csv_bytes(PEOPLE_COLUMNS[:-1], [list(row.values()) for row in ROWS])
    uploaded = client.post(f"/v1/jobs/{job_id}/predict", content_type="multipart/form-data",
                           data={"rows": (io.BytesIO(csv), "rows.csv")}).get_json()
    assert uploaded["predictions"] == body["predictions"]
    bad = client.post(f"/v1/jobs/{job_id}/predict", json={"rows": [{**ROWS[0], "city": "Rome"}]})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["rows[0].city"]


def test_a_regression_checkpoint_answers_in_the_targets_units(idle_settings):
    table = datasets.preprocessing_for("diabetes")
    (X, y), (X_test, _) = datasets.load("diabetes")
    job_id, network = running_job_with_checkpoint(idle_settings, "diabetes", table, X, y)
    rows = [{column.name: float(f"{float(x[index]) * column.std + column.mean:.6g}")
             for index, column in enumerate(table.columns)} for x in X_test[:4]]
    client = make_app(idle_settings).test_client()
    response = client.post(f"/v1/jobs/{job_id}/predict", json={"rows": rows})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["target"] == table.target.name and body["weights"] == "checkpoint"
    network.target_scale = (table.target.mean, table.target.std)  # as the saved model will have
    np.testing.assert_allclose([prediction["value"] for prediction in body["predictions"]],
                               network.predict_values(table.encode_rows(rows)), rtol=0, atol=1e-6)


IRIS_JOB = {"name": "iris rows", "dataset": "iris",
            "model": {"layers": [{"units": 8, "activation": "tanh"},
                                 {"units": 3, "activation": "softmax"}]},
            "training": {"epochs": 5, "batch_size": 16}}


def test_a_succeeded_iris_job_answers_rows_with_its_model(client, celery_worker):
    """Trained through the API by the real worker: the model carries iris' preprocessing."""
    job = wait_for_job(client, submit(client, IRIS_JOB)["id"], timeout=120)
    assert job["status"] == "succeeded", job["error"]
    table = datasets.preprocessing_for("iris")
    rows = [dict(zip(table.column_names, values, strict=True))
            for values in ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3])]
    by_job = client.post(f"/v1/jobs/{job['id']}/predict", json={"rows": rows}).get_json()
    by_model = client.post(f"/v1/models/{job['model_id']}/predict", json={"rows": rows}).get_json()
    assert by_job["weights"] == "model" and by_job["predictions"] == by_model["predictions"]
    assert by_model["classes"] == list(table.classes)
