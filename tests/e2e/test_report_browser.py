"""The monthly report's HTML file in Debian's chromium: charts drawn, nothing fetched, no
script run, no sideways scrolling on a phone, and it prints (tests/shared/test_report_formats.py
checks the other formats)."""

from __future__ import annotations

import pytest

from shared import reports
from tests.e2e.conftest import PHONE, SCREENSHOTS
from tests.shared.report_sample import sample_report
from tests.shared.test_report_formats import SCRIPT, hostile_report


@pytest.fixture
def chromium_page(new_page):
    """A phone page in chromium that refuses, and remembers, every request it makes."""
    page_ = new_page()
    requests: list[str] = []

    def refuse(route) -> None:
        requests.append(route.request.url)
        route.abort()

    page_.route("**/*", refuse)
    page_.requests = requests
    return page_


def test_html_in_chromium_on_a_phone_and_printed(chromium_page) -> None:
    """Charts drawn with a size, nothing fetched, no sideways scrolling at 390 px, prints."""
    html = reports.render(sample_report(), "html").decode()
    chromium_page.set_content(html)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chromium_page.screenshot(path=str(SCREENSHOTS / "report-phone.png"), full_page=True)
    for svg in chromium_page.locator("svg.report-chart").all():
        box = svg.bounding_box()
        assert box["width"] > 100 and box["height"] > 50
    assert chromium_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert chromium_page.locator("#report-by_office tbody tr").count() == 8
    assert chromium_page.requests == []

    chromium_page.set_viewport_size({"width": 1200, "height": 900})
    chromium_page.screenshot(path=str(SCREENSHOTS / "report-desktop.png"), full_page=True)
    printed = chromium_page.pdf(format="A4")
    assert printed.startswith(b"%PDF")
    assert len(printed) > 20_000


def test_hostile_html_runs_nothing_and_still_fits_a_phone(chromium_page) -> None:
    """Markup in names is shown as text: no script runs, no image loads, nothing overflows."""
    chromium_page.set_content(reports.render(hostile_report(), "html", language="en").decode())
    chromium_page.screenshot(path=str(SCREENSHOTS / "report-hostile.png"), full_page=True)
    assert chromium_page.evaluate("window.__pwned") is None
    assert chromium_page.locator("img").count() == 0
    assert chromium_page.get_by_text(SCRIPT).count() >= 1
    assert chromium_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert chromium_page.requests == []
