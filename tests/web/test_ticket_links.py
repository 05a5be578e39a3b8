"""The ticket page names the customer's other tickets, and merges a duplicate (agents, CSRF)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from alerts.settings import AlertSettings
from storage.models import Ticket, TicketEvent
from tests.alerts.conftest import Seeder
from tests.alerts.test_ticket_links import _ticket


def _three(db, clock):
    seed, settings, t0 = Seeder(db), AlertSettings(), clock.now() - timedelta(days=3)
    return [_ticket(db, seed, settings, t0 + timedelta(days=n), author=" @李雷" if n else "李雷",
                    url=f"https://weibo.com/{n}", key=f"k{n}") for n in range(3)]


def test_the_ticket_page_links_the_customers_other_tickets_and_merges_a_duplicate(as_role, db, clock, parse_tags):
    a, b, c = _three(db, clock)
    agent, token = as_role("agent")
    page = agent.get(f"/tickets/{c}").text
    links = [int(attrs["data-other-ticket"]) for tag, attrs in parse_tags(page) if "data-other-ticket" in attrs]
    assert links == [a, b] and "此客户以前投诉过 This customer complained before" in page
    assert "Complained again later" in agent.get(f"/tickets/{a}").text

    r = agent.post(f"/tickets/{c}/merge", data={"into": str(b), "reason": "同一订单", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{b}"
    assert f"Merged into #{b}" in agent.get(f"/tickets/{b}").text
    r = agent.post(f"/tickets/{c}/merge", data={"into": str(b), "csrf_token": token})      # already closed
    assert r.headers["location"] == f"/tickets/{c}"
    assert "is closed" in agent.get(f"/tickets/{c}").text
    assert 'id="merge-form"' not in agent.get(f"/tickets/{c}").text
    with db.session() as s:
        assert s.get(Ticket, c).state == "closed" and s.get(Ticket, b).state == "new"
        events = s.scalars(select(TicketEvent).where(TicketEvent.kind == "merged").order_by(TicketEvent.id)).all()
        assert [(e.ticket_id, e.actor) for e in events] == [(c, "web:agent"), (b, "web:agent")]


def test_viewers_and_forged_posts_cannot_merge(as_role, db, clock):
    a, b, _ = _three(db, clock)
    viewer, vtoken = as_role("viewer")
    assert 'id="merge-form"' not in viewer.get(f"/tickets/{b}").text
    assert viewer.post(f"/tickets/{b}/merge", data={"into": str(a), "csrf_token": vtoken}).status_code == 403
    agent, _ = as_role("agent")
    assert agent.post(f"/tickets/{b}/merge", data={"into": str(a)}).status_code == 403
    with db.session() as s:
        assert s.scalars(select(TicketEvent).where(TicketEvent.kind == "merged")).all() == []


def test_a_waiting_ticket_shows_its_paused_clock(as_role, db, clock):
    a, _, _ = _three(db, clock)
    agent, token = as_role("agent")
    for state in ("assigned", "waiting_customer"):
        agent.post(f"/tickets/{a}/move", data={"state": state, "csrf_token": token})
    page = agent.get(f"/tickets/{a}").text
    assert 'id="sla-paused"' in page and "等待客户" in page
    assert 'value="investigating"' in page.split('id="move-form"', 1)[1].split("</form>", 1)[0]
    agent.post(f"/tickets/{a}/move", data={"state": "investigating", "csrf_token": token})
    assert 'id="sla-paused"' not in agent.get(f"/tickets/{a}").text
