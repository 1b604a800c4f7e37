"""gunicorn settings for the API: gunicorn -c python:api.gunicorn_conf 'api:create_app()'."""

import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from worker.store import environment
from worker.store.logs import gunicorn_logconfig
from worker.store.setting_types import SettingsError

# Everything this master and its API workers read, checked before any worker starts: a bad
# value stops gunicorn with its one-line message instead of failing every worker's boot.
try:
    environment.check("api", "gunicorn")
    SETTINGS = environment.read(environment.read_by("gunicorn"))
except SettingsError as error:
    sys.exit(str(error))

# Metrics of all worker processes are summed through files in this directory (api/core/metrics.py).
# prometheus-client chooses where values live when it is first imported, which create_app does
# in each worker, so the directory is settled here, before any worker starts. One given from
# outside may hold an earlier run's files: they are cleared. One made here is removed at exit.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_own_metrics_dir = not SETTINGS[METRICS_DIR_VARIABLE]
METRICS_DIR = Path(SETTINGS[METRICS_DIR_VARIABLE] or tempfile.mkdtemp(prefix="mlpq-metrics-"))
os.environ[METRICS_DIR_VARIABLE] = str(METRICS_DIR)  # for prometheus-client in the workers
if not _own_metrics_dir:
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()

bind = SETTINGS["MLPQ_BIND"]

# gunicorn's runtime control socket lives at one per-user path, so several servers on a machine
# (tests, benchmarks, `mlpq serve`) would fight over it; nothing here uses gunicornc.
control_socket_disable = True

# gthread: a request waiting on Redis (an event stream, a job poll) parks one thread, not a
# whole process; prediction is NumPy work that releases the GIL in its matrix products.
worker_class = "gthread"
workers = SETTINGS["MLPQ_WORKERS"]
threads = SETTINGS["MLPQ_THREADS"]
# Idle keep-alive connections wait in the poller, not in a thread; this caps them.
worker_connections = SETTINGS["MLPQ_WORKER_CONNECTIONS"]

# In gthread the heartbeat comes from the main loop, so long event streams do not trip
# `timeout`; it only catches a worker whose main loop is stuck. Streams end on their own
# after MLPQ_SSE_MAX_SECONDS and at most MLPQ_SSE_MAX_STREAMS (default threads // 2) run
# per process, so health checks and predictions always find a free thread.
timeout = SETTINGS["MLPQ_TIMEOUT"]
# The same seconds the training worker gets; gunicorn counts whole ones, so round up.
graceful_timeout = math.ceil(SETTINGS["MLPQ_GRACEFUL_TIMEOUT"])
keepalive = SETTINGS["MLPQ_KEEPALIVE"]

# Request line and header limits (gunicorn's defaults, stated so they are visible);
# body size is capped by the app (MLPQ_MAX_CONTENT_LENGTH -> 413 in the JSON error shape).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Recycle workers now and then so a slow leak cannot grow without bound, but rarely: a new
# worker re-imports the app and reloads its models, and at ~1000 predictions/s per process a
# 20,000-request limit recycled every worker every ~20 s and cost a quarter of the throughput
# (bench/load.py).
max_requests = SETTINGS["MLPQ_MAX_REQUESTS"]
max_requests_jitter = max_requests // 10

# The app writes one structured access line per request (logger mlpq.access), with the route
# and the request id; gunicorn's own access log is off unless MLPQ_ACCESS_LOG names a place.
accesslog = SETTINGS["MLPQ_ACCESS_LOG"] or None
errorlog = "-"
loglevel = SETTINGS["MLPQ_LOG_LEVEL"]
# gunicorn's lines and the app's go through one handler, as JSON (MLPQ_LOG_FORMAT) on stderr.
logconfig_dict = gunicorn_logconfig(access_log=accesslog is not None)


def child_exit(server, worker):
    """A dead worker's live gauges (models it had loaded) stop counting; its counters remain."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
