"""GET /v1/models/{id}/mistakes on models trained by the real worker, against the engine's own
predictions and the evaluation's confusion matrix."""

from __future__ import annotations

import base64
import io
import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from api.core.services import services
from tests.support.api import make_app


def get_mistakes(client, model_id, query=""):
    response = client.get(f"/v1/models/{model_id}/mistakes{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def decode_png(data_url):
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):]))))


def test_mistakes_are_the_engines_wrong_answers_most_confident_first(client, trained_model,
                                                                     mnist_test):
    X_test, y_test = mnist_test
    probabilities = trained_model.network.predict_proba(X_test)  # the oracle: the saved model
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_test)
    body = get_mistakes(client, trained_model.model_id, "?limit=50")
    assert body["test_size"] == 10000 and body["mistakes_total"] == len(wrong) == body["total"]
    assert len(body["mistakes"]) == 50 and body["classes"] == [str(d) for d in range(10)]
    confidences = [entry["confidence"] for entry in body["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == pytest.approx(probabilities[wrong, predicted[wrong]].max(), rel=1e-5)
    for entry in body["mistakes"]:
        index = entry["index"]
        assert entry["true"] == y_test[index] != entry["predicted"] == predicted[index]
        assert entry["true_class"] == str(entry["true"])
        np.testing.assert_allclose(entry["probabilities"], probabilities[index], rtol=1e-5, atol=1e-7)
        assert entry["confidence"] == pytest.approx(probabilities[index, entry["predicted"]])
        pixels = decode_png(entry["image"])
        assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, np.round(X_test[index] * 255).reshape(28, 28))
        assert "inputs" not in entry


def test_a_confusion_matrix_cell_is_a_filter(client, trained_model):
    record = client.get(f"/v1/models/{trained_model.model_id}").get_json()
    matrix = np.array(record["evaluation"]["confusion_matrix"])
    off_diagonal = matrix - np.diag(np.diag(matrix))
    true, predicted = np.unravel_index(off_diagonal.argmax(), matrix.shape)
    body = get_mistakes(client, trained_model.model_id,
                        f"?true={true}&predicted={predicted}&limit=500&order=index")
    assert body["total"] == matrix[true, predicted] == len(body["mistakes"])
    indices = [entry["index"] for entry in body["mistakes"]]
    assert indices == sorted(indices)
    assert {(e["true"], e["predicted"]) for e in body["mistakes"]} == {(true, predicted)}
    assert body["mistakes_total"] == off_diagonal.sum()
    # a row and a column of the matrix
    assert get_mistakes(client, trained_model.model_id, f"?true={true}")["total"] == \
        off_diagonal[true].sum()
    assert get_mistakes(client, trained_model.model_id, f"?predicted={predicted}")["total"] == \
        off_diagonal[:, predicted].sum()


def test_paging_walks_the_same_order(client, trained_model):
    whole = get_mistakes(client, trained_model.model_id, "?limit=30")["mistakes"]
    pages = [get_mistakes(client, trained_model.model_id, f"?limit=10&offset={offset}")["mistakes"]
             for offset in (0, 10, 20)]
    assert [e["index"] for page in pages for e in page] == [e["index"] for e in whole]
    total = whole and get_mistakes(client, trained_model.model_id)["total"]
    assert get_mistakes(client, trained_model.model_id, f"?offset={total}")["mistakes"] == []


def test_test_predictions_are_computed_once_per_model(app, trained_model):
    client = app.test_client()
    get_mistakes(client, trained_model.model_id, "?limit=1")
    cache = services(app).derived
    (stamp, values), = cache._models.values()
    first = values[("test_predictions", "mnist")]
    get_mistakes(client, trained_model.model_id, "?true=3&limit=5")
    (stamp_again, values), = cache._models.values()
    assert stamp_again == stamp and values[("test_predictions", "mnist")] is first


def test_a_dataset_without_images_lists_inputs(client, xor_model):
    body = get_mistakes(client, xor_model["id"])
    matrix = np.array(xor_model["evaluation"]["confusion_matrix"])
    assert body["test_size"] == 4 and body["classes"] == ["false", "true"]
    assert body["mistakes_total"] == matrix.sum() - np.trace(matrix) > 0
    rows = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 0}  # XOR's truth table
    for entry in body["mistakes"]:
        assert "image" not in entry
        assert entry["true"] == rows[tuple(int(v) for v in entry["inputs"])]


@pytest.mark.parametrize("query, field", [
    ("?true=10", "true"), ("?predicted=-1", "predicted"), ("?true=3&predicted=3", "predicted"),
    ("?limit=0", "limit"), ("?limit=501", "limit"), ("?limit=ten", "limit"),
    ("?offset=-1", "offset"), ("?order=worst", "order"),
])
def test_bad_queries_name_the_field(client, trained_model, query, field):
    response = client.get(f"/v1/models/{trained_model.model_id}/mistakes{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) >= {"code", "status", "message", "errors"} and field in body["errors"]


def test_unknown_model_is_404(client):
    response = client.get(f"/v1/models/{'0' * 32}/mistakes")
    assert response.status_code == 404 and response.get_json()["code"] == 404


def test_an_api_without_the_test_split_says_so(worker_settings, trained_model, tmp_path):
    """The model's files are there but the API cannot read its dataset: 503, nothing cached."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(trained_model.directory, artifacts / "models" / trained_model.model_id)
    (tmp_path / "no-data").mkdir()
    settings = replace(worker_settings, artifact_dir=artifacts, data_dir=tmp_path / "no-data")
    client = make_app(settings).test_client()
    response = client.get(f"/v1/models/{trained_model.model_id}/mistakes")
    assert response.status_code == 503
    assert "test split" in response.get_json()["message"]
    assert client.get(f"/v1/models/{trained_model.model_id}/card").status_code == 200
