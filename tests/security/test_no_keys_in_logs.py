"""No API key (nor its hash) ever reaches a log line, in the app or under gunicorn."""

from __future__ import annotations

import logging

import httpx

from api.core.auth import generate_key, hash_key
from tests.support.api import keyed_config
from tests.support.servers import GunicornServer
from tests.support.specs import XOR_JOB


def secrets_of(keys) -> list[str]:
    return [text for key in keys.values() for text in (key.key, hash_key(key.key))]


def exercise(request, keys, wrong_key):
    """Requests a client might send: good keys, a wrong key, keys where they do not belong."""
    alice = keys["alice"].headers
    request("GET", "/v1/jobs", headers=alice)
    request("POST", "/v1/jobs", json={**XOR_JOB, "name": "logged"}, headers=alice)
    request("GET", "/v1/models/latest", headers=keys["root"].headers)
    request("GET", "/v1/no/such/route", headers=alice)
    request("POST", "/v1/jobs", json={"dataset": "nope"}, headers=alice)  # 422
    request("GET", "/v1/jobs", headers={"Authorization": f"Bearer {wrong_key}"})
    request("GET", "/v1/jobs", headers={"Authorization": f"Basic {wrong_key}"})
    request("GET", "/v1/jobs", headers={"Authorization": keys["bob"].key})  # no scheme: 401
    request("GET", "/v2/models/latest", headers={"Authorization": f"Bearer {wrong_key}"})


def test_keys_never_reach_the_app_logs(secure_client, keys, json_logs, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_key = generate_key()

    def request(method, path, **kwargs):
        return secure_client.open(path, method=method, **kwargs)

    exercise(request, keys, wrong_key)
    text = json_logs.stream.getvalue() + caplog.text
    assert text.count('"logger": "mlpq.access"') >= 9  # the requests were logged...
    for secret in [*secrets_of(keys), wrong_key]:
        assert secret not in text  # ...without any key


def test_keys_never_reach_gunicorn_logs(service_env, tmp_path, keys, celery_worker):
    env = {**service_env, **{"MLPQ_API_KEYS": keyed_config(keys)["API_KEYS"]},
           "MLPQ_WORKERS": "1", "MLPQ_THREADS": "4", "MLPQ_LOG_LEVEL": "debug",
           "MLPQ_ACCESS_LOG": "-"}  # gunicorn's own access log on too
    server = GunicornServer(env, tmp_path / "gunicorn.log").start()
    wrong_key = generate_key()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            exercise(client.request, keys, wrong_key)
    finally:
        server.stop()
    text = server.log_path.read_text()
    assert "mlpq.access" in text and "gunicorn.access" in text
    assert "API keys required on /v1 and /v2: 3 key(s), 1 admin" in text
    for secret in [*secrets_of(keys), wrong_key]:
        assert secret not in text
