"""The queue's new moves in headless Chromium, at desktop width and at 390 px (a phone): keyboard
shortcuts (j/k, x, a = assign to me), bulk move from the selection, views, and a layout that neither
overflows sideways nor wraps the menu one character a line."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Ticket, TicketEvent

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(params=[1440, 390], ids=["desktop", "phone"])
def page(request, browser):
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.width = width
    p.errors = []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    p.on("dialog", lambda d: (p.errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield p
    context.close()


def log_in(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_url(base + "/")


def test_agent_works_the_queue_with_keys_and_bulk_actions(demo_data, users, make_server, page, database_url):
    db = demo_data
    server = make_server(refresh_seconds=3600)
    log_in(page, server.url, "agent", users["agent"])
    rows = page.locator("#queue-live tr[data-ticket]")
    assert rows.count() >= 3
    ids = [int(rows.nth(i).get_attribute("data-ticket")) for i in range(3)]

    # the layout fits: no sideways scroll of the page, the menu on one line per item
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    nav_link = page.locator("header.top nav a").first.bounding_box()
    assert nav_link["height"] < 50 and nav_link["width"] > 40
    assert "Keyboard shortcuts" in page.locator("details.keys").inner_text()

    # j j k: the cursor on the first row; a: assigned to me through the bulk form
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.locator("tr.cursor").get_attribute("data-ticket") == str(ids[0])
    page.keyboard.press("a")
    page.wait_for_selector(".flash-ok")
    assert f"Done (assign): #{ids[0]}" in page.locator(".flash-ok").inner_text()
    with db.session() as s:
        assert s.get(Ticket, ids[0]).assignee == "agent"

    # the "mine" view shows it
    page.click("nav.views a[data-view=mine]")
    page.wait_for_url(server.url + "/?view=mine")
    assert [int(x) for x in page.locator("#queue-live tr[data-ticket]").evaluate_all(
        "rows => rows.map(r => r.dataset.ticket)")] == [ids[0]]

    # x selects two rows in the full queue; bulk move to triaged
    page.goto(server.url + "/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.select_option("#bulk-form select[name=state]", "triaged")
    page.click("#bulk-form button[value=move]")
    page.wait_for_selector(".flash")
    with db.session() as s:
        moved = {t.id: t.state for t in s.scalars(select(Ticket).where(Ticket.id.in_(ids[1:3])))}
        actors = set(s.scalars(select(TicketEvent.actor).where(TicketEvent.ticket_id.in_(ids[1:3]),
                                                              TicketEvent.kind == "state")))
    assert set(moved.values()) <= {"triaged", "assigned", "investigating", "resolved"} and "web:agent" in actors
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    if database_url.startswith("sqlite"):
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / f"queue-{page.width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    assert page.errors == []
