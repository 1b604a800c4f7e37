"""The OpenAPI document, the docs and UI pages, and the health probes."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from api.studio.views import PAGES
from engine.datasets import DATASETS
from engine.optimizers import OPTIMIZERS
from tests.support.api import make_app
from worker.store.config import Settings
from worker.store.jobs import STATUSES, STOP_REASONS, TERMINAL_STATUSES

ERROR_FIELDS = {"code", "status", "message", "errors"}


def flask_rule_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_document_validates_and_lists_every_route(client, app):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)

    api_rules = {flask_rule_to_openapi(rule.rule) for rule in app.url_map.iter_rules()
                 if rule.rule.startswith("/v1/") or rule.rule in ("/healthz", "/readyz")}
    assert api_rules <= set(spec["paths"])
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/events",
            "/v1/models", "/v1/models/{model_id}", "/v1/models/{model_id}/download",
            "/healthz", "/readyz"} <= set(spec["paths"])

    error_schema = spec["components"]["schemas"]["Error"]
    assert set(error_schema["properties"]) == ERROR_FIELDS | {"type"}  # type: prediction errors
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            successes = [code for code in operation["responses"] if code.startswith("2")]
            success_bodies = [code for code in successes if code != "204"
                              and "content" in operation["responses"][code]]
            assert len(success_bodies) <= 1 and successes, (method, path)
            assert operation["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}
            assert operation.get("summary"), (method, path)


def test_request_schema_shows_engine_rules_and_defaults(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    layer = schemas["Layer"]["properties"]
    assert "softmax" in layer["activation"]["enum"]
    assert layer["dropout"]["maximum"] == 1.0 and layer["dropout"]["exclusiveMaximum"] is True
    assert schemas["TrainingConfig"]["properties"]["batch_size"]["default"] == 128
    # No enum: a job may name an uploaded dataset's id too; the built-ins are listed beside it.
    dataset = schemas["JobCreate"]["properties"]["dataset"]
    assert dataset["type"] == "string" and "enum" not in dataset
    assert dataset["x-builtins"] == list(DATASETS)


def test_datasets_and_optimizer_settings_are_machine_readable(client):
    """What the studio's forms read: each dataset's shape and classes, each optimizer's settings."""
    datasets = {dataset["name"]: dataset for dataset in client.get("/v1/datasets").get_json()}
    assert set(datasets) == set(DATASETS)
    assert datasets["mnist"] == {
        "name": "mnist", "kind": "image", "input_size": 784, "image_shape": [28, 28],
        "num_classes": 10, "classes": [str(digit) for digit in range(10)],
        "train_size": 60000, "test_size": 10000,
        # the fields every dataset record has (uploaded tables fill them)
        "id": "mnist", "owner": None, "task": "classification", "target": None, "sha256": None,
        "size_bytes": None, "created_at": None, "source": None, "licence": None}
    assert datasets["iris"]["kind"] == "table" and datasets["iris"]["classes"][0] == "setosa"
    assert datasets["diabetes"]["task"] == "regression" and datasets["diabetes"]["classes"] is None
    assert datasets["xor"]["kind"] == "gate" and datasets["xor"]["image_shape"] is None
    assert datasets["fashion-mnist"]["classes"][9] == "Ankle boot"
    name = client.get("/openapi.json").get_json()["components"]["schemas"]["Optimizer"]["properties"]["name"]
    assert name["x-hyperparameters"] == {optimizer: dict(cls.hyperparameters)
                                         for optimizer, cls in OPTIMIZERS.items()}
    assert set(name["x-hyperparameters"]) == set(name["enum"])


def test_job_vocabularies_are_the_job_stores(client):
    """What the studio reads to know a job has ended: the store's statuses and which are final."""
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    status = schemas["Job"]["properties"]["status"]
    assert status["enum"] == list(STATUSES) == schemas["Sweep"]["properties"]["status"]["enum"]
    assert status["x-terminal"] == [name for name in STATUSES if name in TERMINAL_STATUSES]
    assert set(status["x-terminal"]) == TERMINAL_STATUSES
    for schema in ("Job", "Model"):
        assert schemas[schema]["properties"]["stop_reason"]["enum"] == [*STOP_REASONS, None]


def test_docs_serve_swagger_ui_from_its_package(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"/openapi.json" in docs.data
    assert b"http://" not in docs.data and b"https://" not in docs.data  # no CDN: works offline
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/static/{name}".encode() in docs.data
        response = client.get(f"/docs/static/{name}")
        assert response.status_code == 200 and len(response.data) > 10_000
    assert client.get("/docs/static/../../__init__.py").status_code == 404


def test_studio_pages_and_their_files(client):
    for endpoint, page in PAGES.items():
        response = client.get(page.path)
        assert response.status_code == 200, endpoint
        assert f'src="/ui-static/{endpoint}.js"'.encode() in response.data
        assert b"http://" not in response.data and b"https://" not in response.data
        assert client.get(f"/ui-static/{endpoint}.js").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly" in plotly.data[:2000].lower()
    assert client.get("/vendor/nothing.js").status_code == 404


@pytest.fixture
def redis_down_client(tmp_path):
    """An app whose Redis does not exist (nothing listens on the discard port)."""
    down = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:9/0", "MLPQ_ARTIFACT_DIR": str(tmp_path)})
    return make_app(down).test_client()


def test_healthz_needs_nothing(redis_down_client):
    assert redis_down_client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_with_a_worker(client, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["ok"] and body["checks"]["workers"]["ok"]
    assert celery_worker.name in body["checks"]["workers"]["detail"]


def test_readyz_without_a_worker_says_so(idle_client):
    response = idle_client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert set(body) == ERROR_FIELDS
    assert list(body["errors"]) == ["workers"]
    assert "no Celery worker answered" in body["message"]


def test_readyz_without_redis_says_so(redis_down_client):
    response = redis_down_client.get("/readyz")
    assert response.status_code == 503
    assert set(response.get_json()["errors"]) == {"redis", "workers"}
    assert "Redis" in response.get_json()["message"]
    # A store that is down is a 503 for API calls too, never a 500.
    listing = redis_down_client.get("/v1/jobs")
    assert listing.status_code == 503 and "Redis" in listing.get_json()["message"]
    submitted = redis_down_client.post("/v1/jobs", json={
        "dataset": "xor", "model": {"layers": [{"units": 2, "activation": "softmax"}]}})
    assert submitted.status_code == 503
