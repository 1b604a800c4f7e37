"""A bounded, thread-safe LRU of loaded models per API process, checked against the files.

A warm prediction costs two `stat` calls: the entry is keyed by the model id and stamped with
the identity (inode, size, mtime) of the model's `manifest.json` and `weights.npz`. Models are
written to a temporary directory and moved into place, so a replaced model has new inodes and
a deleted one has no files: either way the stale entry is dropped, whichever process deleted
it. A model whose files fail the engine's checks is remembered as broken (for that stamp), so
its hash is not recomputed on every request and other models keep serving.

On an object store (MLPQ_ARTIFACT_URL=s3://...) the stamp is the manifest's ETag instead, which
the store re-reads at most once a second (`ArtifactStore.model_stamp`), and a model is loaded
from the store's verified local copy (`ArtifactStore.local_model_dir`).
"""

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from engine.datasets import DATASETS
from engine.network import Network
from engine.serialization import MANIFEST, WEIGHTS, ModelFileError, read_manifest
from engine.tables import CLASSIFICATION, KIND, REGRESSION, TablePreprocessing
from worker.store.artifacts import ModelNotFound
from worker.store.ids import validate_id


class ModelCorrupt(RuntimeError):
    """The model's files exist but fail validation; `reason` says how."""

    def __init__(self, model_id: str, reason: str):
        super().__init__(f"model {model_id} is corrupt and cannot serve: {reason}")
        self.model_id = model_id
        self.reason = reason


@dataclass(frozen=True)
class Layer:
    """One dense layer of a loaded model, for pages that show it (weights pictures, cards)."""

    weights: np.ndarray  # (fan_in, fan_out), C-contiguous, the model's dtype (float32 by default)
    bias: np.ndarray  # (fan_out,)
    activation: object  # engine.activations.Activation


@dataclass(frozen=True)
class LoadedModel:
    """Everything a prediction needs, computed once when the model is loaded."""

    model_id: str
    stamp: tuple
    network: object  # engine.Network, used read-only
    layers: tuple[Layer, ...]
    dtype: np.dtype
    input_size: int
    num_classes: int
    classes: tuple[str, ...]
    image_shape: tuple[int, int] | None  # (28, 28) for image datasets, else None
    unit_range: bool  # inputs must lie in [0, 1]
    manifest: dict
    record: dict
    # A table model's preprocessing (engine.tables), read once here rather than per request:
    # rows by column name go through it before the first layer. None for other models.
    table: TablePreprocessing | None = None
    task: str = CLASSIFICATION  # or REGRESSION: num_classes is then 0, outputs are values

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        """(n, input_size) -> (n, num_classes) in the model's dtype: the engine's forward pass
        (its scratch buffers are per thread, so concurrent requests share nothing mutable)."""
        return self.network.predict_proba(inputs)

    def predict_values(self, inputs: np.ndarray) -> np.ndarray:
        """Regression: (n, input_size) -> values in the target's units, (n,) float64 for one
        output unit, else (n, outputs)."""
        return self.network.predict_values(inputs)

    @property
    def regression(self) -> bool:
        return self.task == REGRESSION


@dataclass(frozen=True)
class _Broken:
    stamp: tuple
    error: ModelCorrupt


def prepare(model_id: str, network, stamp: tuple, manifest: dict, record: dict) -> LoadedModel:
    """An engine Network, its manifest and record -> LoadedModel: all a request needs at hand."""
    layers = tuple(
        Layer(
            weights=np.ascontiguousarray(params["W"], dtype=network.dtype),
            bias=np.ascontiguousarray(params["b"], dtype=network.dtype),
            activation=activation,
        )
        for params, activation in zip(network.params, network.activations, strict=True)
    )
    preprocessing = manifest.get("preprocessing") or {}
    classes = manifest["classes"]
    info = DATASETS.get(record.get("dataset")) if manifest.get("dataset") is None else None
    if info is not None:
        # Saved without naming its dataset: the record's dataset says how inputs were scaled.
        preprocessing = ({"scale": "0-1", "image_shape": list(info.image_shape)}
                         if info.image_shape else {"scale": "none"})
        classes = list(info.classes)
    image_shape = preprocessing.get("image_shape")
    # A tampered or ill-formed table preprocessing is a ValueError naming the key: corrupt.
    table = TablePreprocessing.from_dict(preprocessing) if preprocessing.get("kind") == KIND else None
    if table is not None and table.input_size != network.input_size:
        raise ValueError(f"preprocessing encodes a row as {table.input_size} inputs; the "
                         f"network takes {network.input_size}")
    return LoadedModel(
        model_id=model_id, stamp=stamp, network=network, layers=layers, dtype=network.dtype,
        input_size=network.input_size, num_classes=network.num_classes or 0,
        classes=tuple(str(name) for name in classes),
        image_shape=tuple(image_shape) if image_shape else None,
        unit_range=preprocessing.get("scale") == "0-1",
        manifest=manifest, record=record, table=table, task=network.task,
    )


