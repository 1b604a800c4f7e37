"""The studio in a real browser: Debian's chromium driven by Playwright, against gunicorn, a
Celery worker and Redis. Any console error or uncaught page error fails the test that caused it.

Screenshots of every page go to tests/browser/artifacts/ (ignored by git; CI keeps them as
test artifacts).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import CHROMIUM_ARGS, Studio, open_tab
from tests.support.environment import chromium
from tests.support.servers import GunicornServer
from tests.support.specs import STUDIO_MNIST_JOB, STUDIO_XOR_JOB


@pytest.fixture(scope="session")
def studio(service_env, _session_celery_worker, tmp_path_factory):
    """gunicorn (production config) + the session's Celery worker and Redis."""
    _session_celery_worker.start()
    server = GunicornServer(service_env, tmp_path_factory.mktemp("studio") / "gunicorn.log").start()
    stack = Studio(server.url)
    yield stack
    stack.http.close()
    server.stop()


@pytest.fixture(scope="session")
def xor_job(studio):
    return studio.train(STUDIO_XOR_JOB)


@pytest.fixture(scope="session")
def mnist_job(studio):
    return studio.train(STUDIO_MNIST_JOB)


@pytest.fixture(scope="session")
def browser():
    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, studio):
    """A fresh browser tab that fails its test on any console error, page error or request
    leaving this machine."""
    context, tab = open_tab(browser, studio.url, viewport={"width": 1280, "height": 900})
    yield tab
    context.close()
    problems = tab.console_watch.unexpected()
    assert not problems, "\n".join(problems)
