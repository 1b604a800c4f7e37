"""Uploaded datasets in the artifact store: a JSON record beside its encoded arrays (.npz, no pickle).

  <root>/datasets/<dataset_id>/dataset.json   {"format_version", "arrays_sha256", "arrays":
                                               {name: [shape, dtype]}, "record": {...}}
  <root>/datasets/<dataset_id>/arrays.npz     X_train, y_train, X_test, y_test, already encoded

The record (api/datasets builds it) holds the table `preprocessing` a model trained on the
dataset carries. Both halves are written together atomically (engine.storage.write_directory;
on S3 the arrays object goes up first and the JSON naming its SHA-256 last), and every load
checks that hash and each array's name, shape, dtype and finiteness. `FileDatasets` gives
ArtifactStore these methods; `S3Datasets` gives them to S3ArtifactStore.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from engine.storage import write_directory
from worker.store.ids import is_valid_id, validate_id

DATASET_JSON, DATASET_ARRAYS = "dataset.json", "arrays.npz"
HASH_FIELD = "arrays_sha256"
ARRAY_NAMES = ("X_train", "y_train", "X_test", "y_test")
FORMAT_VERSION = 1
LABEL_DTYPES = {"classification": np.dtype(np.int64), "regression": np.dtype(np.float32)}


class DatasetNotFound(LookupError):
    """No dataset has this id."""


class DatasetFileError(ValueError):
    """A stored dataset is truncated, tampered with or inconsistent."""


def bundle(record: dict, arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The two files of a dataset: {DATASET_JSON: ..., DATASET_ARRAYS: ...}."""
    if set(arrays) != set(ARRAY_NAMES):
        raise ValueError(f"a dataset's arrays are {', '.join(ARRAY_NAMES)}, got {sorted(arrays)}")
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.ascontiguousarray(arrays[name]) for name in ARRAY_NAMES})
    blob = buffer.getvalue()
    document = {"format_version": FORMAT_VERSION, HASH_FIELD: hashlib.sha256(blob).hexdigest(),
                "arrays": {name: [list(arrays[name].shape), str(arrays[name].dtype)]
                           for name in ARRAY_NAMES},
                "record": record}
    text = json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False)
    return {DATASET_JSON: text.encode() + b"\n", DATASET_ARRAYS: blob}


def parse_document(data: bytes, where: str) -> dict:
    """dataset.json's content, checked for the fields a load relies on."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise DatasetFileError(f"{where} is not readable JSON ({error})") from None
    if (not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION
            or not isinstance(document.get("record"), dict)
            or not isinstance(document.get("arrays"), dict)
            or not isinstance(document.get(HASH_FIELD), str)):
        raise DatasetFileError(f"{where} is not a dataset of format version {FORMAT_VERSION}")
    return document


def record_of(dataset_id: str, data: bytes | None) -> dict | None:
    """The dataset's record with its `id`; None when the JSON is absent or unreadable."""
    if data is None:
        return None
    try:
        record = dict(parse_document(data, dataset_id)["record"])
    except DatasetFileError:
        return None
    record["id"] = dataset_id
    return record


def read_arrays(directory: Path) -> dict[str, np.ndarray]:
    """The verified arrays of the dataset directory: SHA-256, names, shapes, dtypes, finiteness."""
    document = parse_document((directory / DATASET_JSON).read_bytes(), str(directory / DATASET_JSON))
    file = directory / DATASET_ARRAYS
    blob = file.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != document[HASH_FIELD]:
        raise DatasetFileError(f"{file}: SHA-256 {actual} does not match the recorded "
                               f"{document[HASH_FIELD]}: the file is truncated, corrupt or altered")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise DatasetFileError(f"{file}: not a readable .npz archive ({error})") from None
    _check_arrays(arrays, document, str(file))
    return arrays


