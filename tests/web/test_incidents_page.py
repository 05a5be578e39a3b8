"""The incidents page over real HTTP and in Chromium: the list shows what each incident is about, and
an agent opens a ticket, merges, moves a mention out and dismisses with a reason; the rows change as
they should and a viewer can do none of it."""
from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from alerts.stage import evaluate
from alerts.settings import AlertSettings
from storage.context import RunContext
from storage.models import Incident, IncidentMention, Ticket, TicketEvent
from tests.alerts.conftest import Seeder

HAIR = "国贸店的拿铁里有一根头发，店员还不承认"
HAIR_AGAIN = "今天在国贸买的拿铁喝出头发，店员态度也差"
COLD = "等了两个小时外卖才到，饭菜全凉了"
REFUND = "退款申请提交一周了还没到账"


@pytest.fixture
def incidents(db, clock):
    """Four general complaints (no tickets): hair in a latte told twice, cold food, a refund."""
    seed = Seeder(db)
    now = clock.now()
    ids = {name: seed.mention(text, at=now - timedelta(hours=5 - i), severity="general",
                              categories=("after_sales",) if name == "refund" else ("product",))
           for i, (name, text) in enumerate((("hair", HAIR), ("hair_again", HAIR_AGAIN), ("cold", COLD),
                                             ("refund", REFUND)))}
    with db.session() as s:
        evaluate(s, AlertSettings(), RunContext(now, ZoneInfo("Asia/Shanghai")))
    with db.session() as s:
        of = {name: s.scalar(select(IncidentMention.incident_id).where(IncidentMention.mention_id == m))
              for name, m in ids.items()}
    assert of["hair"] == of["hair_again"] and len(set(of.values())) == 3
    return ids, of


