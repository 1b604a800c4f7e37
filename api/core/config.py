"""API settings: the registry's "app" settings as Flask config keys, then test_config on top."""

import os
from collections import ChainMap

from worker.store import environment

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


def config_key(name: str) -> str:
    """The Flask config key of a setting: MLPQ_SSE_MAX_SECONDS -> SSE_MAX_SECONDS."""
    return name.removeprefix("MLPQ_")


def load_config(test_config=None, environ=None):
    """Flask config for create_app: OpenAPI constants, the "app" settings, then test_config.

    A test_config value for a setting obeys the setting's rule as an environment value would.
    test_config may also hold "WORKER_SETTINGS" (a worker.store.config.Settings) to point the
    app at a particular Redis, artifact directory and limits.
    """
    test_config = dict(test_config or {})
    names = environment.read_by("app")
    overrides = {name: str(test_config.pop(config_key(name))) for name in names
                 if config_key(name) in test_config}
    environ = os.environ if environ is None else environ
    values = environment.read(names, ChainMap(overrides, environ))
    return {**OPENAPI, **{config_key(name): value for name, value in values.items()}, **test_config}
