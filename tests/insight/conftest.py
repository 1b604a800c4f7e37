"""Insight fixtures: the shared trained MNIST model (tests/model_fixtures.py) and an XOR model."""

from __future__ import annotations

import pytest

from tests.api.conftest import (
    app,
    client,
    idle_client,
    idle_settings,
    make_app,
    submit,
    wait_for_job,
)

__all__ = ["app", "client", "idle_client", "idle_settings"]

# One epoch at a tiny learning rate: an XOR net that still gets some rows wrong.
UNTRAINED_XOR_JOB = {
    "name": "insight-xor", "dataset": "xor",
    "model": {"layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
              "loss": "binary_cross_entropy", "init": "xavier"},
    "training": {"epochs": 1, "batch_size": 4, "seed": 3,
                 "optimizer": {"name": "sgd", "learning_rate": 0.0001}},
}


@pytest.fixture(scope="module")
def xor_model(worker_settings, _session_celery_worker):
    """The model record of an XOR job trained (barely) by the real worker."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = wait_for_job(client, submit(client, UNTRAINED_XOR_JOB)["id"], timeout=120)
    assert job["status"] == "succeeded", job["error"]
    return client.get(f"/v1/models/{job['model_id']}").get_json()
