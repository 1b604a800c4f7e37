"""POST /v1/models/{id}/predict with rows by column name (JSON or a CSV upload) for table models:
answers equal the engine run by hand on the model's own preprocessing; regression in the
target's units; explain=true as gradient × input by feature name."""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.tables import PEOPLE_COLUMNS, csv_bytes, people, row_dicts
from worker.store.ids import new_id

ROWS = row_dicts(PEOPLE_COLUMNS[:-1], [row[:-1] for row in people(12, seed=7)])


def predict(client, model_id, body, query=""):
    response = client.post(f"/v1/models/{model_id}/predict{query}", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def upload_csv(client, model_id, data: bytes, filename="rows.csv", query=""):
    return client.post(f"/v1/models/{model_id}/predict{query}", content_type="multipart/form-data",
                       data={"rows": (io.BytesIO(data), filename)})


def raw_rows(model, X) -> list[dict]:
    """Encoded numeric rows back to raw values by column name (the built-ins are all numbers),
    to 6 significant digits: numbers a CSV parser reads back exactly, as JSON's does."""
    return [{column.name: float(f"{float(x[index]) * column.std + column.mean:.6g}")
             for index, column in enumerate(model.table.columns)} for x in X]


def test_rows_are_the_engine_on_the_models_preprocessing(client, people_model):
    body = predict(client, people_model.model_id, {"rows": ROWS})
    expected = people_model.network.predict_proba(people_model.table.encode_rows(ROWS))
    assert list(body) == ["model_id", "classes", "predictions"]  # today's keys, exactly
    assert body["classes"] == ["no", "yes"]
    served = np.array([prediction["probabilities"] for prediction in body["predictions"]])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-6)
    for prediction, row in zip(body["predictions"], expected, strict=True):
        assert list(prediction) == ["label", "probabilities", "top_k"]
        assert prediction["label"] == int(row.argmax()) == prediction["top_k"][0]["label"]
    # the target column may come along (it is ignored); the encoded vectors still work too
    with_target = predict(client, people_model.model_id,
                          {"rows": [{**row, "buys": "yes"} for row in ROWS]})
    encoded = predict(client, people_model.model_id,
                      {"inputs": people_model.table.encode_rows(ROWS).tolist()})
    assert with_target["predictions"] == body["predictions"] == encoded["predictions"]


def test_builtin_iris_rows_by_feature_name(client, iris_model):
    rows = raw_rows(iris_model, iris_model.X_test[:10])
    assert "sepal length (cm)" in rows[0]
    body = predict(client, iris_model.model_id, {"rows": rows})
    served = np.array([prediction["probabilities"] for prediction in body["predictions"]])
    np.testing.assert_allclose(served, iris_model.network.predict_proba(
        iris_model.table.encode_rows(rows)), rtol=0, atol=1e-6)
    assert body["classes"] == list(iris_model.table.classes)


@pytest.mark.parametrize("dialect", ["comma", "semicolon", "tab", "bom", "gzip", "quoted"])
def test_a_csv_upload_answers_as_the_same_rows_in_json(client, people_model, dialect):
    delimiter = {"semicolon": ";", "tab": "\t"}.get(dialect, ",")
    data = csv_bytes(PEOPLE_COLUMNS[:-1], [list(row.values()) for row in ROWS], delimiter)
    if dialect == "bom":
        data = b"\xef\xbb\xbf" + data
    elif dialect == "gzip":
        data = gzip.compress(data)
    elif dialect == "quoted":
        data = data.replace(b"Paris", b'"Paris"').replace(b"monthly income", b'"monthly income"')
    response = upload_csv(client, people_model.model_id, data)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["predictions"] == predict(
        client, people_model.model_id, {"rows": ROWS})["predictions"]


def test_regression_values_are_in_the_targets_units(client, diabetes_model):
    model, table = diabetes_model, diabetes_model.table
    rows = raw_rows(model, model.X_test)
    body = predict(client, model.model_id, {"rows": rows})
    assert list(body) == ["model_id", "target", "predictions"]
    assert body["target"] == table.target.name
    assert all(list(prediction) == ["value"] for prediction in body["predictions"])
    values = np.array([prediction["value"] for prediction in body["predictions"]])
    np.testing.assert_allclose(values, model.network.predict_values(table.encode_rows(rows)),
                               rtol=0, atol=1e-6)
    # by hand (tanh, then identity: tests/support/tables.py): the output unit's standardised
    # value, times the target's std, plus its mean
    (hidden, output) = model.network.params
    X = table.encode_rows(rows).astype(np.float64)
    z = np.tanh(X @ hidden["W"] + hidden["b"]) @ output["W"] + output["b"]
    np.testing.assert_allclose(values, z[:, 0] * table.target.std + table.target.mean, rtol=1e-5)
    truth = table.decode_values(model.y_test)
    rmse = float(np.sqrt(np.mean((values - truth) ** 2)))
    assert rmse == pytest.approx(model.network.evaluate(model.X_test, model.y_test)["rmse"],
                                 rel=1e-4)
    assert 25 <= values.mean() <= 350  # diabetes progression scores, not standardised numbers
    csv = csv_bytes(list(rows[0]), [list(row.values()) for row in rows[:5]])
    answer = upload_csv(client, model.model_id, csv).get_json()
    # against a batch of 5 (BLAS may round a float32 batch of another size differently)
    np.testing.assert_allclose([p["value"] for p in answer["predictions"]],
                               model.network.predict_values(table.encode_rows(rows[:5])),
                               rtol=0, atol=1e-6)


