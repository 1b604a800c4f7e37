"""The studio behind API keys: the key is entered once, kept for the browser session only, and
sent as a Bearer header on every call, the job's event stream included."""

from __future__ import annotations

import json

from api.core.auth import generate_key, key_entry
from tests.support.browser import PLAN_REFUSED, open_tab
from tests.support.servers import GunicornServer
from tests.support.specs import STUDIO_XOR_JOB


def test_the_key_is_entered_once_and_sent_on_every_call_and_stream(browser, service_env, celery_worker,
                                                                  tmp_path):
    key = generate_key()
    # Its own owner name: the model it trains lands in the session's shared artifact store, and
    # tests/security expects other names (carol among them) to own nothing there.
    env = {**service_env, "MLPQ_API_KEYS": key_entry("studio-browser", key)}
    server = GunicornServer(env, tmp_path / "gunicorn.log").start()
    try:
        context, page = open_tab(browser, server.url, viewport={"width": 1280, "height": 900})
        page.console_watch.allow("status of 401")  # before the key is entered: the page says so
        page.console_watch.allow(PLAN_REFUSED)
        api_calls, streams = [], []
        page.on("request", lambda request: api_calls.append(request)
                if "/v1/" in request.url else None)

        def record_stream(route):  # seen as it is sent, however long the stream stays open
            streams.append(route.request)
            route.fallback()

        page.route("**/v1/jobs/*/events*", record_stream)
        page.goto("/")
        page.wait_for_selector("#notice:has-text('Enter an API key above')")
        page.fill("#api-key", key)
        unauthenticated = len(api_calls)
        page.get_by_role("button", name="Use").click()
        page.wait_for_selector("#key-state:has-text('key set for this session')")
        assert page.evaluate("sessionStorage.length") == 1 and page.evaluate("localStorage.length") == 0
        assert page.input_value("#api-key") == ""  # not left on screen
        page.wait_for_selector("#jobs p:has-text('No jobs yet')")

        # Another page in the same session needs no key typed again.
        page.goto("/build")
        page.wait_for_selector("#f-dataset")
        page.get_by_text("Raw JSON").click()  # the advanced view; the form follows it
        # With no worker running, the job page finds the job queued and follows its event
        # stream; the stream then carries it to the end once a worker starts.
        celery_worker.stop()
        page.fill("#json", json.dumps({**STUDIO_XOR_JOB, "name": "studio-browser-xor"}))
        assert page.input_value("#f-model-layers-0-units") == "3"
        assert page.input_value("#f-name") == "studio-browser-xor"
        page.get_by_role("button", name="Train it").click()
        page.wait_for_url("**/job?id=*")
        page.wait_for_selector("#progress-text:has-text('queued')")
        page.wait_for_function("performance.getEntriesByType('resource').some((entry) => entry.name.endsWith('/events'))")
        celery_worker.start()
        page.wait_for_selector("#progress-text:has-text('succeeded')", timeout=120_000)
        page.wait_for_function("document.getElementById('loss-chart').data?.[0]?.x.length === 40")
        assert streams, "the job page followed the job's event stream"
        after_key = api_calls[unauthenticated:]
        assert all(call.headers.get("authorization") == f"Bearer {key}" for call in after_key)
        assert all(stream.headers.get("authorization") == f"Bearer {key}" for stream in streams)
        context.close()
        assert not page.console_watch.unexpected()
    finally:
        server.stop()
