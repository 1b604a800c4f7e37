"""The session's one trained MNIST model, shared by every suite (a plugin of tests/conftest.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine import datasets
from engine import load as load_network
from tests.support.specs import TRAINED_MNIST_JOB
from tests.support.waiting import wait_for_job
from worker.store.ids import new_id


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
    # imported here, so suites that never use the app never import it
    from tests.support.api import make_app, submit

    _session_celery_worker.start()
    client = make_app(worker_settings).test_client()
    job = submit(client, TRAINED_MNIST_JOB)
    done = wait_for_job(client, job["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
    model = client.get(f"/v1/models/{done['model_id']}").get_json()
    directory = Path(artifact_dir) / "models" / done["model_id"]
    return TrainedModel(model_id=done["model_id"], job_id=job["id"], directory=directory,
                        accuracy=model["evaluation"]["accuracy"],
                        network=load_network(directory))


@pytest.fixture
def model_copy(trained_model, artifact_dir):
    """Factory: a copy of the trained model's files under a new id (removed afterwards)."""
    made = []

    def copy() -> str:
        model_id = new_id()
        shutil.copytree(trained_model.directory, Path(artifact_dir) / "models" / model_id)
        made.append(model_id)
        return model_id

    yield copy
    for model_id in made:
        shutil.rmtree(Path(artifact_dir) / "models" / model_id, ignore_errors=True)


def confident_digits(trained_model, mnist_test, count=10, threshold=0.98):
    """Indices of test digits the model classifies correctly with probability >= threshold."""
    X_test, y_test = mnist_test
    probabilities = trained_model.network.predict_proba(X_test[:2000])
    good = (probabilities.argmax(axis=1) == y_test[:2000]) & (probabilities.max(axis=1) >= threshold)
    return np.flatnonzero(good)[:count]


def corrupt_weights(directory):
    """Flip bytes in the middle of weights.npz (same size, so only the hash can tell)."""
    path = directory / "weights.npz"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(255 - byte for byte in data[middle:middle + 16])
    path.write_bytes(bytes(data))
