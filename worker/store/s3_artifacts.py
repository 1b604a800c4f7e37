"""S3ArtifactStore: the ArtifactStore on S3-compatible object storage, for hosts that share no disk.

  s3://<bucket>/<prefix>/models/<model_id>/manifest.json            the engine's manifest
  s3://<bucket>/<prefix>/models/<model_id>/weights-<sha256>.npz     the weights it names
  s3://<bucket>/<prefix>/checkpoints/<job_id>/checkpoint.json       likewise for checkpoints
  s3://<bucket>/<prefix>/checkpoints/<job_id>/arrays-<sha256>.npz
  s3://<bucket>/<prefix>/datasets/<dataset_id>/dataset.json         likewise for uploaded datasets
  s3://<bucket>/<prefix>/datasets/<dataset_id>/arrays-<sha256>.npz  (worker.store.datasets)

A PUT of one object is atomic, so the data object goes up first, under its content hash, and
the small JSON that names that hash last: a model is visible exactly when it is complete, and a
replacement swaps both halves at once (the JSON names the new data object; the old one is
deleted afterwards). Every read verifies the SHA-256 the JSON records (engine.serialization).
Each host keeps downloaded copies under its own local directory (MLPQ_ARTIFACT_DIR), in the
file store's layout, which is what the engine reads and what downloads are served from.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from engine import serialization
from engine.network import Network
from engine.serialization import ModelFileError
from engine.storage import write_directory
from worker.store.artifacts import ArtifactStore, ModelNotFound, record_from_manifest, select_models
from worker.store.datasets import DATASET_ARRAYS, DATASET_JSON, HASH_FIELD, S3Datasets
from worker.store.ids import is_valid_id, validate_id

# (directory kind) -> (JSON file, data file, the JSON field holding the data file's SHA-256)
BUNDLES = {
    "models": (serialization.MANIFEST, serialization.WEIGHTS, "weights_sha256"),
    "checkpoints": (serialization.CHECKPOINT, serialization.CHECKPOINT_ARRAYS, "arrays_sha256"),
    "datasets": (DATASET_JSON, DATASET_ARRAYS, HASH_FIELD),
}
SOURCE_TAG = ".source-etag"  # in a local copy: the ETag of the JSON it was downloaded from
# What boto3 raises when the object store is unreachable, refuses us, or keeps failing after
# its retries: the API answers 503, a training job fails with error type storage_unavailable.
STORAGE_ERRORS = (BotoCoreError, ClientError, Boto3Error)
# A model's remote identity is re-read at most this often per process: a prediction does not pay
# for a request to the object store, and a deletion or replacement is noticed within this time.
STAMP_SECONDS = 1.0


class S3ArtifactStore(S3Datasets, ArtifactStore):
    """Models and checkpoints in s3://bucket/prefix; `root` is this host's local copy of them."""

    is_local = False

    def __init__(self, url: str, root: str | Path, *, client=None):
        """`client`: a boto3 S3 client to share (by default each process makes its own)."""
        super().__init__(root)
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        self.url, self.bucket = url, parts.netloc
        self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        self._client, self._client_pid = client, (os.getpid() if client else None)
        self._lock = threading.Lock()
        self._manifests: dict[str, tuple[str, dict]] = {}  # key -> (etag, parsed manifest)
        self._stamps: dict[str, tuple[float, str | None]] = {}  # model id -> (checked at, etag)

    @property
    def client(self):
        """A boto3 S3 client for this process (clients must not cross a fork)."""
        if self._client is None or self._client_pid != os.getpid():
            self._client, self._client_pid = make_client(), os.getpid()
        return self._client

    def describe(self) -> str:
        return self.url

    def check(self) -> tuple[bool, str]:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except STORAGE_ERRORS as error:
            return False, f"the object store does not serve bucket {self.bucket}: {error}"
        return True, f"models in {self.url}"

    # --- models ----------------------------------------------------------------------------

    def save_model(self, model_id: str, net, *, metadata: dict, classes: list[str] | None = None,
                   preprocessing: dict | None = None) -> dict:
        self._save_local_model(model_id, net, metadata, classes=classes,  # the local copy,
                               preprocessing=preprocessing)  # written atomically
        self._publish("models", model_id, self.model_dir(model_id))
        self._stamps.pop(model_id, None)
        return self.get_model(model_id)

    def get_model(self, model_id: str) -> dict | None:
        if not is_valid_id(model_id):
            return None
        key = self._key("models", model_id, serialization.MANIFEST)
        head = self._head(key)
        if head is None:
            return None
        return self._record(model_id, key, head["ETag"], head["ContentLength"])

    def list_models(self, *, owner: str | None = None, dataset: str | None = None) -> list[dict]:
        sizes: dict[str, int] = {}
        manifests: dict[str, tuple[str, str]] = {}  # model id -> (key, etag)
        for item in self._list(self.prefix + "models/"):
            model_id, _, name = item["Key"][len(self.prefix) + len("models/"):].partition("/")
            if not is_valid_id(model_id):
                continue
            sizes[model_id] = sizes.get(model_id, 0) + item["Size"]
            if name == serialization.MANIFEST:
                manifests[model_id] = (item["Key"], item["ETag"])
        records = []
        for model_id, (key, etag) in manifests.items():
            record = self._record(model_id, key, etag, 0)
            if record is not None:
                record["size_bytes"] = sizes[model_id]
            records.append(record)
        return select_models(records, owner=owner, dataset=dataset)

    def delete_model(self, model_id: str) -> bool:
        if not is_valid_id(model_id):
            return False
        manifest = self._key("models", model_id, serialization.MANIFEST)
        existed = self.get_model(model_id) is not None
        # The JSON first: from that moment the model is gone for every reader.
        self.client.delete_object(Bucket=self.bucket, Key=manifest)
        self._delete_prefix(self._key("models", model_id, ""))
        self._stamps.pop(model_id, None)
        super().delete_model(model_id)  # the local copy
        return existed

    def load_network(self, model_id: str):
        return Network.load(self.local_model_dir(model_id))

    def local_model_dir(self, model_id: str) -> Path:
        """This host's copy of the model, downloaded (and verified) if missing or outdated."""
        return self._fetch("models", validate_id(model_id, "model id"), self.model_dir(model_id))

    def model_stamp(self, model_id: str) -> tuple:
        """The model's identity (its manifest's ETag), re-read at most every STAMP_SECONDS;
        ModelNotFound when it has no manifest."""
        now = time.monotonic()
        cached = self._stamps.get(model_id)
        if cached is None or now - cached[0] >= STAMP_SECONDS:
            head = self._head(self._key("models", validate_id(model_id, "model id"),
                                        serialization.MANIFEST))
            etag = None if head is None else head["ETag"]
            cached = self._stamps[model_id] = (now, etag)
            if len(self._stamps) > 4096:
                self._stamps.clear()
        if cached[1] is None:
            ArtifactStore.delete_model(self, model_id)  # deleted elsewhere: drop our copy too
            raise ModelNotFound(model_id)
        return ("s3", cached[1])

    def models_version(self):
        """Listings change on other hosts unseen: a "latest" answer is reused for a second."""
        return int(time.monotonic() / STAMP_SECONDS)

    # --- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, job_id: str, checkpoint: dict) -> None:
        super().save_checkpoint(job_id, checkpoint)
        self._publish("checkpoints", job_id, self.checkpoint_dir(job_id))

    def load_checkpoint(self, job_id: str) -> dict | None:
        try:
            local = self._fetch("checkpoints", validate_id(job_id, "job id"),
                                self.checkpoint_dir(job_id))
            return serialization.load_checkpoint(local)
        except (ModelNotFound, ModelFileError):
            return None  # none yet, or a damaged one: start over

    def delete_checkpoint(self, job_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket,
                                  Key=self._key("checkpoints", job_id, serialization.CHECKPOINT))
        self._delete_prefix(self._key("checkpoints", job_id, ""))
        super().delete_checkpoint(job_id)

    # --- objects -------------------------------------------------------------------------------

    def _key(self, kind: str, item_id: str, name: str) -> str:
        return f"{self.prefix}{kind}/{item_id}/{name}"

    def _head(self, key: str) -> dict | None:
        """HEAD of an object, or None if there is no such object (other errors raise)."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(content, ETag) of an object, or None if there is no such object."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return reply["Body"].read(), reply["ETag"]

    def _publish(self, kind: str, item_id: str, directory: Path) -> None:
        """Upload a local bundle: data object under its hash first, then the JSON naming it."""
        json_name, data_name, hash_field = BUNDLES[kind]
        document = (directory / json_name).read_bytes()
        digest = json.loads(document)[hash_field]
        data_key = self._key(kind, item_id, _data_name(data_name, digest))
        self.client.upload_file(str(directory / data_name), self.bucket, data_key)
        self.client.put_object(Bucket=self.bucket, Key=self._key(kind, item_id, json_name),
                               Body=document, ContentType="application/json")
        # Data objects of earlier versions (a replaced model, older checkpoints) go last.
        for item in self._list(self._key(kind, item_id, "")):
            name = item["Key"].rsplit("/", 1)[-1]
            if name not in (json_name, _data_name(data_name, digest)):
                self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def _fetch(self, kind: str, item_id: str, directory: Path) -> Path:
        """The local copy of a bundle, refreshed when the remote JSON changed; ModelNotFound if
        there is none. A bundle replaced between our two reads is read again."""
        json_name, data_name, hash_field = BUNDLES[kind]
        json_key = self._key(kind, item_id, json_name)
        for _attempt in range(3):
            head = self._head(json_key)
            if head is None:
                raise ModelNotFound(item_id)
            tag = directory / SOURCE_TAG
            if tag.is_file() and tag.read_text() == head["ETag"]:
                return directory
            document = self._get(json_key)
            if document is None:
                continue  # deleted meanwhile: look again
            document, etag = document
            digest = _field(document, hash_field, json_key)
            data = self._get(self._key(kind, item_id, _data_name(data_name, digest)))
            if data is None:
                continue  # replaced meanwhile: its JSON names another data object now
            blob = data[0]
            write_directory(directory, {json_name: document, data_name: blob,
                                        SOURCE_TAG: etag.encode()})
            return directory
        raise ModelNotFound(item_id)

    def _record(self, model_id: str, key: str, etag: str, size: int) -> dict | None:
        """The model record from its manifest, parsed once per ETag."""
        cached = self._manifests.get(key)
        if cached is None or cached[0] != etag:
            reply = self._get(key)
            if reply is None:
                return None
            body, etag = reply
            try:
                manifest = json.loads(body)
            except ValueError:
                manifest = None
            cached = self._manifests[key] = (etag, manifest)
        record = record_from_manifest(model_id, cached[1])
        record.setdefault("size_bytes", size)
        return record

    def _list(self, prefix: str):
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _delete_prefix(self, prefix: str) -> None:
        keys = [{"Key": item["Key"]} for item in self._list(prefix)]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket,
                                       Delete={"Objects": keys[start:start + 1000], "Quiet": True})


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _data_name(name: str, digest: str) -> str:
    stem, _, suffix = name.rpartition(".")
    return f"{stem}-{digest}.{suffix}"


def _field(document: bytes, field: str, where: str) -> str:
    try:
        value = json.loads(document)[field]
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(f"{where}: {field} is missing") from None
    if not isinstance(value, str) or not value.isalnum():
        raise ModelFileError(f"{where}: {field} is not a hash")
    return value


def make_client():
    """boto3's S3 client, configured the usual way: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL(_S3) for MinIO, Ceph,
    moto and other S3-compatible servers (which then get path-style addressing), AWS_PROFILE."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
                    read_timeout=60, s3={"addressing_style": "path" if endpoint else "auto"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config)

