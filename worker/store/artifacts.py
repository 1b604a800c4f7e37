"""ArtifactStore: trained models and training checkpoints on disk (a volume shared by API and workers).

  <root>/models/<model_id>/      manifest.json + weights.npz (engine.serialization); the model
                                 record lives in the manifest's `metadata`, so models survive
                                 a Redis flush
  <root>/checkpoints/<job_id>/   the latest end-of-epoch checkpoint of a job still training
  <root>/datasets/<dataset_id>/  dataset.json + arrays.npz: an uploaded table, encoded
                                 (worker.store.datasets)
  <root>/trash/                  models being deleted (renamed here first, then removed)

Every write lands in a temporary sibling and is renamed into place, so a reader sees a whole
model or none; ids are checked (uuid4 hex) before they become part of a path.

This is the store's one interface (save, load, list, delete, download, checkpoint, resume); the
API and the workers never touch the layout beneath it. `worker.store.s3_artifacts.S3ArtifactStore`
implements the same methods on S3-compatible object storage and uses a directory like this one
as each host's local copy; `worker.store.stores.open_artifact_store(settings)` picks the backend
from MLPQ_ARTIFACT_URL.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from engine import serialization
from engine.network import Network
from engine.serialization import ModelFileError
from engine.tables import KIND as TABLE
from engine.tables import TablePreprocessing
from worker.store.datasets import FileDatasets
from worker.store.ids import is_valid_id, validate_id

RECORD_FIELDS = ("id", "job_id", "name", "dataset", "dataset_name", "dataset_sha256", "task",
                 "owner", "spec", "metrics", "evaluation", "stop_reason", "created_at")


READY, DAMAGED = "ready", "damaged"  # a model record's status: its files intact, or unreadable


def is_ready(record: dict) -> bool:
    """Whether the model's files are intact: only such a model is served or named `latest`."""
    return record.get("status") == READY


def select_models(records, *, owner: str | None = None, dataset: str | None = None) -> list[dict]:
    """The listing rule every store shares: the records (None: unreadable, skipped) of `owner`
    and of `dataset` when given, newest first."""
    chosen = [record for record in records if record is not None
              and (owner is None or record.get("owner") == owner)
              and (dataset is None or record.get("dataset") == dataset)]
    chosen.sort(key=lambda record: record.get("created_at") or "", reverse=True)
    return chosen


class ModelNotFound(LookupError):
    """No model has this id."""


