"""The sources page in headless Chromium at desktop width and at 390 px: an admin runs a source now,
reads its problems, pauses and resumes another; the page fits the phone's width."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Source
from tests.web.test_browser_queue import log_in, page  # noqa: F401 - the parametrised page fixture
from tests.web.test_sources_page import app_server, config, site  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_admin_runs_pauses_and_resumes_in_the_browser(app_server, db, users, page, database_url):  # noqa: F811
    log_in(page, app_server.url, "admin", users["admin"])
    page.goto(app_server.url + "/sources")
    assert page.locator("tr[data-source]").count() == 2
    assert "never run" in page.locator("tr[data-source=news]").inner_text()
    page.click("tr[data-source=news] button.run-now")
    page.wait_for_url(app_server.url + "/sources")
    assert "Ran news: partial" in page.locator(".flash-ok").inner_text()
    assert "entry 1 has no text" in page.locator("tr[data-problems=news]").inner_text()
    page.click("tr[data-source=later] button.pause")
    page.wait_for_url(app_server.url + "/sources")
    assert "paused" in page.locator("tr[data-source=later]").inner_text()
    assert page.locator("tr[data-source=later] button.run-now").is_disabled()
    with db.session() as s:
        assert s.scalar(select(Source.paused).where(Source.name == "later")) is True
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    if database_url.startswith("sqlite"):
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"sources-{page.width}.png"), full_page=True)
    page.click("tr[data-source=later] button.resume")
    page.wait_for_url(app_server.url + "/sources")
    with db.session() as s:
        assert s.scalar(select(Source.paused).where(Source.name == "later")) is False
    assert page.errors == []
