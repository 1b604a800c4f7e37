"""Per-request bookkeeping: the request id, one access-log line, and the request metrics.

The request id comes from the client's `X-Request-ID` when it is a sane token, else a new one;
it is echoed in the response's `X-Request-ID` and stamped (with the job id, on /v1/jobs/<id>
routes) on every log line written while the request is handled. The access line gives method,
route, path, status, duration and the key's name, never headers, so no key reaches a log.
"""

import logging
import re
import time
import uuid

from flask import g, request

from api.core import metrics
from worker.store.logs import job_id_var, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and . _ : - up to 128 characters: what tracing systems send, and nothing that
# could forge a log line or a header.
REQUEST_ID_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

access_log = logging.getLogger("mlpq.access")


def init_app(app) -> None:
    """Install the hooks; call before other before_request hooks so even a 401 is counted."""
    app.before_request(start_request)
    app.after_request(finish_request)
    app.teardown_request(clear_context)


def request_id_from(header_value: str | None) -> str:
    if header_value and REQUEST_ID_RULE.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


def start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    tokens = [request_id_var.set(g.request_id)]
    job_id = (request.view_args or {}).get("job_id")
    if job_id:
        tokens.append(job_id_var.set(job_id))
    g.log_context_tokens = tokens


def finish_request(response):
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    route = request.url_rule.rule if request.url_rule is not None else None
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    metrics.observe_request(request.method, route, response.status_code, seconds)
    milliseconds = round(seconds * 1000, 3)
    access_log.info(
        "%s %s %s %.1f ms", request.method, request.path, response.status_code, milliseconds,
        extra={"method": request.method, "route": route or metrics.UNMATCHED_ROUTE,
               "path": request.path, "status": response.status_code,
               "duration_ms": milliseconds, "owner": g.get("owner"),
               "remote_addr": request.remote_addr})
    return response


def clear_context(_error=None) -> None:
    for token in reversed(g.pop("log_context_tokens", [])):
        token.var.reset(token)
