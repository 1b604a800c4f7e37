"""API keys: every /v1 and /v2 route needs one, health and docs do not, bad keys get 401."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest

from api.core.auth import KeyRing, generate_key, hash_key, key_entry, parse_api_keys
from api.studio.views import PAGES
from tests.support.api import make_app, make_key
from worker.store.ids import new_id

# Routes anyone may call: probes, the OpenAPI document, the docs and UI pages and their files,
# and /metrics (which has its own optional token). Every other route must need a key; a new
# public route has to be added here on purpose.
PUBLIC_ENDPOINTS = {
    "health.Health", "health.Readiness", "v2.server_live", "v2.server_ready",
    "api-docs.openapi_json", "ui.docs", "ui.static", "ui.vendor", "ui.swagger_ui", "static",
    "metrics.metrics", *(f"ui.{page}" for page in PAGES),
}
# A value for each URL variable, so every rule can be turned into a real path.
SAMPLE_VALUES = {"job_id": new_id(), "model_id": new_id(), "sweep_id": new_id(), "dataset_id": new_id(), "name": new_id(),
                 "version": "1", "action": "infer", "rest": "no/such/thing", "filename": "ui.js", "layer": "0"}
PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_cases(app):
    """(endpoint, path, method) for every rule and method of the app."""
    cases = []
    for rule in app.url_map.iter_rules():
        missing = set(rule.arguments) - set(SAMPLE_VALUES)
        assert not missing, f"add sample values for {missing} (rule {rule.rule})"
        path = PLACEHOLDER.sub(lambda match: SAMPLE_VALUES[match.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append((rule.endpoint, path, method))
    return cases


def assert_unauthorized(response, path, invalid_token):
    assert response.status_code == 401, (path, response.status_code, response.get_data()[:200])
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) == invalid_token
    body = response.get_json()
    if path == "/v2" or path.startswith("/v2/"):
        assert set(body) == {"error"} and "key" in body["error"]  # the V2 protocol's shape
    else:
        assert body["code"] == 401 and body["status"] == "Unauthorized" and "key" in body["message"]


def test_every_v1_and_v2_route_needs_a_key(secure_app, keys):
    client = secure_app.test_client()
    wrong = {"Authorization": f"Bearer {generate_key()}"}
    protected = [case for case in route_cases(secure_app) if case[0] not in PUBLIC_ENDPOINTS]
    for endpoint, path, method in protected:
        assert path.startswith(("/v1/", "/v2")), f"{endpoint} ({path}) is neither public nor keyed"
        assert_unauthorized(client.open(path, method=method), path, invalid_token=False)
        assert_unauthorized(client.open(path, method=method, headers=wrong), path,
                            invalid_token=True)
    # The walk really covered the API: jobs, models, prediction, and the V2 protocol.
    covered = {endpoint for endpoint, _path, _method in protected}
    assert {"jobs.Jobs", "jobs.JobById", "jobs.JobCancel", "jobs.JobEvents", "models.Models",
            "models.ModelById", "models.ModelDownload", "predict.Predict", "v2.server_metadata",
            "v2.model_metadata", "v2.model_ready", "v2.infer", "v2.unknown"} <= covered


def test_health_docs_and_ui_need_no_key(secure_app, celery_worker):
    client = secure_app.test_client()
    public = [case for case in route_cases(secure_app) if case[0] in PUBLIC_ENDPOINTS]
    assert {endpoint for endpoint, _path, _method in public} == PUBLIC_ENDPOINTS
    for _endpoint, path, method in public:
        response = client.open(path, method=method)
        assert response.status_code != 401, path
        assert "WWW-Authenticate" not in response.headers
    assert client.get("/healthz").status_code == 200
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_a_valid_key_passes_and_unknown_paths_stay_hidden(secure_client, keys):
    alice = keys["alice"].headers
    assert secure_client.get("/v1/jobs", headers=alice).status_code == 200
    assert secure_client.get("/v1/models", headers=alice).status_code == 200
    # Without a key nothing tells an unknown path from a real one.
    assert secure_client.get("/v1/no/such/thing").status_code == 401
    assert secure_client.get("/v1/no/such/thing", headers=alice).status_code == 404


@pytest.mark.parametrize("header", [
    "Basic YWxpY2U6c2VjcmV0",  # another scheme
    "Bearer",  # no credentials
    "Bearer    ",
    "Token {key}",
    "{key}",  # the key without a scheme
    "Bearer {key}x",  # one character more
    "Bearer " + "k" * 5000,  # refused without being hashed
])
def test_malformed_or_wrong_credentials_are_401(secure_client, keys, header):
    response = secure_client.get("/v1/jobs", headers={"Authorization": header.format(
        key=keys["alice"].key)})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_scheme_is_case_insensitive_and_spaces_are_trimmed(secure_client, keys):
    key = keys["bob"].key
    for header in (f"bearer {key}", f"BEARER {key}", f"Bearer   {key}  "):
        assert secure_client.get("/v1/jobs", headers={"Authorization": header}).status_code == 200


def test_openapi_declares_the_bearer_scheme(secure_client):
    document = secure_client.get("/openapi.json").get_json()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # shared by the path's operations, not an operation
                continue
            if path.startswith("/v1/"):
                assert operation["security"] == [{"bearerAuth": []}], (path, method)
                assert "401" in operation["responses"], (path, method)
            else:
                assert "security" not in operation, (path, method)


# ---- open mode ------------------------------------------------------------------------------


def test_open_mode_is_announced_at_start_and_in_readyz(worker_settings, celery_worker, caplog):
    caplog.set_level(logging.WARNING, logger="api.core.auth")
    client = make_app(worker_settings).test_client()
    warnings = [record for record in caplog.records if record.name == "api.core.auth"]
    assert [record.levelno for record in warnings] == [logging.WARNING]
    assert "AUTHENTICATION DISABLED" in warnings[0].getMessage()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["auth"] == "disabled"
    # Open means open: no key needed, and nothing is owned.
    assert client.get("/v1/jobs").status_code == 200


def test_readyz_says_keys_are_required(secure_client, celery_worker, caplog):
    ready = secure_client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["auth"] == "api_keys"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING
                and record.name == "api.core.auth"]


# ---- configuration ----------------------------------------------------------------------------


def test_entries_hold_only_hashes():
    alice, root = make_key("alice"), make_key("root", admin=True)
    keys = parse_api_keys(f" {alice.entry} ,\n{root.entry},")
    assert [(key.name, key.admin) for key in keys] == [("alice", False), ("root", True)]
    assert keys[0].digest == hashlib.sha256(alice.key.encode()).digest()
    assert alice.entry == f"alice:{hash_key(alice.key)}" and root.entry.endswith(":admin")
    assert alice.key not in alice.entry
    ring = KeyRing(keys)
    assert ring.match(alice.key).name == "alice" and ring.match(root.key).admin
    assert ring.match(alice.key + " ") is None and ring.match("") is None
    assert parse_api_keys("") == () and not KeyRing(()).enabled


@pytest.mark.parametrize("entries, complaint", [
    ("alice:mlpq_plainkeyinsteadofahash", "plain keys are not accepted"),
    ("alice", "sha256hex"),
    ("alice:" + "A" * 64, "64 lowercase hex"),
    ("al ice:" + "a" * 64, "the name must be"),
    (":" + "a" * 64, "the name must be"),
    ("alice:" + "a" * 64 + ":root", "the only flag"),
    ("alice:" + "a" * 64 + ",alice:" + "b" * 64, "already configured"),
    ("alice:" + "a" * 64 + ",bob:" + "a" * 64, "already configured"),
])
def test_bad_entries_are_refused_at_start_without_echoing_them(worker_settings, entries,
                                                                complaint):
    with pytest.raises(ValueError, match=complaint) as caught:
        parse_api_keys(entries)
    assert "mlpq_plainkeyinsteadofahash" not in str(caught.value)
    with pytest.raises(ValueError, match=complaint):
        make_app(worker_settings, API_KEYS=entries)


def test_key_names_are_checked_when_making_a_key():
    with pytest.raises(ValueError, match="key name"):
        key_entry("bad name", generate_key())
    assert generate_key() != generate_key() and generate_key().startswith("mlpq_")
