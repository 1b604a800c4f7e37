"""?explain=true on V1 predict: saliency checked against finite differences of the saved model."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from engine import Network


def float64_copy(network):
    """The trained network in float64, so central differences are accurate."""
    copy = Network(network.spec, network.input_size, dtype=np.float64)
    copy.params = [{"W": layer["W"], "b": layer["b"]} for layer in network.params]
    return copy


def finite_difference(network, x, label, pixels, eps=1e-5):
    grads = []
    for pixel in pixels:
        up, down = x.copy(), x.copy()
        up[pixel] += eps
        down[pixel] -= eps
        p = network.predict_proba(np.stack([up, down]))[:, label]
        grads.append((p[0] - p[1]) / (2 * eps))
    return np.array(grads)


def test_saliency_is_the_gradient_of_the_predicted_probability(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    samples = X_test[:3].astype(np.float64)
    response = client.post(f"/v1/models/{trained_model.model_id}/predict?explain=true",
                           json={"inputs": samples.tolist()})
    assert response.status_code == 200, response.get_json()
    oracle = float64_copy(trained_model.network)
    rng = np.random.default_rng(0)
    for sample, prediction in zip(samples, response.get_json()["predictions"], strict=True):
        saliency = np.array(prediction["saliency"])
        assert saliency.shape == (784,)
        strongest = np.argsort(-np.abs(saliency))[:10]
        pixels = np.concatenate([strongest, rng.choice(784, 10, replace=False)])
        expected = finite_difference(oracle, sample, prediction["label"], pixels)
        np.testing.assert_allclose(saliency[pixels], expected, rtol=1e-3,
                                   atol=1e-3 * np.abs(saliency).max())
        overlay = prediction["saliency_overlay"]
        assert overlay.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(overlay.split(",", 1)[1])))
        assert image.size == (224, 224) and image.mode == "RGB"


def test_without_explain_nothing_is_added(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    body = client.post(f"/v1/models/{trained_model.model_id}/predict?explain=false",
                       json={"inputs": X_test[:1].tolist()}).get_json()
    assert "saliency" not in body["predictions"][0]


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_explain_value_names_the_field(client, trained_model, mnist_test, value):
    response = client.post(f"/v1/models/{trained_model.model_id}/predict?explain={value}",
                           json={"inputs": mnist_test[0][:1].tolist()})
    assert response.status_code == 422 and "explain" in response.get_json()["errors"]


def test_explain_on_a_model_without_images_is_refused(client, xor_model):
    response = client.post(f"/v1/models/{xor_model['id']}/predict?explain=true",
                           json={"inputs": [[0, 1]]})
    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "explain_not_supported" and "explain" in body["errors"]
    plain = client.post(f"/v1/models/{xor_model['id']}/predict", json={"inputs": [[0, 1]]})
    assert plain.status_code == 200
