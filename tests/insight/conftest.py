"""Insight fixtures: an XOR model that still gets rows wrong (the trained MNIST model is the
session's, from tests/support/models.py)."""

from __future__ import annotations

import pytest

from tests.support.api import make_app, submit
from tests.support.specs import UNTRAINED_XOR_JOB
from tests.support.waiting import wait_for_job


@pytest.fixture(scope="module")
def xor_model(worker_settings, _session_celery_worker):
    """The model record of an XOR job trained (barely) by the real worker."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = wait_for_job(client, submit(client, UNTRAINED_XOR_JOB)["id"], timeout=120)
    assert job["status"] == "succeeded", job["error"]
    return client.get(f"/v1/models/{job['model_id']}").get_json()
