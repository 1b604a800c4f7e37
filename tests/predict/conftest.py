"""Prediction fixtures: one MNIST model trained by the real worker, test digits, image helpers."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import datasets
from engine import load as load_network
from tests.api.conftest import (
    app,
    client,
    idle_client,
    idle_settings,
    make_app,
    submit,
    wait_for_job,
)
from worker.ids import new_id

# Fixtures shared with the API suite: `app` is a fresh app per test (so a fresh model cache).
__all__ = ["app", "client", "idle_client", "idle_settings"]

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


def encode(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """A greyscale uint8 (h, w) or float [0, 1] image -> file bytes."""
    if pixels.dtype != np.uint8:
        pixels = np.round(pixels * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def mnist_png(sample: np.ndarray) -> bytes:
    """One MNIST sample (784 floats in [0, 1]) as the PNG it came from: white on black, 28x28."""
    return encode(sample.reshape(28, 28))


def drawn_on_paper(sample: np.ndarray, size=200, canvas=(400, 300), at=(170, 60)) -> bytes:
    """An MNIST digit as if drawn dark on white paper: inverted, enlarged, off-centre, JPEG."""
    digit = Image.fromarray(255 - np.round(sample.reshape(28, 28) * 255).astype(np.uint8))
    digit = digit.resize((size, size), Image.Resampling.BICUBIC)
    page = Image.new("L", canvas, 255)
    page.paste(digit, at)
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