def finite_difference(function, x, eps=1e-5):
    grads = np.zeros_like(x)
    for unit in range(len(x)):
        up, down = x.copy(), x.copy()
        up[unit] += eps
        down[unit] -= eps
        grads[unit] = (function(up) - function(down)) / (2 * eps)
    return grads


def float64_copy(network):
    from engine import Network

    copy = Network(network.spec, network.input_size, dtype=np.float64)
    copy.params = [{"W": layer["W"], "b": layer["b"]} for layer in network.params]
    copy.target_scale = network.target_scale
    return copy


def test_explain_is_gradient_times_input_by_feature_name(client, people_model):
    body = predict(client, people_model.model_id, {"rows": ROWS[:3]}, "?explain=true")
    oracle = float64_copy(people_model.network)
    X = people_model.table.encode_rows(ROWS[:3]).astype(np.float64)
    for x, prediction in zip(X, body["predictions"], strict=True):
        label = prediction["label"]
        expected = finite_difference(lambda v: oracle.predict_proba(v[None])[0, label], x)  # noqa: B023
        attribution = prediction["attribution"]
        assert [item["feature"] for item in attribution] == people_model.table.feature_names
        assert "city=Paris" in people_model.table.feature_names
        gradient = np.array([item["gradient"] for item in attribution])
        np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose([item["input"] for item in attribution], x, atol=1e-6)
        np.testing.assert_allclose([item["attribution"] for item in attribution], gradient * x,
                                   rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(prediction["saliency"], gradient, rtol=1e-5, atol=1e-9)
        zeros = [item["attribution"] for item in attribution if item["input"] == 0]
        assert zeros and all(math.copysign(1, value) == 1 for value in zeros)  # 0, never -0


def test_explain_of_a_regression_is_of_its_value(client, diabetes_model):
    rows = raw_rows(diabetes_model, diabetes_model.X_test[:2])
    body = predict(client, diabetes_model.model_id, {"rows": rows}, "?explain=true")
    oracle = float64_copy(diabetes_model.network)
    for x, prediction in zip(diabetes_model.table.encode_rows(rows).astype(np.float64),
                             body["predictions"], strict=True):
        expected = finite_difference(lambda v: oracle.predict_values(v[None])[0], x)
        gradient = [item["gradient"] for item in prediction["attribution"]]
        np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("tamper,reason", [
    (lambda pre: pre["columns"][0].pop("std"), "columns[0]"),
    (lambda pre: pre["columns"][2]["categories"].append("Rome"), "encodes a row as 8 inputs"),
])
def test_a_tampered_preprocessing_is_a_corrupt_model(client, people_model, model_dir_copy,
                                                     tamper, reason):
    model_id, manifest_path = model_dir_copy(people_model.model_id)
    manifest = json.loads(manifest_path.read_text())
    tamper(manifest["preprocessing"])
    manifest_path.write_text(json.dumps(manifest))
    response = client.post(f"/v1/models/{model_id}/predict", json={"rows": ROWS})
    body = response.get_json()
    assert response.status_code == 409 and body["type"] == "model_corrupt", body
    assert reason in body["message"]
    assert client.post(f"/v1/models/{people_model.model_id}/predict",
                       json={"rows": ROWS}).status_code == 200  # the others keep serving


@pytest.fixture
def model_dir_copy(artifact_dir):
    """Factory: a copy of a model's files under a new id -> (id, its manifest's path)."""
    made = []

    def copy(model_id):
        new = new_id()
        shutil.copytree(Path(artifact_dir) / "models" / model_id, Path(artifact_dir) / "models" / new)
        made.append(new)
        return new, Path(artifact_dir) / "models" / new / "manifest.json"

    yield copy
    for model_id in made:
        shutil.rmtree(Path(artifact_dir) / "models" / model_id, ignore_errors=True)
