"""Prediction fixtures: copies of the trained model (tests/model_fixtures.py), image helpers."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import app, client, idle_client, idle_settings
from worker.store.ids import new_id

# Fixtures shared with the API suite: `app` is a fresh app per test (so a fresh model cache).
__all__ = ["app", "client", "idle_client", "idle_settings"]


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
