"""GET /metrics: request counters and latencies by route, job gauges from Redis, model cache."""

from __future__ import annotations

import json

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

from mlpq.redis_server import RedisServer
from tests.support.api import make_app
from tests.support.observing import parse_metrics, scrape, value
from tests.support.servers import GunicornServer
from tests.support.specs import XOR_JOB
from worker.store.config import Settings
from worker.store.ids import new_id
from worker.store.job_scripts import STATUSES
from worker.store.jobs import JobStore

FAMILIES = {  # every family /metrics promises, with its labels
    "mlpq_http_requests_total": {"method", "route", "status"},
    "mlpq_http_request_duration_seconds_bucket": {"method", "route", "status", "le"},
    "mlpq_jobs": {"status"},
    "mlpq_queue_depth": set(),
    "mlpq_training_samples_per_second": set(),
    "mlpq_job_store_up": set(),
    "mlpq_model_cache_hits_total": set(),
    "mlpq_model_cache_misses_total": set(),
}


def test_every_family_is_exposed_with_its_labels(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(response.get_data(as_text=True))
    for family, labels in FAMILIES.items():
        found = [dict(pairs) for name, pairs in samples if name == family]
        assert found, f"{family} missing"
        assert all(set(series) == labels for series in found), (family, found[:3])
    assert {dict(pairs)["status"] for name, pairs in samples
            if name == "mlpq_jobs"} == set(STATUSES)


def test_requests_are_counted_by_route_not_by_path(client):
    job_id = new_id()
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get(f"/v1/jobs/{job_id}")  # 404
    client.get("/no/such/page")
    after = scrape(client)

    def increase(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert increase("mlpq_http_requests_total", method="GET", route="/healthz", status="200") == 3
    assert increase("mlpq_http_requests_total", method="GET", route="/v1/jobs/<id:job_id>",
                    status="404") == 1
    assert increase("mlpq_http_requests_total", method="GET", route="(unmatched)",
                    status="404") == 1
    assert increase("mlpq_http_request_duration_seconds_count", method="GET", route="/healthz",
                    status="200") == 3
    assert increase("mlpq_http_request_duration_seconds_bucket", method="GET", route="/healthz",
                    status="200", le="+Inf") == 3
    text = client.get("/metrics").get_data(as_text=True)
    assert job_id not in text and "/no/such/page" not in text  # raw paths never become labels


def test_job_gauges_are_read_from_redis(idle_settings):
    client = make_app(idle_settings).test_client()
    before = scrape(client)
    created = [client.post("/v1/jobs", json={**XOR_JOB, "name": f"g{i}"}).get_json()
               for i in range(3)]
    store = JobStore.from_url(idle_settings.redis_url)
    try:
        # One job runs (as a worker would record it) with one finished epoch.
        job_id, token = created[0]["id"], new_id()
        assert store.acquire_lease(job_id, token, 30)
        store.mark_running(job_id, lease_token=token)
        store.append_metrics(job_id, {"epoch": 1, "loss": 0.5, "samples_per_second": 1234.5},
                             lease_token=token)
        store.request_cancel(created[1]["id"])
        after = scrape(client)
    finally:
        store.close()
    assert value(after, "mlpq_job_store_up") == 1
    assert value(after, "mlpq_jobs", status="queued") - value(before, "mlpq_jobs",
                                                                status="queued") == 1
    assert value(after, "mlpq_jobs", status="running") == 1
    assert value(after, "mlpq_jobs", status="cancelled") == 1
    assert value(after, "mlpq_queue_depth") == 3  # no worker takes them off this queue
    assert value(after, "mlpq_training_samples_per_second") == 1234.5


def test_metrics_still_answer_when_redis_is_down(tmp_path):
    server = RedisServer(data_dir=tmp_path / "redis").start()
    url = server.url
    server.stop()
    client = make_app(Settings.from_env({"REDIS_URL": url})).test_client()
    samples = scrape(client)
    assert value(samples, "mlpq_job_store_up") == 0
    assert not [name for name, _labels in samples if name == "mlpq_jobs"]


def test_model_cache_hits_and_misses_are_counted(worker_settings, xor_model):
    client = make_app(worker_settings).test_client()  # a fresh app: an empty model cache
    before = scrape(client)
    body = {"inputs": [[0, 1]]}
    for _ in range(3):
        assert client.post(f"/v1/models/{xor_model}/predict", json=body).status_code == 200
    v2 = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 2], "data": [1, 1]}]}
    assert client.post(f"/v2/models/{xor_model}/infer", json=v2).status_code == 200
    after = scrape(client)

    def increase(name):
        return value(after, name) - value(before, name)

    assert increase("mlpq_model_cache_misses_total") == 1
    assert increase("mlpq_model_cache_loads_total") == 1
    assert increase("mlpq_model_cache_hits_total") == 3
    assert value(after, "mlpq_model_cache_models") == 1


def test_an_optional_token_guards_metrics(worker_settings):
    client = make_app(worker_settings, METRICS_TOKEN="scrape-secret").test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(client, headers={"Authorization": "Bearer scrape-secret"})
    assert make_app(worker_settings).test_client().get("/metrics").status_code == 200


def test_openmetrics_on_request(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def live_probes_counted_in(path) -> float:
    """/v2/health/live requests counted in one worker process's metrics file."""
    for family in MultiProcessCollector.merge([str(path)], accumulate=False):
        for sample in family.samples:
            if sample.name == "mlpq_http_requests_total" and \
                    sample.labels["route"] == "/v2/health/live":
                return sample.value
    return 0.0


def test_two_gunicorn_workers_add_up_and_log_json(service_env, tmp_path, celery_worker):
    """Each scrape sums every worker process's counts, whichever worker answers it."""
    metrics_dir = tmp_path / "prometheus"
    env = {**service_env, "MLPQ_WORKERS": "2", "MLPQ_THREADS": "4",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = GunicornServer(env, tmp_path / "gunicorn.log").start()
    sent, per_worker = 0, []
    try:
        # A new connection per request, until both workers have answered some.
        while sent < 40 or (len([n for n in per_worker if n > 0]) < 2 and sent < 400):
            response = httpx.get(f"{server.url}/v2/health/live",
                                 headers={"X-Request-ID": f"probe-{sent}"})
            assert response.headers["X-Request-ID"] == f"probe-{sent}"
            sent += 1
            per_worker = [live_probes_counted_in(path)
                          for path in metrics_dir.glob("counter_*.db")]
        totals = []
        for _ in range(6):
            samples = parse_metrics(httpx.get(f"{server.url}/metrics").text)
            totals.append(value(samples, "mlpq_http_requests_total", method="GET",
                                route="/v2/health/live", status="200"))
    finally:
        server.stop()
    assert len([count for count in per_worker if count > 0]) == 2, per_worker
    assert totals == [sent] * 6 and sum(per_worker) == sent
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line]
    access = [line for line in lines if line["logger"] == "mlpq.access"
              and line["route"] == "/v2/health/live"]
    assert sorted(line["request_id"] for line in access) == sorted(
        f"probe-{number}" for number in range(sent))
    assert {"gunicorn.error", "api.core.auth"} <= {line["logger"] for line in lines}
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]  # off by default
