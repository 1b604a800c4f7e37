"""GET /metrics: Prometheus metrics, summed across gunicorn's worker processes.

Request counts and latencies are recorded by each process (api.core.observability). Under gunicorn,
api/gunicorn_conf.py sets PROMETHEUS_MULTIPROC_DIR, where prometheus-client keeps each
process's values in a file, and a scrape, whichever process answers it, adds them all up.
Job counts, queue depth and training speed are read from Redis when scraped, so every process
reports the same figures. Without that directory (one process, e.g. `flask run`), the values
live in memory.
"""

import hashlib
import hmac

import redis
from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

from api.core.errors import error_response
from api.core.services import services
from worker.store import environment
from worker.store.job_scripts import STATUSES

blp = Blueprint("metrics", __name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
if environment.value(MULTIPROCESS_DIR) and not getattr(values.ValueClass, "_multiprocess", False):
    # Each process would then count alone and a scrape would show one process's share.
    raise RuntimeError(f"{MULTIPROCESS_DIR} was set after prometheus-client was imported; "
                       "set it before the application is loaded (api/gunicorn_conf.py does)")
UNMATCHED_ROUTE = "(unmatched)"  # requests that matched no URL rule (404s, bad methods)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)

# Labelled by the URL rule (e.g. /v1/jobs/<id:job_id>), never the raw path, so the number of
# series stays bounded whatever paths clients send.
REQUESTS = Counter("mlpq_http_requests", "HTTP requests answered, by method, URL rule and status",
                   ["method", "route", "status"], registry=None)
LATENCY = Histogram("mlpq_http_request_duration_seconds",
                    "Time to produce a response (for event streams: until the stream starts)",
                    ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=None)
PROCESS_METRICS = (REQUESTS, LATENCY)  # rooms add their own (services().metric_sources)


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    labels = (method, route or UNMATCHED_ROUTE, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


class JobStoreCollector:
    """Figures read from Redis at scrape time: jobs by status, queue depth, training speed."""

    def __init__(self, store):
        self.store = store

    def collect(self):
        up = GaugeMetricFamily("mlpq_job_store_up", "1 when Redis answered this scrape")
        try:
            families = self._from_redis()
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_redis(self):
        jobs = GaugeMetricFamily("mlpq_jobs", "Jobs in the job store, by status", labels=["status"])
        for status in STATUSES:
            _page, total = self.store.list(status=status, limit=0)
            jobs.add_metric([status], total)
        depth = GaugeMetricFamily("mlpq_queue_depth",
                                  "Training messages waiting in the queue (not yet taken by a worker)")
        depth.add_metric([], self.store.queue_depth())
        speed = GaugeMetricFamily(
            "mlpq_training_samples_per_second",
            "Training speed summed over running jobs, from each job's latest finished epoch")
        running, _total = self.store.list(status="running", limit=1000)
        speed.add_metric([], sum(_latest_speed(job) for job in running))
        return [jobs, depth, speed]


def _latest_speed(job: dict) -> float:
    for entry in reversed(job.get("metrics") or []):
        if entry.get("samples_per_second"):
            return float(entry["samples_per_second"])
    return 0.0


def scrape_registry(store, sources=()) -> CollectorRegistry:
    """This scrape's figures: every process's metrics, then the job store's."""
    registry = CollectorRegistry(auto_describe=False)
    if environment.value(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (*PROCESS_METRICS, *(metric for source in sources for metric in source.metrics)):
            registry.register(metric)
        ProcessCollector(registry=registry)
    registry.register(JobStoreCollector(store))
    return registry


def _token_matches(presented: str, expected: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


@blp.get("/metrics")
def metrics():
    """Prometheus text format (OpenMetrics when the scraper asks for it)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not _token_matches(presented.strip(), token):
            return error_response(401, "GET /metrics needs 'Authorization: Bearer <token>' "
                                       "(MLPQ_METRICS_TOKEN).",
                                  headers={"WWW-Authenticate": 'Bearer realm="mlpq-metrics"'})
    state = services()
    for source in state.metric_sources:
        source.sync()
    encoder, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encoder(scrape_registry(state.jobs, state.metric_sources)),
                    content_type=content_type)
