"""`repwatch run` end to end (run_once, the function the command calls): a loopback feed, the real
analyzer, a real database and a real webhook receiver. Between runs the clock travels."""
from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from alerts.tickets.process import move
from repwatch.config import parse_config
from repwatch.loopback import LoopbackHTTPServer, Response
from repwatch.pipeline import run_once
from storage.models import Notification, Ticket, TicketEvent
from tests.alerts.services import options_for, webhook

POISON = ("p-1", "快送外卖的送餐员态度恶劣，吃了以后食物中毒住院了，我要投诉到12315")
REFUND = ("p-2", "快送外卖的退款一直没处理，快一个月了，客服电话打不通，售后太差了")
REFUND_AGAIN = ("p-3", "转发 快送外卖的退款一直没处理，快一个月了，客服电话打不通，售后太差了!!")
REFUND_LATER = ("p-4", "快送外卖的退款一直没处理，快一个月了，客服电话打不通，售后太差了，又来了")


def rss(posts) -> bytes:
    items = "".join(f"<item><guid>{g}</guid><link>https://bbs.example/{g}</link><description>{escape(t)}</description>"
                    f"</item>" for g, t in posts)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://bbs.example/</link><description>d</description>{items}</channel></rss>").encode()


@pytest.fixture
def world():
    with LoopbackHTTPServer() as server:
        hook = webhook(server)
        server.routes["/feed.xml"] = Response(rss([POISON, REFUND]))
        config = parse_config({
            "watch": [{"name": "快送外卖", "aliases": ["快送"]}],
            "sources": [{"name": "bbs", "kind": "feed", "url": server.url("/feed.xml")}],
            "alerts": {"routing": {"service": {"department": "服务质量部"}, "after_sales": {"department": "售后部"},
                                   "communication": {"department": "信息沟通组"}}},
            "notify": [{"name": "hook", "kind": "webhook", **options_for("webhook", hook)}],
        }, "<test>")
        yield server, hook, config


def tally(db):
    with db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Ticket, TicketEvent, Notification))


def test_run_opens_attaches_escalates_and_reopens(db, analyzer, clock, world):
    server, hook, config = world
    first = run_once(db, config, analyzer, clock.now())
    assert (first.evaluation.tickets_opened, first.dispatch.sent) == (2, 2)
    with db.session() as s:
        tickets = {t.severity: t for t in s.scalars(select(Ticket))}
    urgent, refund = tickets["urgent"], tickets["important"]
    # routed by its first category: the category model (issue 15) ranks communication ("客服电话打不通", 0.97)
    # above after_sales (0.95) and service
    assert (refund.category, refund.department) == ("communication", "信息沟通组")
    assert sorted(m["json"]["key"] for m in hook.accepted) == sorted(
        [f"ticket:{urgent.id}:opened", f"ticket:{refund.id}:opened"])

    # a repost of the refund complaint attaches as evidence: no new ticket, no new message
    server.routes["/feed.xml"] = Response(rss([POISON, REFUND, REFUND_AGAIN]))
    second = run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert (second.evaluation.tickets_opened, second.evaluation.attached, second.dispatch.sent) == (0, 1, 0)

    # nobody answers the urgent ticket for two hours: escalation
    third = run_once(db, config, analyzer, clock.advance(timedelta(hours=2)))
    assert third.evaluation.sla_breaches == 1
    assert hook.accepted[-1]["json"]["key"] == f"ticket:{urgent.id}:sla:first_response:0"
    assert hook.accepted[-1]["json"]["kind"] == "escalation"

    # the refund ticket is handled and closed; the complaint comes back a day later: reopened
    with db.session() as s:
        t = s.get(Ticket, refund.id)
        for state in ("assigned", "investigating", "resolved", "followed_up", "closed"):
            move(s, t, state, actor="cli:li", now=clock.advance(timedelta(minutes=10)),
                 satisfied=True if state == "followed_up" else None)
    server.routes["/feed.xml"] = Response(rss([POISON, REFUND, REFUND_AGAIN, REFUND_LATER]))
    fourth = run_once(db, config, analyzer, clock.advance(timedelta(days=1)))
    assert (fourth.evaluation.reopened, fourth.evaluation.tickets_opened) == (1, 0)
    assert hook.accepted[-1]["json"]["key"] == f"ticket:{refund.id}:reopened:1"
    with db.session() as s:
        t = s.get(Ticket, refund.id)
        assert (t.state, t.reopen_count, t.open_incident_id) == ("new", 1, t.incident_id)

    # a rerun at the same moment, and one a minute later, change nothing and send nothing
    before, sent = tally(db), len(hook.accepted)
    run_once(db, config, analyzer, clock.now())
    run_once(db, config, analyzer, clock.advance(timedelta(minutes=1)))
    assert tally(db) == before and len(hook.accepted) == sent
