"""A real browser for the end-to-end tests: Debian's chromium, driven by playwright.

Playwright's own browser download is never used (the machine's network is closed to it):
the tests drive ``/usr/bin/chromium`` from Debian's ``chromium`` package, which ``.ci/run``
installs. Screenshots go to ``var/screenshots/`` in the repository, for a person to look at.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.clock import without_faketime
from tests.conftest import require
from tests.servers import served

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

#: Without the background-networking flags chromium keeps trying to reach Google's hosts,
#: which this closed network refuses, many connections at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's /dev/shm is small
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

#: A phone: the page is mobile first, and most citizens open it on one.
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's chromium, headless, for the whole session."""
    require(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            # The citizen's phone keeps its own clock: under faketime (CI's shifted pass) the
            # servers' clock moves, the browser's does not (libfaketime stalls its timers).
            env=without_faketime(os.environ),
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """Open a page in a fresh context: a phone in Chinese unless told otherwise."""
    contexts = []

    def open_page(**options):
        settings = {"viewport": PHONE, "locale": "zh-CN", **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable:
    """Save a full-page screenshot as ``var/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def intake_server(demo, database_url, tmp_path) -> Iterator[str]:
    """The intake under gunicorn on a free port, over the test database with the demo notice."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-browser-secret",
        "RATELIMIT_ENABLED": "false",  # every test posts from 127.0.0.1
        "FORM_MIN_FILL_SECONDS": "0",  # a test fills the form faster than any person
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "intake:create_app()"]
    base_url = f"http://127.0.0.1:{port}"
    # A temporary working directory: the repository's .env and var/ stay out of it.
    with served(command, cwd=tmp_path, env=env, ready_urls=[base_url + "/readyz"]):
        yield base_url


@pytest.fixture(scope="module")
def running_responder(database, database_url, tmp_path_factory) -> Iterator[str]:
    """The responder under gunicorn on a free port, over the (migrated) test database: one
    server for a test module, as starting gunicorn takes seconds; each test brings its data."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-responder-secret",
        "MINYI_ENV": "development",  # the session cookie over plain http
        "RATELIMIT_ENABLED": "false",
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "responder:create_app()"]
    base_url = f"http://127.0.0.1:{port}"
    # A temporary working directory: the repository's .env and var/ stay out of it.
    cwd = tmp_path_factory.mktemp("responder")
    with served(command, cwd=cwd, env=env, ready_urls=[base_url + "/readyz"]):
        yield base_url
