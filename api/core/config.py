"""API settings: read once from the environment, with defaults, then test_config on top."""

import os
from dataclasses import dataclass

# gunicorn_conf reads the same variable, so the SSE cap below can leave threads free.
THREADS_PER_WORKER = int(os.environ.get("MLPQ_THREADS", "16"))


@dataclass(frozen=True)
class Setting:
    env: str
    parse: type
    default: object
    description: str


# Flask config key -> where it comes from; README's settings table mirrors this.
SETTINGS = {
    "MAX_CONTENT_LENGTH": Setting(
        "MLPQ_MAX_CONTENT_LENGTH", int, 8 * 1024 * 1024,
        "largest request body in bytes; bigger bodies get 413"),
    "SSE_MAX_SECONDS": Setting(
        "MLPQ_SSE_MAX_SECONDS", float, 300.0,
        "longest life of one event stream; clients reconnect with Last-Event-ID"),
    "SSE_KEEPALIVE_SECONDS": Setting(
        "MLPQ_SSE_KEEPALIVE_SECONDS", float, 15.0,
        "idle time after which a stream sends a keep-alive comment"),
    "SSE_MAX_STREAMS": Setting(
        "MLPQ_SSE_MAX_STREAMS", int, max(1, THREADS_PER_WORKER // 2),
        "event streams one API process serves at once (each holds a thread); more get 503"),
    "READY_CACHE_SECONDS": Setting(
        "MLPQ_READY_CACHE_SECONDS", float, 2.0,
        "how long /readyz reuses its last Redis and worker check"),
    "WORKER_PING_TIMEOUT": Setting(
        "MLPQ_WORKER_PING_TIMEOUT", float, 1.0,
        "seconds /readyz waits for a Celery worker to answer a ping"),
    # Security and observability (api/core/auth.py, api/core/metrics.py; docs/security.md).
    "API_KEYS": Setting(
        "MLPQ_API_KEYS", str, "",
        "API keys as comma-separated `name:sha256hex` entries (`:admin` appended for an admin "
        "key); `mlpq keygen NAME` makes one. Empty: no authentication (local use only)"),
    "MAX_ACTIVE_JOBS_PER_KEY": Setting(
        "MLPQ_MAX_ACTIVE_JOBS_PER_KEY", int, 4,
        "queued + running jobs one API key may have; more get 429 with Retry-After (0: no limit)"),
    "MAX_SWEEP_RUNS": Setting(
        "MLPQ_MAX_SWEEP_RUNS", int, 64,
        "most runs (configurations x seeds) one sweep may have; each run is a job"),
    "METRICS_TOKEN": Setting(
        "MLPQ_METRICS_TOKEN", str, "",
        "when set, GET /metrics requires `Authorization: Bearer <this token>`; empty: open"),
}

OPENAPI = {
    "API_TITLE": "mlpq",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Train multilayer perceptrons written from scratch in NumPy and serve "
                "their predictions. Submit a job, follow its progress, read the model."
            ),
        },
    },
}


def read_environment(environ=None):
    """Every setting from `environ` (default os.environ), parsed, defaults filled."""
    environ = os.environ if environ is None else environ
    config = {}
    for key, setting in SETTINGS.items():
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            config[key] = setting.default
            continue
        try:
            config[key] = setting.parse(raw)
        except ValueError:
            raise ValueError(
                f"{setting.env}={raw!r} is not a valid {setting.parse.__name__}"
            ) from None
    return config


def load_config(test_config=None, environ=None):
    """Flask config for create_app: OpenAPI constants, environment, then test_config.

    test_config may also hold "WORKER_SETTINGS" (a worker.store.config.Settings) to point the
    app at a particular Redis, artifact directory and limits.
    """
    config = {**OPENAPI, **read_environment(environ)}
    config.update(test_config or {})
    return config