def test_agent_handles_incidents_from_the_page(db, incidents, as_role):
    mentions, of = incidents
    client, token = as_role("agent")
    page = client.get("/incidents").text
    assert "头发" in page and "拿铁" in page and page.count('data-incident="') == 3

    def post(incident_id, action, **data):
        r = client.post(f"/incidents/{incident_id}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/incidents"
        return client.get("/incidents").text

    page = post(of["hair"], "ticket")
    assert "Ticket #" in page
    with db.session() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.incident_id == of["hair"]))
        assert ticket is not None and ticket.state == "new"
    page = post(of["cold"], "merge", into=str(of["hair"]), reason="同一家店")
    assert f"merged into #{of['hair']}" in page
    page = post(of["hair"], "move-out", mention=str(mentions["cold"]))
    assert "moved out to incident #" in page
    page = post(of["refund"], "dismiss", reason="")
    assert "say why" in page                                     # refused, nothing written
    page = post(of["refund"], "dismiss", reason="测试数据 test post")
    with db.session() as s:
        assert s.get(Incident, of["cold"]).status == "merged"
        refund = s.get(Incident, of["refund"])
        assert refund.status == "dismissed" and "dismissed:测试数据 test post" in refund.signals
        kinds = [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
        assert "merged" in kinds and "moved_out" in kinds
        assert {e.actor for e in s.scalars(select(TicketEvent).where(TicketEvent.kind == "merged"))} == {"web:agent"}
    assert f'data-incident="{of["refund"]}"' not in page and f'data-incident="{of["cold"]}"' not in page


def test_a_viewer_sees_incidents_but_cannot_act(db, incidents, as_role):
    _, of = incidents
    client, token = as_role("viewer")
    page = client.get("/incidents").text
    assert "头发" in page and "Dismiss" not in page
    r = client.post(f"/incidents/{of['refund']}/dismiss", data={"reason": "x", "csrf_token": token})
    assert r.status_code == 403
    with db.session() as s:
        assert s.get(Incident, of["refund"]).status == "open"


@pytest.mark.browser
def test_dismiss_in_chromium(db, incidents, users, server, browser):
    _, of = incidents
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/")
        page.fill("input[name=username]", "agent")
        page.fill("input[name=password]", users["agent"])
        page.click("button.primary")
        page.wait_for_url(server.url + "/")
        page.click("nav a[href='/incidents']")
        page.wait_for_url(server.url + "/incidents")
        row = page.locator(f"tr[data-incident='{of['refund']}']")
        assert "退款" in row.inner_text()
        row.locator("input[name=reason]").fill("不是投诉 not a complaint")
        row.locator("button.dismiss").click()
        page.wait_for_url(server.url + "/incidents")
        assert "dismissed" in page.locator(".flash-ok").inner_text()
        assert page.locator(f"tr[data-incident='{of['refund']}']").count() == 0
        assert errors == []
    finally:
        context.close()
    with db.session() as s:
        assert s.get(Incident, of["refund"]).status == "dismissed"


def test_the_ticket_page_shows_related_incidents(db, incidents, clock, as_role):
    _, of = incidents
    seed = Seeder(db)
    other = seed.mention("国贸那家店的拿铁有头发，店员也不道歉", at=clock.now() - timedelta(hours=1),
                         severity="general", source="feed-b",
                         categories=("service",))               # the same story, filed under another category
    with db.session() as s:
        evaluate(s, AlertSettings(), RunContext(clock.now(), ZoneInfo("Asia/Shanghai")))
        related_id = s.scalar(select(IncidentMention.incident_id).where(IncidentMention.mention_id == other))
    assert related_id not in of.values()
    client, token = as_role("agent")
    client.post(f"/incidents/{of['hair']}/ticket", data={"csrf_token": token})
    with db.session() as s:
        ticket_id = s.scalar(select(Ticket.id).where(Ticket.incident_id == of["hair"]))
    page = client.get(f"/tickets/{ticket_id}").text
    assert f'data-related="{related_id}"' in page
    assert f'data-related="{of["cold"]}"' not in page           # nothing in common


@pytest.fixture
def hooked(db, clock, users):
    """The dashboard with a webhook notifier pointing at a real loopback receiver (signature checked)."""
    from repwatch.loopback import LoopbackHTTPServer
    from repwatch.web.app import create_app
    from tests.alerts.services import options_for, webhook
    from tests.web.conftest import LiveServer, login

    with LoopbackHTTPServer() as receiver:
        hook = webhook(receiver)
        from repwatch.config import parse_config
        from repwatch.demo import demo_config

        base = demo_config("http://127.0.0.1:9", 9)
        base.update(sources=[], web={"refresh_seconds": 0}, base_url="http://dash.example",
                    notify=[{"name": "hook", "kind": "webhook", **options_for("webhook", hook)}])
        config = parse_config(base, "<test config>")
        with LiveServer(create_app(db, config, clock)) as live:
            client, token = login(live.url, "agent", users["agent"])
            try:
                yield client, token, hook, config
            finally:
                client.close()


def test_a_ticket_opened_from_the_page_is_notified_like_the_pipeline(db, incidents, clock, hooked):
    """The pipeline's path: the alert is logged in the notification log with the ticket, then sent; a
    failed send stays pending and the pipeline's next delivery sends it, once."""
    from repwatch.pipeline import deliver_pending
    from storage.models import Notification

    _, of = incidents
    client, token, hook, config = hooked
    r = client.post(f"/incidents/{of['hair']}/ticket", data={"csrf_token": token})
    assert r.status_code == 303
    with db.session() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.incident_id == of["hair"]))
        rows = list(s.scalars(select(Notification)))
    assert [(n.key, n.channel, n.status, n.ticket_id) for n in rows] == [
        (f"ticket:{ticket.id}:opened@hook", "hook", "sent", ticket.id)]
    assert len(hook.accepted) == 1
    sent = hook.accepted[0]["json"]
    text = json.dumps(sent, ensure_ascii=False)
    assert f"#{ticket.id}" in text and "拿铁" in text and f"http://dash.example/tickets/{ticket.id}" in text

    # the receiver is down: the ticket is still opened, the alert waits in the log and is retried
    hook.fail_next.extend([503, 503, 503])
    client.post(f"/incidents/{of['cold']}/ticket", data={"csrf_token": token})
    page = client.get("/incidents").text
    assert "retried" in page
    with db.session() as s:
        cold = s.scalar(select(Ticket).where(Ticket.incident_id == of["cold"]))
        row = s.scalar(select(Notification).where(Notification.ticket_id == cold.id))
        assert cold is not None and row.status == "pending" and row.attempts == 1
    report = deliver_pending(db, config, clock.now() + timedelta(hours=1))
    assert report.sent == 1 and len(hook.accepted) == 2
    assert deliver_pending(db, config, clock.now() + timedelta(hours=2)).sent == 0   # sent once
    assert "退款" not in json.dumps([a["json"] for a in hook.accepted], ensure_ascii=False)