def _check_arrays(arrays: dict, document: dict, where: str) -> None:
    if set(arrays) != set(ARRAY_NAMES) or set(document["arrays"]) != set(ARRAY_NAMES):
        raise DatasetFileError(f"{where}: holds arrays {sorted(arrays)}, expected {list(ARRAY_NAMES)}")
    label_dtype = LABEL_DTYPES.get(document["record"].get("task"))
    width = arrays["X_train"].shape[1:] if arrays["X_train"].ndim == 2 else None
    for name, array in arrays.items():
        shape, dtype = document["arrays"][name]
        wanted = np.dtype(np.float32) if name.startswith("X") else label_dtype
        if list(array.shape) != shape or str(array.dtype) != dtype or array.dtype != wanted:
            raise DatasetFileError(f"{where}: array {name} is {array.dtype}{list(array.shape)}, "
                                   f"recorded {dtype}{shape}, expected dtype {wanted}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DatasetFileError(f"{where}: array {name} holds NaN or infinite values")
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim != 2 or X.shape[1:] != width or y.shape != (len(X),):
            raise DatasetFileError(f"{where}: X_{split} {list(X.shape)} and y_{split} "
                                   f"{list(y.shape)} do not fit together")


def select_datasets(records, owner: str | None = None) -> list[dict]:
    """The records (None: unreadable, skipped) of `owner` when given, newest first."""
    chosen = [record for record in records if record is not None
              and (owner is None or record.get("owner") == owner)]
    chosen.sort(key=lambda record: record.get("created_at") or "", reverse=True)
    return chosen


class FileDatasets:
    """Dataset methods of the file ArtifactStore (which provides `root` and `trash_root`)."""

    @property
    def datasets_root(self) -> Path:
        return self.root / "datasets"

    def dataset_dir(self, dataset_id: str) -> Path:
        """The directory of dataset `dataset_id`; ValueError for anything but a uuid4 hex id."""
        return self.datasets_root / validate_id(dataset_id, "dataset id")

    def save_dataset(self, dataset_id: str, record: dict, arrays: dict[str, np.ndarray]) -> dict:
        """Write the record and arrays atomically (replacing any dataset of that id); returns
        the record as `get_dataset` gives it."""
        write_directory(self.dataset_dir(dataset_id), bundle(record, arrays))
        return self.get_dataset(dataset_id)

    def get_dataset(self, dataset_id: str) -> dict | None:
        """The dataset's record, or None if there is none (or it is unreadable)."""
        if not is_valid_id(dataset_id):
            return None
        return record_of(dataset_id, _read_or_none(self.datasets_root / dataset_id / DATASET_JSON))

    def list_datasets(self, owner: str | None = None) -> list[dict]:
        """Every stored dataset's record, optionally of one owner, newest first."""
        if not self.datasets_root.is_dir():
            return []
        records = (self.get_dataset(directory.name) for directory in self.datasets_root.iterdir()
                   if is_valid_id(directory.name))  # not the temporary siblings of a save
        return select_datasets(records, owner)

    def delete_dataset(self, dataset_id: str) -> bool:
        """Remove a dataset; True if it existed. The rename hides it from listings at once."""
        return is_valid_id(dataset_id) and self.discard(self.datasets_root / dataset_id, "dataset")

    def local_dataset_dir(self, dataset_id: str) -> Path:
        """A local directory holding the dataset's two files; DatasetNotFound if there is none."""
        directory = self.dataset_dir(dataset_id)
        if not (directory / DATASET_JSON).is_file():
            raise DatasetNotFound(dataset_id)
        return directory

    def load_dataset_arrays(self, dataset_id: str) -> dict[str, np.ndarray]:
        """{X_train, y_train, X_test, y_test}, verified; DatasetNotFound if absent,
        DatasetFileError if damaged."""
        directory = self.local_dataset_dir(dataset_id)
        try:
            return read_arrays(directory)
        except FileNotFoundError:
            raise DatasetNotFound(dataset_id) from None  # deleted while we read


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


class S3Datasets:
    """Dataset methods of S3ArtifactStore: the bucket is the store, `root` this host's copy."""

    def save_dataset(self, dataset_id: str, record: dict, arrays: dict[str, np.ndarray]) -> dict:
        FileDatasets.save_dataset(self, dataset_id, record, arrays)  # the local copy
        self._publish("datasets", dataset_id, self.dataset_dir(dataset_id))
        return self.get_dataset(dataset_id)

    def get_dataset(self, dataset_id: str) -> dict | None:
        if not is_valid_id(dataset_id):
            return None
        reply = self._get(self._key("datasets", dataset_id, DATASET_JSON))
        return record_of(dataset_id, None if reply is None else reply[0])

    def list_datasets(self, owner: str | None = None) -> list[dict]:
        ids = []
        for item in self._list(self.prefix + "datasets/"):
            dataset_id, _, name = item["Key"][len(self.prefix) + len("datasets/"):].partition("/")
            if name == DATASET_JSON and is_valid_id(dataset_id):
                ids.append(dataset_id)
        return select_datasets((self.get_dataset(dataset_id) for dataset_id in ids), owner)

    def delete_dataset(self, dataset_id: str) -> bool:
        if not is_valid_id(dataset_id):
            return False
        existed = self._head(self._key("datasets", dataset_id, DATASET_JSON)) is not None
        # The JSON first: from that moment the dataset is gone for every reader.
        self.client.delete_object(Bucket=self.bucket,
                                  Key=self._key("datasets", dataset_id, DATASET_JSON))
        self._delete_prefix(self._key("datasets", dataset_id, ""))
        FileDatasets.delete_dataset(self, dataset_id)  # the local copy
        return existed

    def local_dataset_dir(self, dataset_id: str) -> Path:
        """This host's copy, downloaded (and its hash checked on load) if missing or outdated."""
        try:
            return self._fetch("datasets", validate_id(dataset_id, "dataset id"),
                               self.dataset_dir(dataset_id))
        except LookupError:  # the bundle fetch's ModelNotFound: no such JSON in the bucket
            raise DatasetNotFound(dataset_id) from None
