"""The model cache's Prometheus metrics, copied from its own counters after requests and scrapes.

The cache counts in plain integers under its lock; copying the increase after requests keeps
the prediction path free of metric code and still sums correctly across processes. Imported by
create_app, not at package import: prometheus-client must first see PROMETHEUS_MULTIPROC_DIR.
"""

import threading

from flask import Flask, request
from prometheus_client import Counter, Gauge

from api.core.services import MetricSource, services
from api.models import predict, v2

CACHE_COUNTERS = {  # ModelCache.stats() key -> counter
    "hits": Counter("mlpq_model_cache_hits", "Predictions served by an already loaded model",
                    registry=None),
    "misses": Counter("mlpq_model_cache_misses", "Model look-ups that had to read the files",
                      registry=None),
    "loads": Counter("mlpq_model_cache_loads", "Models read and verified from disk",
                     registry=None),
    "evictions": Counter("mlpq_model_cache_evictions",
                         "Models dropped to stay within MLPQ_MODEL_CACHE_SIZE", registry=None),
}
CACHE_MODELS = Gauge("mlpq_model_cache_models", "Models loaded, over all API processes",
                     registry=None, multiprocess_mode="livesum")
# Endpoints whose requests may touch the model cache, so its counters are copied afterwards.
MODEL_CACHE_BLUEPRINTS = frozenset({predict.blp.name, v2.blp.name})

_lock = threading.Lock()
_seen: dict[int, dict] = {}  # id(ModelCache) -> its stats when last copied to the counters


def sync(cache) -> None:
    """Add the cache's increase since the last copy to the counters (`cache`: a ModelCache)."""
    stats = cache.stats()
    with _lock:
        seen = _seen.setdefault(id(cache), {})
        for name, counter in CACHE_COUNTERS.items():
            increase = stats[name] - seen.get(name, 0)
            if increase > 0:
                counter.inc(increase)
            seen[name] = stats[name]
        CACHE_MODELS.set(stats["entries"])


def init_app(app: Flask) -> None:
    """Copy after each prediction request and before each scrape; call once blueprints exist."""
    cache = services(app).serving.cache

    def after_prediction(response):
        if request.blueprint in MODEL_CACHE_BLUEPRINTS:
            sync(cache)
        return response

    app.after_request(after_prediction)
    services(app).metric_sources.append(
        MetricSource((*CACHE_COUNTERS.values(), CACHE_MODELS), lambda: sync(cache)))
