"""The reports page in headless Chromium (Debian's, through Playwright) against a real uvicorn server,
on the hand-computed fixture of test_reports.py: the figures show, a chart bar clicks through to the
queue with the tickets behind it over the same period (and a trend bar to its day), and both pages fit a
390 px phone. Screenshots go to docs/screenshots/ (git-ignored); docs/reports.png, docs/reports-390.png,
docs/reports-click.png and docs/reports-click-390.png are the curated copies the docs show."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
SHOTS = HERE.parents[1] / "docs" / "screenshots"

_spec = importlib.util.spec_from_file_location("_reports_fixture", HERE / "test_reports.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)
PERIOD = "/reports?since=2026-11-01&until=2026-11-07"


@pytest.fixture
def clock():
    from repwatch.clock import FrozenClock

    return FrozenClock(fixture.NOW)


def new_page(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 1000}, locale="zh-CN")
    p = context.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    return context, p


def log_in(page, base: str, password: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_url(base + "/")


@pytest.mark.parametrize("width", [1440, 390])
def test_manager_reads_the_reports_and_clicks_through(db, users, make_server, browser, database_url, width):
    ids = fixture.fill(db)
    server = make_server(refresh_seconds=3600)
    context, page = new_page(browser, width)
    try:
        log_in(page, server.url, users["viewer"])
        page.click('nav a[href="/reports"]')       # the nav link; default period: the 30 local days to today
        page.wait_for_url(server.url + "/reports")
        assert page.locator("#summary .tile b").first.inner_text() == "7"    # T1..T7 (10-10..11-08)
        page.fill("input[name=since]", "2026-11-01")
        page.fill("input[name=until]", "2026-11-07")
        page.click("form.period button")
        page.wait_for_url(server.url + PERIOD + "&per=")          # auto trend bins
        summary = page.locator("#summary").inner_text()
        assert "0.75 / 1.7 h" in summary and "10 / 26 h" in summary and "75%" in summary
        urgent = page.locator('#by-severity tr[data-key="urgent"]').inner_text()
        assert "紧急" in urgent and "67%" in urgent
        assert "王女士" in page.locator("#repeat").inner_text()
        assert "80%" in page.locator("#targets").inner_text()
        # nothing on the page is wider than the window (tables scroll inside their card)
        overflow = page.evaluate("""() => [...document.querySelectorAll('main .card, #summary')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => (e.id || e.className) + ":" + e.getBoundingClientRect().right + ":" + document.querySelector("main").getBoundingClientRect().right)""")
        assert overflow == []
        if database_url.startswith("sqlite"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            name = "reports-latest.png" if width > 600 else "reports-390-latest.png"
            page.screenshot(path=str(SHOTS / name), full_page=True)

        # the delivery bar of the first-response chart: to the queue, filtered to the delivery tickets of the
        # report's period (from/to go along), the same number as the report's delivery row says
        delivery = int(page.locator('#by-category tr[data-key="delivery"] a.count').inner_text())
        bar = page.locator('svg.hbars a[href*="category=delivery"] rect').first
        bar.click()
        page.wait_for_url("**/?state=new*category=delivery&from=2026-11-01&to=2026-11-07")
        shown = {int(x) for x in page.locator("table.queue tbody tr[data-ticket]").evaluate_all(
            "rows => rows.map(r => r.dataset.ticket)")}
        assert shown == {ids["T1"], ids["T2"], ids["T5"]} and len(shown) == delivery   # not T6: opened before
        assert page.input_value("input[name=from]") == "2026-11-01"          # the queue's own date filter
        assert page.input_value("input[name=to]") == "2026-11-07"
        if database_url.startswith("sqlite"):
            name = "reports-click-latest.png" if width > 600 else "reports-click-390-latest.png"
            page.screenshot(path=str(SHOTS / name), full_page=True)
        # back on the report, a trend bar: the tickets of its one local day (T5 reopened on 11-04)
        page.go_back()
        page.locator('svg.stacked a[href*="from=2026-11-04&to=2026-11-04"] rect').first.click()
        page.wait_for_url("**/?state=new*category=delivery&from=2026-11-04&to=2026-11-04")
        shown = {int(x) for x in page.locator("table.queue tbody tr[data-ticket]").evaluate_all(
            "rows => rows.map(r => r.dataset.ticket)")}
        assert shown == {ids["T5"]}
        # the queue page fits the phone too, with the date filter
        overflow = page.evaluate("""() => document.documentElement.scrollWidth - window.innerWidth""")
        assert overflow <= 1
        assert page.errors == []
    finally:
        context.close()
