"""Service settings read once from the environment, validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from engine.spec import Limits


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError("must be an integer >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError("must be a finite number > 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise ValueError("must be a finite number >= 0")
    return value


def _flops(text: str) -> int:
    """A FLOP count, as an integer or in scientific notation (1e14)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1 <= value < float("inf"):
        raise ValueError("must be a number of FLOPs >= 1, e.g. 1e14")
    return int(value)


DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def _redis_url(text: str) -> str:
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return text


ARTIFACT_URL_SCHEMES = ("file", "s3")


def _artifact_url(text: str) -> str:
    """Settings parser: '' (use MLPQ_ARTIFACT_DIR), file:///absolute/path or s3://bucket[/prefix]."""
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ARTIFACT_URL_SCHEMES:
        raise ValueError("must be file:///path or s3://bucket/prefix")
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path):
        raise ValueError("a file URL is file:///absolute/path")
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError("an s3 URL names its bucket: s3://bucket/prefix")
    return text


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


# (attribute, environment variable, parser, meaning) — the README table is this list; each
# default is the Settings field's below (unset or empty variable: the default).
SETTINGS: list[tuple[str, str, Callable[[str], object], str]] = [
    ("redis_url", "REDIS_URL", _redis_url,
     "Redis: Celery broker and job store"),
    ("artifact_dir", "MLPQ_ARTIFACT_DIR", Path,
     "root of saved models and checkpoints (a volume shared by API and workers); with an s3 "
     "MLPQ_ARTIFACT_URL, this host's local copies of them"),
    ("artifact_url", "MLPQ_ARTIFACT_URL", _artifact_url,
     "where models and checkpoints are stored: file:///path or s3://bucket/prefix "
     "(empty: MLPQ_ARTIFACT_DIR)"),
    ("data_dir", "MLPQ_DATA_DIR", _optional_path,
     "directory holding mnist/ and fashion-mnist/ IDX files (empty: the engine's default)"),
    ("max_layers", "MLPQ_MAX_LAYERS", _positive_int, "most layers a submitted model may have"),
    ("max_units", "MLPQ_MAX_UNITS", _positive_int, "most units in one layer"),
    # The real cap on training length is the work (see engine.spec.Limits for the figure);
    # the epoch cap only stops absurd values.
    ("max_job_flops", "MLPQ_MAX_JOB_FLOPS", _flops,
     "most training work one job may ask for: epochs x training samples x FLOPs per sample"),
    ("max_epochs", "MLPQ_MAX_EPOCHS", _positive_int,
     "sanity cap on epochs (the work cap is the real limit)"),
    ("max_parameters", "MLPQ_MAX_PARAMETERS", _positive_int,
     "most trainable parameters (weights + biases) in one model"),
    ("max_batch_size", "MLPQ_MAX_BATCH_SIZE", _positive_int, "largest mini-batch"),
    ("lease_seconds", "MLPQ_LEASE_SECONDS", _positive_float,
     "a training job's lease; renewed every third of it; a worker silent this long loses the job"),
    ("sweep_seconds", "MLPQ_SWEEP_SECONDS", _positive_float,
     "how often each worker requeues `running` jobs whose lease expired (their worker died)"),
    ("visibility_timeout", "MLPQ_VISIBILITY_TIMEOUT", _positive_float,
     "seconds before Redis hands an unacknowledged Celery message to another worker"),
    ("unacked_restore_interval", "MLPQ_UNACKED_RESTORE_INTERVAL", _positive_float,
     "how often a worker looks for unacknowledged messages older than the visibility timeout"),
    # 1 process x 1 BLAS thread by default: bench/worker_threads.py found extra BLAS threads
    # 10x slower on a busy 2-core host (784x128 products are too small to split, and spinning
    # threads fight for cores); scale with more worker processes or containers instead.
    ("blas_threads", "MLPQ_BLAS_THREADS", _positive_int,
     "BLAS threads per worker process (threadpoolctl)"),
    ("worker_concurrency", "MLPQ_WORKER_CONCURRENCY", _positive_int,
     "training processes per `celery -A worker worker` (prefork pool size)"),
    ("progress_interval", "MLPQ_PROGRESS_INTERVAL", _positive_float,
     "seconds between progress writes to Redis while a job trains"),
    ("checkpoint_seconds", "MLPQ_CHECKPOINT_SECONDS", _non_negative_float,
     "a checkpoint is written after an epoch once this long has passed since the last one "
     "(0: after every epoch); a crashed job resumes from it"),
    ("job_stall_seconds", "MLPQ_JOB_STALL_SECONDS", _non_negative_float,
     "a training job with no finished batch for this long (while its worker still heartbeats) "
     "fails with error type `stalled` and its training process is replaced (0: never)"),
    ("graceful_timeout", "MLPQ_GRACEFUL_TIMEOUT", _positive_float,
     "on SIGTERM a worker hands its job back at the next batch boundary; after this many "
     "seconds it stops the training process anyway (the job resumes from its checkpoint)"),
]


@dataclass(frozen=True)
class Settings:
    """Everything the worker (and the API, for limits and stores) reads from the environment."""

    redis_url: str = DEFAULT_REDIS_URL
    artifact_dir: Path = Path("./var/artifacts")
    artifact_url: str = ""
    data_dir: Path | None = None
    max_layers: int = Limits.max_layers  # the limits' defaults are engine.spec.Limits's
    max_units: int = Limits.max_units
    max_job_flops: int = Limits.max_job_flops
    max_epochs: int = Limits.max_epochs
    max_parameters: int = Limits.max_parameters
    max_batch_size: int = Limits.max_batch_size
    lease_seconds: float = 30.0
    sweep_seconds: float = 10.0
    visibility_timeout: float = 300.0
    unacked_restore_interval: float = 10.0
    blas_threads: int = 1
    worker_concurrency: int = 1
    progress_interval: float = 0.25
    checkpoint_seconds: float = 1.0
    job_stall_seconds: float = 600.0
    graceful_timeout: float = 15.0
    limits: Limits = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "limits", Limits(
            **{limit.name: getattr(self, limit.name) for limit in fields(Limits)}))
        # A live job's duplicate message waits `lease_seconds` between lease checks; Redis must
        # not hand that waiting message out again meanwhile.
        if self.visibility_timeout <= 2 * self.lease_seconds:
            raise SettingsError(
                f"MLPQ_VISIBILITY_TIMEOUT ({self.visibility_timeout:g}) must be more than twice "
                f"MLPQ_LEASE_SECONDS ({self.lease_seconds:g})")

    @property
    def lease_renewal_seconds(self) -> float:
        """How often a training worker renews its lease: a third of its life, so two renewals
        in a row can fail (a Redis blip, a stalled thread) before the lease lapses."""
        return self.lease_seconds / 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; raise SettingsError naming each bad variable and its rule."""
        environ = os.environ if environ is None else environ
        values, problems = {}, []
        for attribute, variable, parse, _meaning in SETTINGS:
            text = environ.get(variable, "").strip()
            if not text:
                continue  # the field's default
            try:
                values[attribute] = parse(text)
            except ValueError as error:
                problems.append(f"{variable}={text!r}: {error}")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)
