"""/healthz (this process answers) and /readyz (Redis, a worker and the model store answer)."""

import threading
import time

from flask.views import MethodView
from flask_smorest import abort

from api.core.auth import auth_mode
from api.core.blueprint import Blueprint
from api.core.services import services
from api.health.schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


class ReadinessProbe:
    """Checks Redis and pings the Celery workers, reusing the answer for `cache_seconds`.

    A worker ping waits up to `ping_timeout`; caching (and the lock) keep a burst of probes
    from turning into a burst of broadcasts and from piling up threads behind them.
    """

    def __init__(self, cache_seconds, ping_timeout):
        self.cache_seconds = cache_seconds
        self.ping_timeout = ping_timeout
        self._lock = threading.Lock()
        self._checked_at = None
        self._checks = None

    def checks(self):
        with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self.cache_seconds:
                self._checks = self._run_checks()
                self._checked_at = time.monotonic()
            return self._checks

    def _run_checks(self):
        store = services().jobs
        if not store.ping():
            return {
                "redis": {"ok": False, "detail": "Redis does not answer"},
                "workers": {"ok": False, "detail": "not checked: the broker (Redis) is down"},
            }
        checks = {"redis": {"ok": True, "detail": "Redis answers"}}
        checks["workers"] = self._ping_workers()
        checks["queue"] = {"ok": True, "detail": f"{store.queue_depth()} job(s) waiting"}
        usable, detail = services().artifacts.check()
        checks["artifacts"] = {"ok": usable, "detail": detail}
        return checks

    def _ping_workers(self):
        try:
            # limit=1: the first answer settles readiness, so the probe returns in milliseconds
            # instead of always waiting out the timeout (orchestrators' probe timeouts are ~1 s).
            replies = services().celery.control.ping(timeout=self.ping_timeout, limit=1)
        except Exception as error:  # a broker hiccup means "not ready", never a 500
            return {"ok": False, "detail": f"worker ping failed: {error}"}
        names = sorted(name for reply in replies for name in reply)
        if not names:
            return {"ok": False,
                    "detail": f"no Celery worker answered a ping within {self.ping_timeout:g} s"}
        return {"ok": True, "detail": f"worker {', '.join(names)} answered"}


@blp.record_once
def _create_probe(state):
    config = state.app.config
    services(state.app).readiness = ReadinessProbe(
        config["READY_CACHE_SECONDS"], config["WORKER_PING_TIMEOUT"])


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: this API process is up (checks nothing else)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """Readiness: Redis answers, at least one training worker answers a ping, and the
        model store (directory or object-store bucket) can be used.

        503 names what is missing. Results are cached for MLPQ_READY_CACHE_SECONDS.
        """
        checks = services().readiness.checks()
        failing = {name: [check["detail"]] for name, check in checks.items() if not check["ok"]}
        if failing:
            abort(503, message="Not ready: " + "; ".join(text for [text] in failing.values()),
                  errors=failing)
        return {"status": "ready", "checks": checks, "auth": auth_mode()}
