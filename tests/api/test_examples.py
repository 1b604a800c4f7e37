"""Every built-in example, posted over HTTP to the real stack (gunicorn, a Celery worker, Redis),
trains and reaches its stated result.

The truth-table and built-in table examples run exactly as listed (the XOR one all 1500 epochs;
the diabetes one until early stopping ends it, 17 epochs with seed 0). The MNIST ones
would take minutes at their full length, so this test runs them for fewer epochs and checks a
correspondingly lower bar, measured with the engine at that length (test accuracy, seed 0):

| example | full run: epochs, stated min | here: epochs, min | measured at that length |
| --- | --- | --- | --- |
| nielsen-784-30-10 | 30, 94% | 1, 90% | 91.5% |
| sigmoid-784-64-64-10 | 10, 96% | 2, 85% (the issue's bar) | 95.6% |
| mixed-relu-tanh-softmax | 10, 97.5% | 2, 96% | 97.2% |
| strong-mnist | 20, 98.5% (98.56% measured, docs/benchmarks.md) | 1, 95% | 96.7% |

The sigmoid-output model is then served: V1 and V2 predictions must match the saved model.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from engine import datasets
from engine import load as load_network
from engine.examples import EXAMPLES
from tests.support.waiting import wait_for_job

# name -> (epochs in this test, the least test accuracy after that many)
SHORTENED = {
    "nielsen-784-30-10": (1, 0.90),
    "sigmoid-784-64-64-10": (2, 0.85),
    "mixed-relu-tanh-softmax": (2, 0.96),
    "strong-mnist": (1, 0.95),  # one epoch: the cosine schedule decays to 1e-5 within it
}


@pytest.fixture
def stack(start_gunicorn, service_env, celery_worker):
    """httpx client on gunicorn (production config) with the session's worker behind it."""
    server = start_gunicorn(service_env)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_every_example_reaches_its_stated_result(stack, artifact_dir):
    listed = stack.get("/v1/examples").json()
    assert [entry["name"] for entry in listed] == list(EXAMPLES)
    assert set(SHORTENED) < set(EXAMPLES)  # the others run exactly as listed
    submitted = {}
    for entry in listed:
        assert stack.get(f"/v1/examples/{entry['name']}").json() == entry
        spec = entry["spec"]
        bar = entry["expect"]["min"]
        if entry["name"] in SHORTENED:
            epochs, bar = SHORTENED[entry["name"]]
            spec = {**spec, "training": {**spec["training"], "epochs": epochs}}
        response = stack.post("/v1/jobs", json=spec)
        assert response.status_code == 202, response.json()
        submitted[entry["name"]] = (response.json()["id"], spec, bar)

    models = {}
    for name, (job_id, spec, bar) in submitted.items():
        job = wait_for_job(stack, job_id, timeout=600.0, interval=0.25)
        assert job["status"] == "succeeded", (name, job["error"])
        if spec["training"].get("early_stopping"):
            assert job["stop_reason"] in ("completed", "early_stopping"), name
        else:
            assert len(job["metrics"]) == spec["training"]["epochs"], name  # XOR: all 1500
        model = stack.get(f"/v1/models/{job['model_id']}").json()
        metric = EXAMPLES[name]["expect"]["metric"]  # accuracy, or r2 for regression
        score = model["evaluation"][metric]
        assert score >= bar, f"{name}: test {metric} {score:.4f} < {bar}"
        models[name] = model

    check_sigmoid_outputs_are_served(stack, models["sigmoid-784-64-64-10"], Path(artifact_dir))


def check_sigmoid_outputs_are_served(client, model, artifact_dir):
    """10 sigmoid outputs with log loss: V1 and V2 answer what the saved model computes."""
    assert model["spec"]["model"]["loss"] == "binary_cross_entropy"
    network = load_network(artifact_dir / "models" / model["id"])
    _, (X_test, y_test) = datasets.load("mnist")
    samples = X_test[:16]
    expected = network.predict_proba(samples)
    v1 = client.post(f"/v1/models/{model['id']}/predict", json={"inputs": samples.tolist()})
    assert v1.status_code == 200, v1.json()
    predictions = v1.json()["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, rtol=1e-5, atol=1e-6)
    assert [p["label"] for p in predictions] == expected.argmax(axis=1).tolist()
    assert np.mean(np.array([p["label"] for p in predictions]) == y_test[:16]) >= 0.75
    v2 = client.post(f"/v2/models/{model['id']}/infer", json={"inputs": [{
        "name": "input", "datatype": "FP32", "shape": list(samples.shape),
        "data": samples.ravel().tolist()}]})
    assert v2.status_code == 200, v2.text
    outputs = {output["name"]: output for output in v2.json()["outputs"]}
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], expected.shape),
                               expected, rtol=1e-5, atol=1e-6)
    assert outputs["label"]["data"] == expected.argmax(axis=1).tolist()


def test_examples_are_in_the_openapi_document(client):
    document = client.get("/openapi.json").get_json()
    listing = document["paths"]["/v1/examples"]["get"]["responses"]["200"]["content"]
    assert listing["application/json"]["schema"]["items"]["$ref"].endswith("/Example")
    one = document["paths"]["/v1/examples/{name}"]["get"]["responses"]
    assert one["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Example")
    assert "404" in one
    properties = document["components"]["schemas"]["Example"]["properties"]
    assert {"name", "title", "description", "idea", "expect", "spec"} <= set(properties)


def test_unknown_example_is_404_naming_it(client):
    response = client.get("/v1/examples/lenet-5")
    assert response.status_code == 404
    assert response.get_json()["message"].startswith("no example 'lenet-5'; known examples: ")
