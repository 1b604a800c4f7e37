"""ArtifactStore: trained models and training checkpoints on disk (a volume shared by API and workers).

  <root>/models/<model_id>/      manifest.json + weights.npz (engine.serialization); the model
                                 record lives in the manifest's `metadata`, so models survive
                                 a Redis flush
  <root>/checkpoints/<job_id>/   the latest end-of-epoch checkpoint of a job still training
  <root>/trash/                  models being deleted (renamed here first, then removed)

Every write lands in a temporary sibling and is renamed into place, so a reader sees a whole
model or none; ids are checked (uuid4 hex) before they become part of a path.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from engine import serialization
from engine.serialization import ModelFileError
from worker.ids import is_valid_id, validate_id

RECORD_FIELDS = ("id", "job_id", "name", "dataset", "owner", "spec", "metrics", "evaluation",
                 "created_at")


class ModelNotFound(LookupError):
    """No model has this id."""


class ArtifactStore:
    """Models and checkpoints under one root directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.models_root = self.root / "models"
        self.checkpoints_root = self.root / "checkpoints"
        self.trash_root = self.root / "trash"

    # --- models ----------------------------------------------------------------------------

    def model_dir(self, model_id: str) -> Path:
        """The directory of model `model_id`; ValueError for anything but a uuid4 hex id."""
        return self.models_root / validate_id(model_id, "model id")

    def save_model(self, model_id: str, net, *, metadata: dict) -> dict:
        """Write `net` with its record atomically; returns the record as `get_model` gives it."""
        target = self.model_dir(model_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {field: metadata.get(field) for field in RECORD_FIELDS}
        record["id"] = model_id
        serialization.save(net, target, metadata=record)
        return self.get_model(model_id)

    def get_model(self, model_id: str) -> dict | None:
        """The model's record (with `size_bytes` and `status`), or None if there is none."""
        if not is_valid_id(model_id):
            return None
        return self._read_record(self.models_root / model_id)

    def list_models(self, *, owner: str | None = None, dataset: str | None = None) -> list[dict]:
        """Every complete model, newest first, optionally of one owner and/or dataset."""
        if not self.models_root.is_dir():
            return []
        records = []
        for directory in self.models_root.iterdir():
            if not is_valid_id(directory.name):
                continue  # temporary siblings of a save in progress
            record = self._read_record(directory)
            if record is None:
                continue
            if owner is not None and record.get("owner") != owner:
                continue
            if dataset is not None and record.get("dataset") != dataset:
                continue
            records.append(record)
        records.sort(key=lambda record: record.get("created_at") or "", reverse=True)
        return records

    def delete_model(self, model_id: str) -> bool:
        """Remove a model; True if it existed. The rename makes it vanish from listings at once."""
        if not is_valid_id(model_id):
            return False
        self.trash_root.mkdir(parents=True, exist_ok=True)
        doomed = self.trash_root / f"{model_id}-{uuid.uuid4().hex}"
        try:
            (self.models_root / model_id).rename(doomed)
        except FileNotFoundError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True

    def load_network(self, model_id: str):
        """The trained engine.Network; ModelNotFound if absent, ModelFileError if damaged."""
        directory = self.model_dir(model_id)
        if not directory.is_dir():
            raise ModelNotFound(model_id)
        return serialization.load(directory)

    def _read_record(self, directory: Path) -> dict | None:
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A damaged manifest still names a model the user may want to see and delete.
            return {"id": directory.name, "status": "damaged", "size_bytes": _size(directory)}
        record = dict(manifest.get("metadata") or {})
        record["id"] = directory.name
        record.setdefault("created_at", manifest.get("created_at"))
        record["size_bytes"] = _size(directory)
        record["status"] = "ready"
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

    def delete_checkpoint(self, job_id: str) -> None:
        target = self.checkpoint_dir(job_id)
        if target.exists():
            self.trash_root.mkdir(parents=True, exist_ok=True)
            doomed = self.trash_root / f"checkpoint-{job_id}-{uuid.uuid4().hex}"
            target.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def _size(directory: Path) -> int:
    try:
        return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())
    except FileNotFoundError:
        return 0  # deleted while we looked