class ModelCache:
    """Loaded models for one API process, most recently used last; `size` of them at most."""

    def __init__(self, artifacts, size: int = 8):
        if size < 1:
            raise ValueError("model cache size must be >= 1")
        self.artifacts = artifacts
        self.size = size
        self.hits = 0
        self.misses = 0
        self.loads = 0
        self.evictions = 0
        self._entries: OrderedDict[str, LoadedModel | _Broken] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._models_root = str(artifacts.models_root)

    def get(self, model_id: str) -> LoadedModel:
        """The model, loading it on a miss; raises ModelNotFound or ModelCorrupt."""
        validate_id(model_id, "model id")
        if self.artifacts.is_local:
            # <root>/models/<id> (ArtifactStore's layout) as a plain string: pathlib would cost
            # more than the two stat calls it leads to.
            model_dir = f"{self._models_root}{os.sep}{model_id}"
            stamp = self._stamp(model_id, model_dir)
        else:
            model_dir, stamp = None, self._remote_stamp(model_id)
        with self._lock:
            entry = self._lookup(model_id, stamp)
            if entry is not None:
                self.hits += 1
                return _unwrap(entry)
            self.misses += 1
            load_lock = self._loading.setdefault(model_id, threading.Lock())
        # One thread loads a given model; others wanting it wait, then find it cached.
        with load_lock:
            with self._lock:
                entry = self._lookup(model_id, stamp)
            if entry is None:
                try:
                    entry = self._load(model_id, model_dir, stamp)
                finally:
                    with self._lock:
                        self._loading.pop(model_id, None)
                with self._lock:
                    self._store(model_id, entry)
        return _unwrap(entry)

    def discard(self, model_id: str) -> None:
        """Forget a model (the API calls this when it deletes one)."""
        with self._lock:
            self._entries.pop(model_id, None)

    def stats(self) -> dict:
        """Counters for /metrics: hits, misses, loads, evictions, entries, size."""
        with self._lock:
            return {
                "hits": self.hits, "misses": self.misses, "loads": self.loads,
                "evictions": self.evictions, "entries": len(self._entries), "size": self.size,
            }

    def _stamp(self, model_id: str, model_dir) -> tuple:
        try:
            manifest = os.stat(os.path.join(model_dir, MANIFEST))
            weights = os.stat(os.path.join(model_dir, WEIGHTS))
        except (FileNotFoundError, NotADirectoryError) as error:
            self.discard(model_id)
            if os.path.isdir(model_dir):
                # Saves and deletes move whole directories, so a file missing inside one is damage.
                raise ModelCorrupt(model_id, f"{os.path.basename(error.filename)} is missing") from None
            raise ModelNotFound(model_id) from None
        return (
            manifest.st_ino, manifest.st_size, manifest.st_mtime_ns,
            weights.st_ino, weights.st_size, weights.st_mtime_ns,
        )

    def _remote_stamp(self, model_id: str) -> tuple:
        try:
            return self.artifacts.model_stamp(model_id)
        except ModelNotFound:
            self.discard(model_id)
            raise ModelNotFound(model_id) from None

    def _lookup(self, model_id: str, stamp: tuple):
        """The live entry for (id, stamp), refreshed as most recent; a stale one is dropped."""
        entry = self._entries.get(model_id)
        if entry is None:
            return None
        if entry.stamp != stamp:
            del self._entries[model_id]
            return None
        self._entries.move_to_end(model_id)
        return entry

    def _store(self, model_id: str, entry) -> None:
        self._entries[model_id] = entry
        self._entries.move_to_end(model_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
            self.evictions += 1

    def _load(self, model_id: str, model_dir, stamp: tuple):
        """Read and verify the files (hash and shapes, by the engine) once."""
        self.loads += 1
        try:
            if model_dir is None:  # a remote store: its verified local copy
                model_dir = str(self.artifacts.local_model_dir(model_id))
            manifest = read_manifest(model_dir)
            network = Network.load(model_dir)
        except (FileNotFoundError, ModelNotFound):
            raise ModelNotFound(model_id) from None
        except (ModelFileError, OSError, ValueError, KeyError, TypeError) as error:
            if not os.path.isdir(model_dir):
                raise ModelNotFound(model_id) from None  # deleted while we read it
            # Clients see the reason; the server's directory layout is none of their business.
            reason = str(error).replace(f"{model_dir}{os.sep}", "").replace(str(model_dir), "")
            return _Broken(stamp, ModelCorrupt(model_id, reason))
        # The record (owner, job_id, dataset, ...) as the store reads it: visible() needs the owner.
        record = self.artifacts.get_model(model_id) or {}
        try:
            return prepare(model_id, network, stamp, manifest, record)
        except ValueError as error:  # the table preprocessing in the manifest is ill-formed
            return _Broken(stamp, ModelCorrupt(model_id, f"{MANIFEST}: {error}"))


def _unwrap(entry):
    if isinstance(entry, _Broken):
        raise entry.error
    return entry
