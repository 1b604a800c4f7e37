"""Insight for table models: mistakes shown as rows by column name (classification) or as the
largest errors in the target's units (regression), and the first layer's features × units map."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.support.api import make_app
from tests.support.tables import (
    PEOPLE_COLUMNS,
    csv_bytes,
    people,
    train_table_model,
    upload_dataset,
)


def mistakes(client, model_id, query=""):
    response = client.get(f"/v1/models/{model_id}/mistakes{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_classifiers_mistakes_are_rows_of_its_uploaded_table(client, people_model):
    model, table = people_model, people_model.table
    probabilities = model.network.predict_proba(model.X_test)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != model.y_test)
    assert len(wrong) > 0  # the table has noise the model cannot learn
    body = mistakes(client, model.model_id, "?limit=500")
    assert body["dataset"] == model.dataset and body["task"] == "classification"
    assert body["mistakes_total"] == body["total"] == len(wrong)
    assert sorted(entry["index"] for entry in body["mistakes"]) == wrong.tolist()
    originals = {tuple(row[:4]) for row in people()}  # the uploaded file's feature values
    for entry in body["mistakes"]:
        row = entry["row"]
        assert list(row) == PEOPLE_COLUMNS[:4]
        assert (int(row["age"]), row["monthly income"], row["city"], row["plan"]) in originals
        # decoding is the inverse of the model's encoding
        np.testing.assert_allclose(table.encode_rows([row])[0], model.X_test[entry["index"]],
                                   atol=1e-5)
        assert entry["true_class"] == table.classes[int(model.y_test[entry["index"]])]
        assert len(entry["inputs"]) == table.input_size


def test_a_builtin_tables_mistakes_name_its_features(client, iris_model):
    body = mistakes(client, iris_model.model_id)
    assert body["classes"] == list(iris_model.table.classes)
    for entry in body["mistakes"]:
        assert list(entry["row"]) == iris_model.table.column_names
        assert all(0 < value < 10 for value in entry["row"].values())  # centimetres


def test_a_regressions_mistakes_are_its_largest_errors(client, diabetes_model):
    model, table = diabetes_model, diabetes_model.table
    truth = table.decode_values(model.y_test)
    predicted = model.network.predict_values(model.X_test)
    body = mistakes(client, model.model_id, "?limit=10")
    assert body["task"] == "regression" and body["target"] == table.target.name
    assert body["test_size"] == body["total"] == len(truth) and body["classes"] == []
    errors = [entry["error"] for entry in body["mistakes"]]
    assert [abs(error) for error in errors] == sorted((abs(e) for e in errors), reverse=True)
    assert abs(errors[0]) == pytest.approx(np.abs(predicted - truth).max(), rel=1e-6)
    for entry in body["mistakes"]:
        index = entry["index"]
        # the true value to the 7 digits the float32 split holds: 99.0, not 98.99999815
        assert entry["true_value"] == pytest.approx(truth[index], rel=1e-6)
        assert entry["true_value"] == float(f"{entry['true_value']:.7g}")
        assert entry["predicted_value"] == pytest.approx(predicted[index], rel=1e-9)
        assert entry["error"] == pytest.approx(predicted[index] - truth[index], abs=1e-4)
        assert list(entry["row"]) == table.column_names
        assert 18 <= entry["row"]["age"] <= 80  # years, decoded from the standardised split
    in_order = mistakes(client, model.model_id, "?order=index&offset=5&limit=3")
    assert [entry["index"] for entry in in_order["mistakes"]] == [5, 6, 7]
    for query in ("?true=1", "?predicted=0"):
        response = client.get(f"/v1/models/{model.model_id}/mistakes{query}")
        assert response.status_code == 422 and "regression" in response.get_json()["message"]


def png(response) -> Image.Image:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    image.load()
    return image


def test_first_layer_is_a_features_by_units_heatmap(client, people_model, diabetes_model):
    from api.insight import pictures

    named = png(client.get(f"/v1/models/{people_model.model_id}/weights/0.png"))
    assert people_model.table.input_size == 7  # age, income, 3 cities, 2 plans: each a named row
    weights = np.asarray(people_model.network.params[0]["W"], dtype=np.float64)
    unnamed = Image.open(io.BytesIO(pictures.weight_heatmap_png(
        weights, "t", from_label="f", to_label="u")))
    assert named.width > unnamed.width  # room for the names beside the rows
    for model in (people_model, diabetes_model):
        last = len(model.network.params) - 1
        png(client.get(f"/v1/models/{model.model_id}/weights/{last}.png"))



def test_a_model_outlives_its_deleted_dataset(client, artifact_store, worker_settings):
    """Its preprocessing is in its manifest: it still predicts rows; only the test split is gone."""
    record = upload_dataset(client, csv_bytes(PEOPLE_COLUMNS, people(60, seed=9)), "few.csv",
                            target="buys", seed="9")
    model = train_table_model(artifact_store, record["id"], epochs=3)
    assert mistakes(client, model.model_id)["dataset"] == record["id"]
    assert client.delete(f"/v1/datasets/{record['id']}").status_code == 204
    row = dict(zip(PEOPLE_COLUMNS[:4], people(1, seed=1)[0][:4], strict=True))
    answer = client.post(f"/v1/models/{model.model_id}/predict", json={"rows": [row]})
    assert answer.status_code == 200, answer.get_json()
    # the derived cache still holds the split for this process; a fresh app reads it again
    fresh = make_app(worker_settings).test_client()
    response = fresh.get(f"/v1/models/{model.model_id}/mistakes")
    assert response.status_code == 409 and "deleted" in response.get_json()["message"]
