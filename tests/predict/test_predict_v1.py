"""POST /v1/models/{id}/predict against a model trained by the real worker."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from engine.datasets import DATASETS
from tests.support.images import drawn_on_paper, mnist_png
from tests.support.models import confident_digits

PREDICTION_KEYS = {"label", "probabilities", "top_k"}


def predict(client, model_ref, query="", **kwargs):
    response = client.post(f"/v1/models/{model_ref}/predict{query}", **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def labels(body):
    return [prediction["label"] for prediction in body["predictions"]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_response_shape_and_top_k(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    response = client.post(f"/v1/models/{trained_model.model_id}/predict?top_k=4",
                           json={"inputs": X_test[:3].tolist()})
    assert response.status_code == 200
    assert "infer;dur=" in response.headers["Server-Timing"]
    body = response.get_json()
    assert set(body) == {"model_id", "classes", "predictions"}
    assert body["model_id"] == trained_model.model_id
    assert body["classes"] == [str(digit) for digit in range(10)]
    for prediction in body["predictions"]:
        assert set(prediction) == PREDICTION_KEYS
        probabilities = prediction["probabilities"]
        assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1, abs=1e-5)
        ranked = prediction["top_k"]
        assert [entry["label"] for entry in ranked] == list(np.argsort(probabilities)[::-1][:4])
        assert ranked[0]["label"] == prediction["label"]
        assert [entry["probability"] for entry in ranked] == [probabilities[e["label"]] for e in ranked]
    # more than the class count lists every class
    body = predict(client, trained_model.model_id, "?top_k=50", json={"inputs": X_test[:1].tolist()})
    assert len(body["predictions"][0]["top_k"]) == 10


def test_probabilities_equal_the_engines_predict_proba(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    body = predict(client, trained_model.model_id, json={"inputs": X_test[:200].tolist()})
    served = np.array([prediction["probabilities"] for prediction in body["predictions"]])
    expected = trained_model.network.predict_proba(X_test[:200])
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-7)
    assert labels(body) == expected.argmax(axis=1).tolist()


def test_every_input_format_gives_the_same_label(client, trained_model, mnist_test):
    X_test, y_test = mnist_test
    chosen = confident_digits(trained_model, mnist_test)
    samples, expected = X_test[chosen], y_test[chosen].tolist()
    model = trained_model.model_id
    pngs = [mnist_png(sample) for sample in samples]
    paper = [drawn_on_paper(sample) for sample in samples]

    flat = predict(client, model, json={"inputs": samples.tolist()})
    nested = predict(client, model, json={"inputs": samples.reshape(-1, 28, 28).tolist()})
    as_base64 = predict(client, model, json={"images": [b64(png) for png in pngs]})
    data_urls = predict(client, model, json={
        "images": ["data:image/png;base64," + b64(png) for png in pngs]})
    uploads = predict(client, model, content_type="multipart/form-data", data={
        "image": [(io.BytesIO(png), f"digit{i}.png") for i, png in enumerate(pngs)]})
    jpegs = predict(client, model, json={"images": [b64(jpeg) for jpeg in paper]})
    v2 = client.post(f"/v2/models/{model}/infer", json={"inputs": [{
        "name": "input", "datatype": "FP32", "shape": [len(samples), 784],
        "data": samples.ravel().tolist()}]}).get_json()

    assert labels(flat) == expected
    assert flat["predictions"] == nested["predictions"]  # the same numbers, reshaped
    for body in (as_base64, data_urls, uploads, jpegs):
        assert labels(body) == expected
    assert v2["outputs"][1]["data"] == expected


def test_one_upload_with_curl_style_field(client, trained_model, mnist_test):
    X_test, y_test = mnist_test
    [index] = confident_digits(trained_model, mnist_test, count=1)
    body = predict(client, trained_model.model_id, content_type="multipart/form-data",
                   data={"image": (io.BytesIO(mnist_png(X_test[index])), "seven.png")})
    assert labels(body) == [y_test[index]]


@pytest.mark.slow
def test_mnist_test_set_as_png_keeps_the_models_accuracy(client, trained_model, mnist_test):
    """All 10,000 test digits, sent as PNG files in batches of 1000, go through preprocessing."""
    X_test, y_test = mnist_test
    correct = 0
    for start in range(0, len(X_test), 1000):
        images = [b64(mnist_png(sample)) for sample in X_test[start:start + 1000]]
        body = predict(client, trained_model.model_id, json={"images": images})
        correct += int((np.array(labels(body)) == y_test[start:start + 1000]).sum())
    accuracy = correct / len(X_test)
    assert abs(accuracy - trained_model.accuracy) <= 0.01, (accuracy, trained_model.accuracy)


def test_digit_drawn_dark_on_white_off_centre_and_large(client, trained_model, mnist_test):
    X_test, y_test = mnist_test
    rows, cols = np.mgrid[0:28, 0:28]
    for index in confident_digits(trained_model, mnist_test, count=5):
        jpeg = drawn_on_paper(X_test[index], size=200, canvas=(400, 300), at=(20 + index % 150, 90))
        body = predict(client, trained_model.model_id, "?return_preprocessed=true",
                       json={"images": [b64(jpeg)]})
        [prediction] = body["predictions"]
        assert prediction["label"] == y_test[index]
        seen = np.array(prediction["preprocessed"])
        assert seen.shape == (28, 28) and seen.min() >= 0 and seen.max() == pytest.approx(1, abs=0.05)
        mass = seen.sum()
        centre = ((seen * rows).sum() / mass, (seen * cols).sum() / mass)
        assert centre == pytest.approx((14, 14), abs=0.75)
        ink_rows, ink_cols = np.nonzero(seen > 0)
        assert np.ptp(ink_rows) < 20 and np.ptp(ink_cols) < 20  # inside a 20x20 box
        assert max(np.ptp(ink_rows), np.ptp(ink_cols)) >= 18  # and scaled to fill it


def test_return_preprocessed_for_arrays_is_the_input(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    body = predict(client, trained_model.model_id, "?return_preprocessed=true",
                   json={"inputs": X_test[:2].tolist()})
    for sample, prediction in zip(X_test[:2], body["predictions"], strict=True):
        np.testing.assert_array_equal(np.array(prediction["preprocessed"], dtype=np.float32),
                                      sample.reshape(28, 28))


def test_latest_alias_and_job_id_resolve_to_the_model(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    inputs = {"json": {"inputs": X_test[:1].tolist()}}
    # the session's newest MNIST model is ours unless other suites trained one since
    newest = client.get("/v1/models/latest?dataset=mnist").get_json()["id"]
    assert predict(client, "latest", "?dataset=mnist", **inputs)["model_id"] == newest
    # other suites may have trained a newer model of another dataset: send what it takes
    latest = client.get("/v1/models/latest").get_json()
    width = DATASETS[latest["dataset"]].input_size
    assert predict(client, "latest", json={"inputs": [[0.0] * width]})["model_id"] == latest["id"]
    assert predict(client, trained_model.job_id, **inputs)["model_id"] == trained_model.model_id


def test_a_job_that_has_not_succeeded_is_409(idle_client):
    """On a Redis no worker consumes, a submitted job stays queued: no model yet."""
    job = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 1, "activation": "sigmoid"}],
                                    "loss": "binary_cross_entropy"}}).get_json()
    response = idle_client.post(f"/v1/models/{job['id']}/predict", json={"inputs": [[0, 1]]})
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "model_not_ready" and "queued" in body["message"]
    response = idle_client.post("/v1/models/latest/predict", json={"inputs": [[0, 1]]})
    assert response.status_code == 404 and response.get_json()["type"] == "model_not_found"