class ArtifactStore(FileDatasets):
    """Models, checkpoints and uploaded datasets (worker.store.datasets) under one root directory."""

    is_local = True  # the files under `root` are the store itself, not a copy of it

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.models_root = self.root / "models"
        self.checkpoints_root = self.root / "checkpoints"
        self.trash_root = self.root / "trash"

    # --- models ----------------------------------------------------------------------------

    def model_dir(self, model_id: str) -> Path:
        """The directory of model `model_id`; ValueError for anything but a uuid4 hex id."""
        return self.models_root / validate_id(model_id, "model id")

    def save_model(self, model_id: str, net, *, metadata: dict, classes: list[str] | None = None,
                   preprocessing: dict | None = None) -> dict:
        """Write `net` with its record atomically; returns the record as `get_model` gives it.
        `classes` and `preprocessing` go into the manifest (engine.serialization.save; None:
        derived from a built-in `metadata["dataset"]`)."""
        self._save_local_model(model_id, net, metadata, classes=classes,
                               preprocessing=preprocessing)
        return self.get_model(model_id)

    def _save_local_model(self, model_id: str, net, metadata: dict, **manifest) -> None:
        target = self.model_dir(model_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {field: metadata.get(field) for field in RECORD_FIELDS}
        record["id"] = model_id
        serialization.save(net, target, metadata=record, **manifest)

    def get_model(self, model_id: str) -> dict | None:
        """The model's record (with `size_bytes` and `status`), or None if there is none."""
        if not is_valid_id(model_id):
            return None
        return self._read_record(self.models_root / model_id)

    def list_models(self, *, owner: str | None = None, dataset: str | None = None) -> list[dict]:
        """Every complete model, newest first, optionally of one owner and/or dataset."""
        if not self.models_root.is_dir():
            return []
        records = (self._read_record(directory) for directory in self.models_root.iterdir()
                   if is_valid_id(directory.name))  # not the temporary siblings of a save
        return select_models(records, owner=owner, dataset=dataset)

    def latest_model(self, *, owner: str | None = None, dataset: str | None = None,
                     where: Callable[[dict], bool] | None = None) -> dict | None:
        """What the alias `latest` names: the newest model whose files are intact (status
        READY), optionally of one owner and/or dataset and for which `where(record)` holds;
        None when there is none."""
        return next((model for model in self.list_models(owner=owner, dataset=dataset)
                     if is_ready(model) and (where is None or where(model))), None)

    def delete_model(self, model_id: str) -> bool:
        """Remove a model; True if it existed. The rename makes it vanish from listings at once."""
        return is_valid_id(model_id) and self.discard(self.models_root / model_id, "model")

    def load_network(self, model_id: str):
        """The trained engine.Network; ModelNotFound if absent, ModelFileError if damaged."""
        return Network.load(self.local_model_dir(model_id))

    def local_model_dir(self, model_id: str) -> Path:
        """A local directory holding the model's manifest.json and weights.npz, for readers
        that need files (the engine, downloads); ModelNotFound if there is no such model.
        Remote stores download (and verify) the model here first."""
        directory = self.model_dir(model_id)
        if not directory.is_dir():
            raise ModelNotFound(model_id)
        return directory

    def model_file(self, model_id: str, name: str) -> Path:
        """One file of a model (`manifest.json` or `weights.npz`) as a local path."""
        if name not in serialization.MODEL_FILES.values():
            raise ValueError(f"a model has no file {name!r}")
        return self.local_model_dir(model_id) / name

    def model_stamp(self, model_id: str) -> tuple:
        """Changes whenever the model is replaced; ModelNotFound if it is gone. (The API's
        model cache stats the two files itself, which is the same test made cheaper.)"""
        directory = self.model_dir(model_id)
        try:
            return tuple((stat.st_ino, stat.st_size, stat.st_mtime_ns) for stat in
                         (os.stat(directory / name)
                          for name in serialization.MODEL_FILES.values()))
        except FileNotFoundError:
            raise ModelNotFound(model_id) from None

    def models_version(self):
        """Changes whenever a model is saved, replaced or deleted (here: the models
        directory's mtime, as entries are renamed in and out), so a cached listing can be
        reused while it stays the same; None when there are no models yet."""
        try:
            return os.stat(self.models_root).st_mtime_ns
        except FileNotFoundError:
            return None

    def describe(self) -> str:
        """Where the store is, for logs and /readyz."""
        return str(self.root)

    def check(self) -> tuple[bool, str]:
        """(usable, why) for /readyz: the root can be read and written (or made later)."""
        existing = next((path for path in (self.root, *self.root.parents) if path.exists()), None)
        if existing is None or not os.access(existing, os.R_OK | os.W_OK | os.X_OK):
            return False, f"the model directory {self.root} cannot be read and written"
        return True, f"models in {self.root}"

    def _read_record(self, directory: Path) -> dict | None:
        try:
            manifest = json.loads((directory / serialization.MANIFEST).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            manifest = None
        record = record_from_manifest(directory.name, manifest)
        record["size_bytes"] = _size(directory)
        return record

    # --- checkpoints -------------------------------------------------------------------------

    def checkpoint_dir(self, job_id: str) -> Path:
        return self.checkpoints_root / validate_id(job_id, "job id")

    def save_checkpoint(self, job_id: str, checkpoint: dict) -> None:
        target = self.checkpoint_dir(job_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        serialization.save_checkpoint(target, checkpoint)

    def load_checkpoint(self, job_id: str) -> dict | None:
        """The job's latest checkpoint, or None if it has none (or only a damaged one)."""
        target = self.checkpoint_dir(job_id)
        if not target.exists():
            return None
        try:
            return serialization.load_checkpoint(target)
        except ModelFileError:
            return None  # a half-written checkpoint cannot resume anything: start over

    def load_checkpoint_network(self, job_id: str):
        """(network, epoch): the job's latest checkpoint as a Network ready to predict, and the
        epoch after which it was taken; None when the job has no checkpoint yet. This is how a
        job that is still training answers predictions."""
        checkpoint = self.load_checkpoint(job_id)
        if checkpoint is None:
            return None
        net = Network.from_spec(checkpoint["spec"], input_size=checkpoint["input_size"])
        net.params = checkpoint["params"]
        net.history = list(checkpoint["history"])
        return net, int(checkpoint["epoch"])

    def delete_checkpoint(self, job_id: str) -> None:
        self.discard(self.checkpoint_dir(job_id), "checkpoint")

    def discard(self, directory: Path, kind: str) -> bool:
        """Remove a stored directory; True if it existed. It is renamed into the trash first,
        so readers see it whole or not at all, then removed at leisure."""
        self.trash_root.mkdir(parents=True, exist_ok=True)
        doomed = self.trash_root / f"{kind}-{directory.name}-{uuid.uuid4().hex}"
        try:
            directory.rename(doomed)
        except FileNotFoundError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True

def record_from_manifest(model_id: str, manifest: dict | None) -> dict:
    """The model record kept in a manifest's `metadata`, with `id` and `status`; a manifest
    that could not be read (None) still names a model the user may want to see and delete."""
    if not isinstance(manifest, dict):
        return {"id": model_id, "status": DAMAGED}
    record = dict(manifest.get("metadata") or {})
    record["id"] = model_id
    record.setdefault("created_at", manifest.get("created_at"))
    record["status"] = READY
    preprocessing = manifest.get("preprocessing")
    if isinstance(preprocessing, dict) and preprocessing.get("kind") == TABLE:
        # A table model's columns, classes and target: what its card and `input` show. An
        # ill-formed one is left out here; loading the model reports it (model_corrupt).
        try:
            record["preprocessing"] = TablePreprocessing.from_dict(preprocessing).to_dict()
        except ValueError:
            pass
    return record


def _size(directory: Path) -> int:
    try:
        return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())
    except FileNotFoundError:
        return 0  # deleted while we looked
