"""What the API derives from a loaded model — test-split predictions, pictures — cached per model.

Entries are keyed by model id and the model files' stamp (`LoadedModel.stamp`), so a model
replaced on disk is derived afresh; the cache holds as many models as the model cache.
A built-in's test split is read once per process, without the training split
(`datasets.load_test`); an uploaded dataset's comes from the artifact store, once per model.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from api.core.services import services
from engine import datasets
from worker.store.datasets import DatasetFileError


@dataclass(frozen=True)
class SplitPredictions:
    """A model's answers on its dataset's test split."""

    X: np.ndarray  # (n, input_size) float32, the split exactly as the worker evaluated on it
    y: np.ndarray  # (n,) int64 true labels; regression: true values in the target's units
    probabilities: np.ndarray | None  # (n, num_classes); None for regression
    predicted: np.ndarray  # (n,) int64 labels; regression: values in the target's units


class DerivedCache:
    """Per model: {key: value}, dropped when the model's files change; `size` models at most."""

    def __init__(self, data_dir, size: int, artifacts=None):
        self.data_dir = data_dir
        self.artifacts = artifacts  # uploaded datasets' arrays (worker.store.datasets)
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
        """(X_test, y_test) of a built-in or uploaded dataset; DatasetUnavailable when this
        process cannot read the files, DatasetNotFound when an uploaded one is deleted."""
        if dataset not in datasets.DATASETS:
            try:
                arrays = self.artifacts.load_dataset_arrays(dataset)
            except DatasetFileError as error:
                raise datasets.DatasetUnavailable(str(error)) from None
            return arrays["X_test"], arrays["y_test"]
        with self._split_lock:  # one read per dataset even when requests ask at once
            if dataset not in self._splits:
                self._splits[dataset] = datasets.load_test(dataset, self.data_dir, download=False)
            return self._splits[dataset]

    def test_predictions(self, model, dataset: str) -> SplitPredictions:
        def predict():
            X, y = self.test_split(dataset)
            if model.regression:  # y as trained on: standardised by the table's target scale
                true = model.table.decode_values(y) if model.table is not None else y
                return SplitPredictions(X, np.asarray(true, dtype=np.float64), None,
                                        model.predict_values(X))
            probabilities = model.predict_proba(X)
            return SplitPredictions(X, y, probabilities, probabilities.argmax(axis=1))

        return self.get(model, ("test_predictions", dataset), predict)


def init_derived(app) -> None:
    """Give the app its cache (once blueprints are registered: the insight views ask for it)."""
    state = services(app)
    if state.derived is None:
        state.derived = DerivedCache(state.settings.data_dir, app.config["MODEL_CACHE_SIZE"],
                                     state.artifacts)
