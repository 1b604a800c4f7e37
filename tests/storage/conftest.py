"""Object-storage fixtures: an empty bucket per test on the session's moto S3 server (a real
HTTP server process; `moto_server` and `s3_env` come from tests/support/fixtures.py)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def s3_url(s3_env) -> str:
    """s3://<a new bucket>/mlpq: one empty bucket per test."""
    from worker.store.s3_artifacts import make_client

    bucket = f"mlpq-test-{uuid.uuid4().hex[:12]}"
    make_client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/mlpq"
