"""The studio in Chromium: the stack's URL and HTTP client, tabs that watch the console, shots."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.support.api import submit
from tests.support.environment import REPO_ROOT
from tests.support.waiting import wait_for_job

# Screenshots of every page (ignored by git; CI keeps them as test artifacts).
ARTIFACTS = REPO_ROOT / "tests" / "browser" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PLAN_REFUSED = r"status of 422.*/v1/plans"  # a half-edited spec: the Build page shows why
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class Studio:
    """The running stack: its URL and a small HTTP client for setting up and checking."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def submit(self, body: dict) -> dict:
        return submit(self.http, body)

    def wait(self, job_id: str, timeout: float = 180.0) -> dict:
        return wait_for_job(self.http, job_id, timeout=timeout, interval=0.2)

    def train(self, body: dict) -> dict:
        job = self.wait(self.submit(body)["id"])
        assert job["status"] == "succeeded", job
        return job


class ConsoleWatch:
    """Console errors and page errors seen by a page; `allow(pattern)` for expected ones."""

    def __init__(self):
        self.problems: list[str] = []
        self.allowed: list[re.Pattern] = []

    def allow(self, pattern: str) -> None:
        """E.g. allow("status of 422"): Chromium logs every 4xx fetch answer as an error."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console.error: {message.text} ({message.location})")

    def on_page_error(self, error) -> None:
        self.problems.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        return [text for text in self.problems
                if not any(pattern.search(text) for pattern in self.allowed)]


def open_tab(browser, base_url: str, **context_options):
    """A new browser context and tab on `base_url` whose console errors, page errors and any
    request leaving this machine are recorded in `tab.console_watch`."""
    context = browser.new_context(base_url=base_url, **context_options)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    watch = ConsoleWatch()
    tab.on("console", watch.on_console)
    tab.on("pageerror", watch.on_page_error)

    def stay_local(route):  # the studio and /docs must work on an air-gapped machine
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            watch.problems.append(f"request leaving this machine: {route.request.url}")
            route.abort()

    context.route(re.compile(r"^https?://"), stay_local)
    tab.console_watch = watch
    return context, tab


def screenshot(page, name: str) -> Path:
    """Save the whole page under tests/browser/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def chart_traces(page, chart_id: str) -> list[dict]:
    """The traces plotly drew in `#chart_id` (name, x, y), as the browser holds them."""
    return page.evaluate(
        """(id) => (document.getElementById(id).data || []).map(
               (trace) => ({name: trace.name, meta: trace.meta, x: Array.from(trace.x), y: Array.from(trace.y)}))""",
        chart_id)
