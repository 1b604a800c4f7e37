"""Every bad prediction request gets a clean 4xx naming what was wrong: never a 500."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from engine import Network
from tests.support.api import make_app
from tests.support.bad_requests import SAMPLE, V1_CASES
from tests.support.images import b64, encode
from worker.store.ids import new_id

UNKNOWN = new_id()


@pytest.mark.parametrize("case,query,kwargs,status,error_type,text", V1_CASES,
                         ids=[case[0] for case in V1_CASES])
def test_v1_bad_requests(client, trained_model, case, query, kwargs, status, error_type, text):
    response = client.post(f"/v1/models/{trained_model.model_id}/predict{query}", **kwargs)
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) >= {"code", "status", "message"} and body["code"] == status
    assert body["type"] == error_type
    assert text in body["message"]


QUERY_CASES = [("?top_k=0", "top_k"), ("?top_k=three", "top_k"), ("?dataset=cifar", "dataset"),
               ("?return_preprocessed=maybe", "return_preprocessed")]


@pytest.mark.parametrize("query,field", QUERY_CASES)
def test_v1_bad_query_parameters(client, trained_model, query, field):
    response = client.post(f"/v1/models/{trained_model.model_id}/predict{query}",
                           json={"inputs": [SAMPLE]})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_v1_unknown_and_malformed_model_ids(client):
    response = client.post(f"/v1/models/{UNKNOWN}/predict", json={"inputs": [SAMPLE]})
    assert response.status_code == 404 and response.get_json()["type"] == "model_not_found"
    for reference in ("not-an-id", "../../etc", "0" * 33):
        response = client.post(f"/v1/models/{reference}/predict", json={"inputs": [SAMPLE]})
        assert response.status_code == 404 and response.get_json()["code"] == 404


def test_v1_configured_limits(worker_settings, trained_model):
    client = make_app(worker_settings, PREDICT_MAX_INPUTS=2, PREDICT_MAX_BODY_BYTES=20_000,
                      PREDICT_MAX_IMAGE_BYTES=500).test_client()
    url = f"/v1/models/{trained_model.model_id}/predict"
    response = client.post(url, json={"inputs": [SAMPLE] * 3})
    assert response.status_code == 413 and "at most 2" in response.get_json()["message"]
    response = client.post(url, json={"inputs": [[0.12345678901234] * 784] * 2})  # ~27 KB of JSON
    assert response.status_code == 413 and response.get_json()["code"] == 413
    image = encode(np.random.default_rng(0).random((40, 40)))
    response = client.post(url, json={"images": [b64(image)]})
    assert response.status_code == 413 and response.get_json()["type"] == "image_too_large"


@pytest.fixture
def gate_model(artifact_store):
    """A 2-input model saved through the real ArtifactStore (its weights do not matter here)."""
    model_id = new_id()
    net = Network.from_spec({"layers": [{"units": 1, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy"}, input_size=2)
    artifact_store.save_model(model_id, net, metadata={"dataset": "xor", "name": "gate"})
    yield model_id
    artifact_store.delete_model(model_id)


def test_images_sent_to_a_model_that_does_not_take_images(client, gate_model):
    response = client.post(f"/v1/models/{gate_model}/predict",
                           json={"images": [b64(encode(np.eye(28)))]})
    assert response.status_code == 422 and response.get_json()["type"] == "images_not_supported"
    # its inputs are not pixels: any finite number goes, NaN does not
    body = client.post(f"/v1/models/{gate_model}/predict", json={"inputs": [[0, 1], [5, -3]]})
    assert body.status_code == 200 and len(body.get_json()["predictions"][0]["probabilities"]) == 2


# ---- V2 ---------------------------------------------------------------------------------------

GOOD_INPUT = {"name": "input", "datatype": "FP32", "shape": [1, 784], "data": SAMPLE}


def v2_body(**changes):
    document = {"inputs": [dict(GOOD_INPUT)]}
    for key, value in changes.items():
        if key.startswith("input_"):
            document["inputs"][0][key.removeprefix("input_")] = value
        else:
            document[key] = value
    return orjson.dumps(document)


FLOATS = np.full((1, 784), 0.5, dtype="<f4").tobytes()
BINARY_INPUT = {"name": "input", "datatype": "FP32", "shape": [1, 784],
                "parameters": {"binary_data_size": len(FLOATS)}}
BINARY_HEADER = orjson.dumps({"inputs": [BINARY_INPUT]})
NAN_FLOATS = np.full((1, 784), np.nan, dtype="<f4").tobytes()

# (case, JSON header or raw body, binary tail (None: no header length sent), extra headers,
#  status, text the error must contain)
V2_CASES = [
    ("not json", b"{inputs", None, {}, 400, "not valid JSON"),
    ("json list", b"[]", None, {}, 400, "JSON object"),
    ("no inputs", b"{}", None, {}, 400, '"inputs"'),
    ("two inputs", orjson.dumps({"inputs": [GOOD_INPUT, GOOD_INPUT]}), None, {}, 400, "one tensor"),
    ("wrong input name", v2_body(input_name="x"), None, {}, 400, "named \"input\""),
    ("INT32 datatype", v2_body(input_datatype="INT32"), None, {}, 400, "FP32"),
    ("1-D shape", v2_body(input_shape=[784]), None, {}, 400, "[batch, 784]"),
    ("negative dimension", v2_body(input_shape=[-1, 784]), None, {}, 400, "shape"),
    ("shape holds a string", v2_body(input_shape=["1", 784]), None, {}, 400, "shape"),
    ("wrong sample width", v2_body(input_shape=[2, 392]), None, {}, 400, "784"),
    ("count mismatch", v2_body(input_data=SAMPLE[:-1]), None, {}, 400, "783 values"),
    ("nested transposed", v2_body(input_shape=[2, 784], input_data=[[0.5, 0.5]] * 784), None, {},
     400, "nested as [784, 2]"),
    ("ragged data", v2_body(input_data=[[0.5], [0.5, 0.5]]), None, {}, 400, "ragged"),
    ("string data", v2_body(input_data=["a"] * 784), None, {}, 400, "numbers"),
    ("no data", orjson.dumps({"inputs": [{k: v for k, v in GOOD_INPUT.items() if k != "data"}]}),
     None, {}, 400, "data"),
    ("out of range", v2_body(input_data=[2.0] * 784), None, {}, 400, "outside [0, 1]"),
    ("id not a string", v2_body(id=42), None, {}, 400, '"id"'),
    ("unknown output", v2_body(outputs=[{"name": "logits"}]), None, {}, 400, "logits"),
    ("output twice", v2_body(outputs=[{"name": "label"}, {"name": "label"}]), None, {}, 400,
     "twice"),
    ("classification extension", v2_body(outputs=[{"name": "label", "parameters": {
        "classification": 3}}]), None, {}, 400, "classification"),
    ("binary_data not a bool", v2_body(outputs=[{"name": "label", "parameters": {
        "binary_data": "yes"}}]), None, {}, 400, "true or false"),
    ("too many samples", v2_body(input_shape=[5000, 784]), None, {}, 413, "at most 1024"),
    ("binary size mismatch", orjson.dumps({"inputs": [dict(BINARY_INPUT, parameters={
        "binary_data_size": 100})]}), FLOATS, {}, 400, "need 3136"),
    ("binary missing bytes", BINARY_HEADER, FLOATS[:-4], {}, 400, "3132 bytes follow"),
    ("bytes but no binary input", v2_body(), b"\x00" * 8, {}, 400, "binary_data_size"),
    ("header length too large", BINARY_HEADER, FLOATS,
     {"Inference-Header-Content-Length": str(10**9)}, 400, "Inference-Header-Content-Length"),
    ("header length not a number", BINARY_HEADER, FLOATS,
     {"Inference-Header-Content-Length": "abc"}, 400, "Inference-Header-Content-Length"),
    ("NaN in binary data", BINARY_HEADER, NAN_FLOATS, {}, 400, "nan"),
]


@pytest.mark.parametrize("case,header,binary,headers,status,text", V2_CASES,
                         ids=[c[0] for c in V2_CASES])
def test_v2_bad_requests(client, trained_model, case, header, binary, headers, status, text):
    if binary is not None:
        headers = {"Inference-Header-Content-Length": str(len(header)), **headers}
    response = client.post(f"/v2/models/{trained_model.model_id}/infer",
                           data=header + (binary or b""), headers=headers,
                           content_type="application/json")
    assert response.status_code == status, response.get_data()[:300]
    assert list(response.get_json()) == ["error"]
    assert text in response.get_json()["error"]


def test_v2_routing_errors_use_the_protocols_shape(client, trained_model):
    model = trained_model.model_id
    cases = [
        ("get", f"/v2/models/{UNKNOWN}", 404, "no model"),
        ("post", f"/v2/models/{UNKNOWN}/infer", 404, "no model"),
        ("get", f"/v2/models/{UNKNOWN}/ready", 404, "no model"),
        ("get", "/v2/models/..%2F..%2Fetc", 404, "no V2 endpoint"),
        ("get", "/v2/models/not-a-model", 404, "no model"),
        ("get", f"/v2/models/{model}/versions/1", 404, "not versioned"),
        ("post", f"/v2/models/{model}/versions/1/infer", 404, "not versioned"),
        ("get", f"/v2/models/{model}/infer", 405, "use POST"),
        ("post", f"/v2/models/{model}", 405, "use GET"),
        ("get", "/v2/repository/index", 404, "no V2 endpoint"),
    ]
    for method, path, status, text in cases:
        response = getattr(client, method)(path)
        assert response.status_code == status, (path, response.get_data())
        assert list(response.get_json()) == ["error"] and text in response.get_json()["error"]
    assert client.get(f"/v2/models/{model}/infer").headers["Allow"] == "POST"


def test_v2_body_too_large(worker_settings, trained_model):
    client = make_app(worker_settings, PREDICT_MAX_BODY_BYTES=1000).test_client()
    response = client.post(f"/v2/models/{trained_model.model_id}/infer", data=v2_body(),
                           content_type="application/json")
    assert response.status_code == 413 and list(response.get_json()) == ["error"]
