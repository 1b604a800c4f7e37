"""open_artifact_store: the artifact store MLPQ_ARTIFACT_URL names (file:// or s3://)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from worker.store.artifacts import ArtifactStore
from worker.store.s3_artifacts import S3ArtifactStore


def open_artifact_store(settings) -> ArtifactStore:
    """A file store at the file URL (or MLPQ_ARTIFACT_DIR), or an S3 store whose local copies
    live in MLPQ_ARTIFACT_DIR."""
    url = settings.artifact_url
    if not url:
        return ArtifactStore(settings.artifact_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return ArtifactStore(Path(unquote(parts.path)))
    return S3ArtifactStore(url, settings.artifact_dir)
