"""Every setting, declared once: its variable, kind of value, default, readers and meaning.

Each process reads its settings through this registry (worker.store.environment), so a bad
value stops any of them at start with the same one-line `SettingsError`; README's settings
table is generated from it. The engine is a library that imports nothing of ours, so
engine.datasets reads its two variables itself; they are declared here all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from worker.store.setting_types import (
    ArtifactUrl,
    Choice,
    Flops,
    Integer,
    Number,
    RedisUrl,
    Setting,
    Text,
)

PROCESSES = ("api", "worker", "gunicorn", "serve", "client")
READERS = {  # the code that reads a setting -> the processes that run it
    "stores": ("api", "worker"),  # worker.store.config.Settings: stores, limits, queue, training
    "app": ("api",),  # the API app's Flask config: the key is the name without MLPQ_
    "metrics": ("api",),  # api.core.metrics (prometheus-client reads it too)
    "logs": ("api", "worker", "gunicorn"),  # worker.store.logs
    "gunicorn": ("gunicorn",),  # api/gunicorn_conf.py, in gunicorn's master process
    "serve": ("serve",),  # `mlpq serve` and `mlpq redis`
    "client": ("client",),  # the `mlpq` command and mlpq.Client
    "engine": ("api", "worker", "client"),  # engine.datasets (wherever datasets are read)
}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
POSITIVE, COUNT = Integer(1), Integer(0)
SECONDS, SECONDS_OR_ZERO = Number(), Number(zero=True)


def _engine_cap(name: str):
    """A cap's default is the engine's own (engine.spec.Limits), looked up when first needed:
    the client reads no cap and need not import NumPy."""
    def default(_values):
        from engine.spec import Limits

        return getattr(Limits, name)
    return default


def _half_the_threads(values: Mapping[str, object]) -> int:
    return max(1, values["MLPQ_THREADS"] // 2)


SETTINGS: dict[str, Setting] = {setting.name: setting for setting in (
    Setting("REDIS_URL", RedisUrl(), "redis://localhost:6379/0", ("stores", "serve"),
            "Redis: Celery broker and job store. `mlpq serve` starts a local server on this port "
            "if nothing answers (localhost URLs only)"),
    Setting("MLPQ_ARTIFACT_DIR", Text(path=True), Path("./var/artifacts"), ("stores",),
            "root of saved models and checkpoints (a volume shared by the API and the workers) ; "
            "with an `s3://` `MLPQ_ARTIFACT_URL`, this host's own local copies of them (not "
            "shared)", "`./var/artifacts` (`mlpq serve`: `MLPQ_HOME/artifacts`)"),
    Setting("MLPQ_ARTIFACT_URL", ArtifactUrl(), "", ("stores",),
            "where models and checkpoints are stored: `file:///absolute/path` or "
            "`s3://bucket/prefix` (S3 or any S3-compatible server; boto3 reads the usual "
            "`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for "
            "MinIO/Ceph/…); see [Several machines](#several-machines)",
            "empty (`MLPQ_ARTIFACT_DIR`)"),
    Setting("MLPQ_DATA_DIR", Text(path=True), None, ("stores", "engine"),
            "directory holding `mnist/` and `fashion-mnist/` IDX `.gz` files (downloaded there "
            "when missing)", "`~/.cache/mlpq/datasets`"),
    Setting("MLPQ_DATASET_MIRRORS", Text(), "", ("engine",),
            "space-separated base URLs to download datasets from, laid out like a data directory",
            "the usual public MNIST mirrors"),
    Setting("MLPQ_HOME", Text(path=True), Path("var"), ("serve",),
            "`mlpq serve`'s state directory: the local Redis's append-only file in "
            "`MLPQ_HOME/redis`", "`./var`"),
    Setting("MLPQ_BIND", Text(), "0.0.0.0:8000", ("gunicorn", "serve"),
            "gunicorn's listen address; `mlpq serve --host/--port` override it",
            "`0.0.0.0:8000` (`mlpq serve`: `127.0.0.1:8000`)"),
    Setting("MLPQ_WORKERS", POSITIVE, 2, ("gunicorn",),
            "gunicorn worker processes of the API (`mlpq serve --api-workers`)"),
    Setting("MLPQ_THREADS", POSITIVE, 16, ("gunicorn", "app"),
            "threads per gunicorn worker (gthread)"),
    Setting("MLPQ_WORKER_CONNECTIONS", POSITIVE, 1000, ("gunicorn",),
            "most simultaneous connections per gunicorn worker"),
    Setting("MLPQ_TIMEOUT", COUNT, 30, ("gunicorn",),
            "gunicorn: seconds before a stuck worker is restarted"),
    Setting("MLPQ_GRACEFUL_TIMEOUT", SECONDS, 15.0, ("stores", "gunicorn"),
            "seconds a process gets to stop cleanly on SIGTERM: gunicorn workers finish their "
            "requests; a training worker hands its job back at the next batch boundary (latest "
            "checkpoint written, job `queued` again, resumed by another worker), and after this "
            "long stops its training process anyway"),
    Setting("MLPQ_KEEPALIVE", COUNT, 5, ("gunicorn",),
            "gunicorn: seconds an idle keep-alive connection is held"),
    Setting("MLPQ_MAX_REQUESTS", COUNT, 1_000_000, ("gunicorn",),
            "gunicorn: a worker is recycled after this many requests (±10% jitter; 0: never)"),
    Setting("MLPQ_ACCESS_LOG", Text(), "", ("gunicorn",),
            "where gunicorn writes its own access log (`-` for stdout); the app always logs one "
            "structured line per request", "empty (off)"),
    Setting("MLPQ_LOG_LEVEL", Choice(LOG_LEVELS), "info", ("logs", "gunicorn"),
            "log level of the API and the workers"),
    Setting("MLPQ_LOG_FORMAT", Choice(("json", "text")), "json", ("logs",),
            "`json`: one JSON object per line with `request_id` and `job_id`; `text`: readable "
            "lines", "`json` (`mlpq serve` on a terminal: `text`)"),
    Setting("MLPQ_MAX_CONTENT_LENGTH", POSITIVE, 8 * 1024 * 1024, ("app",),
            "largest request body in bytes; bigger bodies get 413"),
    Setting("MLPQ_SSE_MAX_SECONDS", SECONDS, 300.0, ("app",),
            "longest life of one event stream; clients reconnect with Last-Event-ID"),
    Setting("MLPQ_SSE_KEEPALIVE_SECONDS", SECONDS, 15.0, ("app",),
            "idle time after which a stream sends a keep-alive comment"),
    Setting("MLPQ_SSE_MAX_STREAMS", POSITIVE, _half_the_threads, ("app",),
            "event streams one API process serves at once (each holds a thread); more get 503",
            "`MLPQ_THREADS / 2`"),
    Setting("MLPQ_READY_CACHE_SECONDS", SECONDS_OR_ZERO, 2.0, ("app",),
            "how long `/readyz` reuses its last Redis and worker check"),
    Setting("MLPQ_WORKER_PING_TIMEOUT", SECONDS, 1.0, ("app",),
            "seconds `/readyz` waits for a Celery worker to answer a ping"),
    Setting("MLPQ_API_KEYS", Text(), "", ("app",),
            "comma-separated `name:sha256hex` entries (`:admin` appended for an admin key), made "
            "by `mlpq keygen NAME`", "empty (no authentication)"),
    Setting("MLPQ_URL", Text(), "http://127.0.0.1:8000", ("client",),
            "the server the `mlpq` command and `mlpq.Client` talk to (`mlpq --url`)"),
    Setting("MLPQ_API_KEY", Text(), "", ("client",),
            "the API key the `mlpq` command and `mlpq.Client` send (`mlpq --api-key`)"),
    Setting("MLPQ_DEBUG", Text(), "", ("client",),
            "set to `1`, the `mlpq` command shows the traceback of an unexpected error instead "
            "of one line"),
    Setting("MLPQ_MAX_ACTIVE_JOBS_PER_KEY", COUNT, 4, ("app",),
            "queued + running jobs one API key may have, a hard ceiling even for simultaneous "
            "submissions; more get 429 with Retry-After (0: no limit). A sweep's runs count too"),
    Setting("MLPQ_MAX_SWEEP_RUNS", POSITIVE, 64, ("app",),
            "most runs (configurations × seeds) in one sweep; the default and ceiling of "
            "`max_runs`"),
    Setting("MLPQ_METRICS_TOKEN", Text(), "", ("app",),
            "when set, `GET /metrics` requires `Authorization: Bearer <this token>`",
            "empty (open)"),
    Setting("PROMETHEUS_MULTIPROC_DIR", Text(), "", ("gunicorn", "metrics"),
            "where the API's processes keep the metric files `/metrics` sums (cleared at start)",
            "a temporary directory per gunicorn master"),
    Setting("MLPQ_MODEL_CACHE_SIZE", POSITIVE, 8, ("app",),
            "models each API process keeps loaded (least recently used dropped first)"),
    Setting("MLPQ_PREDICT_BLAS_THREADS", POSITIVE, 1, ("app",),
            "BLAS threads per API process (threadpoolctl); with several requests in flight, "
            "more than 1 fight for the same cores"),
    Setting("MLPQ_PREDICT_MAX_INPUTS", POSITIVE, 1024, ("app",),
            "most inputs (arrays or images) in one prediction request; more get 413"),
    Setting("MLPQ_PREDICT_MAX_BODY_BYTES", POSITIVE, 64 * 1024 * 1024, ("app",),
            "largest prediction request body; more get 413"),
    Setting("MLPQ_PREDICT_MAX_IMAGE_BYTES", POSITIVE, 5 * 1024 * 1024, ("app",),
            "largest single image file; larger ones get 413"),
    Setting("MLPQ_PREDICT_MAX_IMAGE_PIXELS", POSITIVE, 12_000_000, ("app",),
            "most pixels (width × height) in one image, checked before decoding; more get 413"),
    # Uploaded tables (api/datasets): each limit answered with a 4xx naming it.
    Setting("MLPQ_MAX_DATASET_BYTES", POSITIVE, 256 * 1024 * 1024, ("app",),
            "largest uploaded dataset file in bytes, and for a gzip file its inflated size; "
            "more get 413"),
    Setting("MLPQ_MAX_DATASET_ROWS", POSITIVE, 2_000_000, ("app",),
            "most rows in an uploaded table; more get 413"),
    Setting("MLPQ_MAX_DATASET_COLUMNS", POSITIVE, 1000, ("app",),
            "most columns in an uploaded table (before one-hot encoding); more get 413"),
    Setting("MLPQ_MAX_DATASET_CLASSES", POSITIVE, 1000, ("app",),
            "most classes in a classification target, and most distinct values of one text "
            "column; more get 422"),
    Setting("MLPQ_MAX_DATASETS_PER_KEY", POSITIVE, 100, ("app",),
            "most uploaded datasets one API key may keep; more get 409 until one is deleted"),
    Setting("MLPQ_MAX_LAYERS", POSITIVE, _engine_cap("max_layers"), ("stores",),
            "most layers a submitted model may have"),
    Setting("MLPQ_MAX_UNITS", POSITIVE, _engine_cap("max_units"), ("stores",),
            "most units in one layer"),
    # The real cap on training length is the work (engine.spec.Limits explains the figure).
    Setting("MLPQ_MAX_JOB_FLOPS", Flops(), _engine_cap("max_job_flops"), ("stores",),
            "most training work one job may ask for: epochs × training samples (the dataset's "
            "training rows less the `validation_split`) × FLOPs per sample (forward + backward, "
            "counted from the layer sizes by `engine/flops.py`). Over it, `POST /v1/jobs` "
            "answers 422 with the estimate. 1e14 is about 20 minutes of one quiet worker core "
            "(the engine trains at ~77 GFLOP/s of CPU time on one core) and an hour on a busy "
            "host; 50 epochs of a 784-1024-1024-10 MNIST net are 2.9e13"),
    Setting("MLPQ_MAX_EPOCHS", POSITIVE, _engine_cap("max_epochs"), ("stores",),
            "sanity cap on epochs; the work cap above is the real limit (1500 epochs of XOR is "
            "3e5 FLOPs)"),
    Setting("MLPQ_MAX_PARAMETERS", POSITIVE, _engine_cap("max_parameters"), ("stores",),
            "most trainable parameters (weights + biases) in one model"),
    Setting("MLPQ_MAX_BATCH_SIZE", POSITIVE, _engine_cap("max_batch_size"), ("stores",),
            "largest mini-batch"),
    Setting("MLPQ_WORKER_CONCURRENCY", POSITIVE, 1, ("stores",),
            "training processes per `celery -A worker worker` (`mlpq serve --workers`)"),
    # 1 process x 1 BLAS thread: bench/worker_threads.py found extra BLAS threads 10x slower on
    # a busy 2-core host (784x128 products are too small to split, and spinning threads fight
    # for cores); scale with more worker processes or containers instead.
    Setting("MLPQ_BLAS_THREADS", POSITIVE, 1, ("stores",),
            "BLAS threads per training process (keep concurrency × threads ≤ cores)"),
    Setting("MLPQ_PROGRESS_INTERVAL", SECONDS, 0.25, ("stores",),
            "seconds between progress writes to Redis while a job trains"),
    Setting("MLPQ_CHECKPOINT_SECONDS", SECONDS_OR_ZERO, 1.0, ("stores",),
            "a checkpoint is written after an epoch once this long (and at least 10 times the "
            "last checkpoint's write time, which grows with the history) has passed since the "
            "last one (0: after every epoch, whatever it costs); a crashed job resumes from it"),
    Setting("MLPQ_JOB_STALL_SECONDS", SECONDS_OR_ZERO, 600.0, ("stores",),
            "a training job with no finished batch for this long while its worker still "
            "heartbeats fails with error type `stalled` (not retried); its stuck training "
            "process is replaced (0: never)"),
    Setting("MLPQ_LEASE_SECONDS", SECONDS, 30.0, ("stores",),
            "a training job's lease, renewed every third of it; a worker silent this long loses "
            "the job"),
    Setting("MLPQ_SWEEP_SECONDS", SECONDS, 10.0, ("stores",),
            "how often each worker requeues `running` jobs whose lease expired (their worker "
            "died)"),
    Setting("MLPQ_VISIBILITY_TIMEOUT", SECONDS, 300.0, ("stores",),
            "seconds before Redis hands an unacknowledged Celery message to another worker "
            "(must exceed 2 × `MLPQ_LEASE_SECONDS`)"),
    Setting("MLPQ_UNACKED_RESTORE_INTERVAL", SECONDS, 10.0, ("stores",),
            "how often a worker looks for unacknowledged messages older than the visibility "
            "timeout"),
)}
