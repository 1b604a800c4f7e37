"""Observability fixtures: an XOR model trained by the real worker (log capture and /metrics
reading are tests/support's, shared with the security suite)."""

from __future__ import annotations

import pytest

from tests.support.api import make_app, submit
from tests.support.specs import XOR_JOB
from tests.support.waiting import wait_for_job


@pytest.fixture(scope="module")
def xor_model(worker_settings, _session_celery_worker) -> str:
    """The model id of an XOR job trained by the real worker (once for the module)."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = submit(client, {**XOR_JOB, "name": "xor-for-observability"})
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["error"]
    return done["model_id"]
