"""What the API derives from a loaded model — test-split predictions, pictures — cached per model.

Entries are keyed by model id and the model files' stamp (`LoadedModel.stamp`), so a model
replaced on disk is derived afresh; the cache holds as many models as the model cache.
Test splits are read once per process, without the training split (`datasets.load_test`).
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from api.core.services import EXTENSION_KEY as SERVICES_KEY
from engine import datasets

EXTENSION_KEY = "mlpq_derived"


@dataclass(frozen=True)
class SplitPredictions:
    """A model's answers on its dataset's test split."""

    X: np.ndarray  # (n, input_size) float32, the split exactly as the worker evaluated on it
    y: np.ndarray  # (n,) int64 true labels
    probabilities: np.ndarray  # (n, num_classes)
    predicted: np.ndarray  # (n,) int64


class DerivedCache:
    """Per model: {key: value}, dropped when the model's files change; `size` models at most."""

    def __init__(self, data_dir, size: int):
        self.data_dir = data_dir
        self.size = size
        self._models: OrderedDict[str, tuple[tuple, dict]] = OrderedDict()
        self._splits: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._split_lock = threading.Lock()

    def get(self, model, key, compute):
        """`compute()` once per (model files, key); `model` is an api.models.cache.LoadedModel.

        Two requests racing on a cold entry may both compute it; both answers are the same.
        """
        with self._lock:
            stamp, values = self._models.get(model.model_id, (None, None))
            if stamp == model.stamp and key in values:
                self._models.move_to_end(model.model_id)
                return values[key]
        value = compute()
        with self._lock:
            stamp, values = self._models.get(model.model_id, (None, None))
            if stamp != model.stamp:
                values = {}
                self._models[model.model_id] = (model.stamp, values)
            values[key] = value
            self._models.move_to_end(model.model_id)
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return value

    def test_split(self, dataset: str):
        """(X_test, y_test); DatasetUnavailable when this process cannot read the files."""
        with self._split_lock:  # one read per dataset even when requests ask at once
            if dataset not in self._splits:
                self._splits[dataset] = datasets.load_test(dataset, self.data_dir, download=False)
            return self._splits[dataset]

    def test_predictions(self, model, dataset: str) -> SplitPredictions:
        def predict():
            X, y = self.test_split(dataset)
            probabilities = model.predict_proba(X)
            return SplitPredictions(X, y, probabilities, probabilities.argmax(axis=1))

        return self.get(model, ("test_predictions", dataset), predict)


def derived(app) -> DerivedCache:
    """The app's cache, made on first use."""
    cache = app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = app.extensions.setdefault(EXTENSION_KEY, DerivedCache(
            app.extensions[SERVICES_KEY].settings.data_dir, app.config["MODEL_CACHE_SIZE"]))
    return cache
