"""Session fixtures: one MNIST model trained through the API by the real worker, the test split.

Loaded as a plugin by tests/conftest.py, so every suite that needs a trained model (prediction,
explanations) shares the one training run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import datasets
from engine import load as load_network
from tests.api.conftest import make_app, submit, wait_for_job

MNIST_JOB = {
    "name": "predict-suite-mnist",
    "dataset": "mnist",
    "model": {"layers": [{"units": 128, "activation": "relu"},
                         {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 2, "batch_size": 128, "seed": 0},
}


@dataclass(frozen=True)
class TrainedModel:
    model_id: str
    job_id: str
    directory: Path
    accuracy: float  # on the 10,000 MNIST test images, as the worker evaluated it
    network: object  # engine.Network loaded from the files (the oracle for probabilities)


@pytest.fixture(scope="session")
def mnist_test():
    """(X_test (10000, 784) float32 in [0, 1], y_test (10000,) int)."""
    _, (X_test, y_test) = datasets.load("mnist")
    return X_test, y_test


@pytest.fixture(scope="session")
def trained_model(worker_settings, _session_celery_worker, artifact_dir) -> TrainedModel:
    """A 784-128-10 model trained for 2 epochs through the API by a real Celery worker."""
    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = submit(client, MNIST_JOB)
    done = wait_for_job(client, job["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    directory = Path(artifact_dir) / "models" / done["model_id"]
    return TrainedModel(model_id=done["model_id"], job_id=job["id"], directory=directory,
                        accuracy=model["evaluation"]["accuracy"],
                        network=load_network(directory))
