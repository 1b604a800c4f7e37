"""Open Inference Protocol (KServe V2) endpoints: exact JSON shapes, binary tensors, a real client."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.support.servers import ThreadedServer

HEADER = "Inference-Header-Content-Length"


def infer(client, model, document, binary=b""):
    """POST an inference request; the JSON header followed by `binary` if there is any."""
    header = orjson.dumps(document)
    headers = {HEADER: str(len(header))} if binary else {}
    return client.post(f"/v2/models/{model}/infer", data=header + binary, headers=headers,
                       content_type="application/octet-stream" if binary else "application/json")


def split(response):
    """-> (JSON header, binary tail) of an inference response."""
    body = response.get_data()
    length = int(response.headers.get(HEADER, len(body)))
    return orjson.loads(body[:length]), body[length:]


def input_tensor(samples, **extra):
    return {"name": "input", "datatype": "FP32", "shape": list(samples.shape), **extra}


def test_server_endpoints(client):
    assert client.get("/v2").get_json() == {
        "name": "mlpq", "version": "1.0.0", "extensions": ["binary_tensor_data"]}
    live = client.get("/v2/health/live")
    assert live.status_code == 200 and live.get_json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.get_json() == {"live": True, "ready": True}


def test_model_metadata_and_readiness(client, trained_model):
    model = trained_model.model_id
    assert client.get(f"/v2/models/{model}").get_json() == {
        "name": model,
        "platform": "mlpq_npz",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 784]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
                    {"name": "label", "datatype": "INT64", "shape": [-1]}],
    }
    assert client.get(f"/v2/models/{model}/ready").get_json() == {"name": model, "ready": True}
    assert client.get(f"/v2/models/{trained_model.job_id}").get_json()["name"] == model


def test_json_inference_exact_shape(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    samples = X_test[:3]
    response = infer(client, trained_model.model_id, {
        "id": "request-42", "inputs": [input_tensor(samples, data=samples.ravel().tolist())]})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert HEADER not in response.headers
    body = response.get_json()
    assert list(body) == ["model_name", "id", "outputs"]
    assert body["model_name"] == trained_model.model_id and body["id"] == "request-42"
    probabilities, label = body["outputs"]
    assert set(probabilities) == set(label) == {"name", "datatype", "shape", "data"}
    assert (probabilities["name"], probabilities["datatype"], probabilities["shape"]) == (
        "probabilities", "FP32", [3, 10])
    assert (label["name"], label["datatype"], label["shape"]) == ("label", "INT64", [3])
    expected = trained_model.network.predict_proba(samples)
    np.testing.assert_allclose(np.reshape(probabilities["data"], (3, 10)), expected,
                               rtol=1e-5, atol=1e-7)
    assert label["data"] == expected.argmax(axis=1).tolist()


def test_nested_data_and_28x28_shape(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    images = X_test[:2].reshape(2, 28, 28)
    flat = infer(client, trained_model.model_id, {
        "inputs": [input_tensor(X_test[:2], data=X_test[:2].ravel().tolist())]}).get_json()
    nested = infer(client, trained_model.model_id, {
        "inputs": [input_tensor(images, data=images.tolist())]}).get_json()
    assert "id" not in nested
    assert nested["outputs"] == flat["outputs"]


def test_binary_request_and_binary_response(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    samples = np.ascontiguousarray(X_test[:5], dtype="<f4")
    response = infer(client, trained_model.model_id, {
        "id": "b1",
        "inputs": [input_tensor(samples, parameters={"binary_data_size": samples.nbytes})],
        "parameters": {"binary_data_output": True},
    }, samples.tobytes())
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    header, tail = split(response)
    assert header["id"] == "b1"
    probabilities, label = header["outputs"]
    assert probabilities == {"name": "probabilities", "datatype": "FP32", "shape": [5, 10],
                             "parameters": {"binary_data_size": 200}}
    assert label == {"name": "label", "datatype": "INT64", "shape": [5],
                     "parameters": {"binary_data_size": 40}}
    assert len(tail) == 240
    served = np.frombuffer(tail[:200], dtype="<f4").reshape(5, 10)
    expected = trained_model.network.predict_proba(samples)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-7)
    assert np.frombuffer(tail[200:], dtype="<i8").tolist() == expected.argmax(axis=1).tolist()


def test_outputs_selection_and_per_output_binary(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    samples = X_test[:4]
    document = {"inputs": [input_tensor(samples, data=samples.ravel().tolist())],
                "outputs": [{"name": "label", "parameters": {"binary_data": True}},
                            {"name": "probabilities", "parameters": {"binary_data": False}}],
                "parameters": {"binary_data_output": True}}  # per-output settings win
    header, tail = split(infer(client, trained_model.model_id, document))
    label, probabilities = header["outputs"]
    assert label["name"] == "label" and label["parameters"] == {"binary_data_size": 32}
    assert "data" not in label and len(tail) == 32
    assert probabilities["name"] == "probabilities" and len(probabilities["data"]) == 40
    assert np.frombuffer(tail, dtype="<i8").tolist() == np.reshape(
        probabilities["data"], (4, 10)).argmax(axis=1).tolist()

    only_label = infer(client, trained_model.model_id, {
        "inputs": document["inputs"], "outputs": [{"name": "label"}]}).get_json()
    assert [output["name"] for output in only_label["outputs"]] == ["label"]


def test_float64_input_is_accepted(client, trained_model, mnist_test):
    X_test, _ = mnist_test
    samples = X_test[:2].astype("<f8")
    header, _ = split(infer(client, trained_model.model_id, {
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 784],
                    "parameters": {"binary_data_size": samples.nbytes}}],
        "outputs": [{"name": "label"}]}, samples.tobytes()))
    assert header["outputs"][0]["data"] == trained_model.network.predict(X_test[:2]).tolist()


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_works_unchanged(app, trained_model, mnist_test, binary):
    """NVIDIA's own V2 HTTP client: health, metadata, and inference (binary is its default)."""
    X_test, _ = mnist_test
    samples = np.ascontiguousarray(X_test[:16])
    expected = trained_model.network.predict_proba(samples)
    with ThreadedServer(app) as server:
        client = triton.InferenceServerClient(server.url.removeprefix("http://"))
        try:
            assert client.is_server_live() and client.is_server_ready()
            assert client.is_model_ready(trained_model.model_id)
            assert client.get_server_metadata()["extensions"] == ["binary_tensor_data"]
            metadata = client.get_model_metadata(trained_model.model_id)
            assert metadata["inputs"][0]["shape"] == [-1, 784]

            tensor = triton.InferInput("input", list(samples.shape), "FP32")
            tensor.set_data_from_numpy(samples, binary_data=binary)
            outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary),
                       triton.InferRequestedOutput("label", binary_data=binary)]
            result = client.infer(trained_model.model_id, [tensor], outputs=outputs,
                                  request_id="triton-1")
            assert result.get_response()["id"] == "triton-1"
            np.testing.assert_allclose(result.as_numpy("probabilities"), expected,
                                       rtol=1e-5, atol=1e-7)
            assert result.as_numpy("label").tolist() == expected.argmax(axis=1).tolist()
            # no outputs named: the client asks for every output as binary
            everything = client.infer(trained_model.model_id, [tensor])
            assert everything.as_numpy("label").tolist() == expected.argmax(axis=1).tolist()

            with pytest.raises(InferenceServerException, match="no model .* belongs to another key"):
                client.get_model_metadata("0" * 12 + "4" + "0" * 3 + "8" + "0" * 15)
        finally:
            client.close()


def test_a_model_that_cannot_serve_yet_is_not_ready(idle_client):
    """A queued job's id names no model yet: 503 with ready false (an unknown name is a 404)."""
    job = idle_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 1, "activation": "sigmoid"}],
                                    "loss": "binary_cross_entropy"}}).get_json()
    response = idle_client.get(f"/v2/models/{job['id']}/ready")
    assert response.status_code == 503
    assert response.get_json() == {"name": job["id"], "ready": False}
    infer = idle_client.post(f"/v2/models/{job['id']}/infer", json={"inputs": [{
        "name": "input", "datatype": "FP32", "shape": [1, 2], "data": [0, 1]}]})
    assert infer.status_code == 409 and "queued" in infer.get_json()["error"]
