"""Incidents and what the alert stage does with them, on a real database: near-duplicate grouping
across sources, ticket opening, evidence, reopening, escalation by reach, signals and engagement."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from datetime import timedelta

from storage.context import RunContext
import pytest
from sqlalchemy import func, select

from alerts.stage import evaluate
from alerts.incidents.index import shingles
from alerts.settings import AlertSettings
from alerts.tickets.process import move
from storage.models import EngagementSnapshot, Incident, IncidentMention, Ticket, TicketEvent
from tests.alerts.conftest import T0

H = timedelta(hours=1)
LATE = "快送外卖的骑手把我的外卖送错了地址，打电话也不接，等了两个小时饭都凉了，太差劲了"
LATE_REPOST = "转发：快送外卖的骑手把我的外卖送错了地址!!打电话也不接，等了两个小时饭都凉了，太差劲了😡 http://t.cn/abc"
REFUND = "快送外卖退款申请提交一周了还没到账，客服一直说在处理，这种售后服务真的让人失望"


def counts(db):
    with db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Incident, IncidentMention, Ticket, TicketEvent))


def run(db, settings, now, **kw):
    with db.session() as s:
        return evaluate(s, settings, RunContext(now, ZoneInfo("Asia/Shanghai"), "http://dash"), **kw)


def test_shingles_ignore_punctuation_width_case_and_links():
    assert shingles("退款，没到！ http://t.cn/x", 2) == shingles("退款 没到 ", 2) == {s.encode() for s in ("退款", "款没", "没到")}
    assert shingles("", 3) == set() and shingles("好", 3) == {"好".encode()}


def test_reposts_across_sources_join_one_incident_and_other_issues_do_not(db, seed, settings):
    a = seed.mention(LATE, at=T0, source="weibo", followers=5000)
    b = seed.mention(LATE_REPOST, at=T0 + 10 * 60 * H / 60, source="douyin", followers=200)
    c = seed.mention(REFUND, at=T0, categories=("after_sales",))
    d = seed.mention(LATE, at=T0, targets=("优选商城",))               # same words, another target
    report = run(db, settings, T0 + H)
    with db.session() as s:
        groups = sorted(sorted(s.scalars(select(IncidentMention.mention_id).where(IncidentMention.incident_id == i)))
                        for i in s.scalars(select(Incident.id)))
        first = s.scalar(select(Incident).join(IncidentMention).where(IncidentMention.mention_id == a))
        assert (first.mention_count, first.reach, first.title) == (2, 5200, LATE)
        assert first.terms["n"] == 2 and "骑手" in first.terms["c"] and "送错" in first.label
        assert "外卖" not in first.terms["c"]   # the target's own name says nothing about which issue
    assert groups == [[a, b], [c], [d]]
    assert (report.incidents_opened, report.tickets_opened) == (3, 3)
    opened = [x for x in report.alerts if x.key.endswith(":opened")]
    assert len(opened) == 3 and all(x.url.startswith("http://dash/tickets/") for x in opened)
    top = next(x for x in opened if x.incident_id == first.id).evidence
    assert [e["reach"] for e in top] == [5000, 200] and top[0]["url"].startswith("https://")


def test_the_title_is_the_post_that_set_the_severity_not_the_first(db, seed, settings):
    seed.mention(LATE, at=T0, severity="general")
    urgent = LATE_REPOST + "，吃完拉肚子，已经投诉到12315"
    seed.mention(urgent, at=T0 + H, severity="urgent")
    seed.mention(LATE + "!", at=T0 + 2 * H, severity="important")   # joins, but raises nothing
    run(db, settings, T0 + 3 * H)
    with db.session() as s:
        incident = s.scalars(select(Incident)).one()
        ticket = s.scalars(select(Ticket)).one()
    assert (incident.mention_count, incident.severity) == (3, "urgent")
    assert incident.title == ticket.title == urgent


def test_a_rerun_changes_nothing(db, seed, settings):
    seed.mention(LATE, at=T0)
    seed.mention(LATE_REPOST, at=T0)
    seed.mention(REFUND, at=T0, categories=("after_sales",))
    first = run(db, settings, T0 + H)
    before = counts(db)
    again = run(db, settings, T0 + H)
    assert counts(db) == before == (2, 3, 2, 3)
    assert (again.incidents_opened, again.tickets_opened, again.attached, again.alerts) == (0, 0, 0, [])
    assert len(first.alerts) == 2


def test_later_posts_attach_as_evidence_without_new_alerts(db, seed, settings):
    seed.mention(LATE, at=T0)
    run(db, settings, T0 + H)
    later = seed.mention(LATE_REPOST, at=T0 + 2 * H)
    report = run(db, settings, T0 + 3 * H)
    assert (report.tickets_opened, report.attached, report.alerts) == (0, 1, [])
    with db.session() as s:
        t = s.scalar(select(Ticket))
        assert [(e.kind, e.detail.get("mention_id")) for e in t.events] == [("opened", None), ("evidence", later)]


def test_general_complaints_wait_below_open_ticket_at_but_signals_open_an_urgent_ticket_at_once(db, seed):
    settings = AlertSettings(open_ticket_at="urgent")
    seed.mention(REFUND, at=T0, severity="important", categories=("after_sales",))
    seed.mention("快送外卖吃出虫子，已经联系律师准备起诉", at=T0, severity="important", categories=("product",),
                 signals=("legal:律师",))
    report = run(db, settings, T0 + H)
    with db.session() as s:
        tickets = s.scalars(select(Ticket)).all()
    assert report.incidents_opened == 2 and len(tickets) == 1
    assert "escalation signal: legal" in report.alerts[0].summary


def test_same_hazard_about_the_same_target_is_one_crisis(db, seed, settings):
    seed.mention("快送外卖的送餐员态度恶劣，吃了以后食物中毒住院了", at=T0, severity="urgent", signals=("safety:食物中毒",))
    seed.mention("快送外卖又吃出问题，全家食物中毒，已经联系记者", at=T0 + H, severity="urgent", categories=(),
                 signals=("safety:食物中毒", "media:记者"))
    seed.mention("优选商城的熟食也吃得食物中毒了", at=T0 + H, severity="urgent", targets=("优选商城",),
                 signals=("safety:食物中毒",))
    run(db, settings, T0 + 2 * H)
    with db.session() as s:
        assert sorted(i.mention_count for i in s.scalars(select(Incident))) == [1, 2]
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_closed_ticket_reopens_when_the_issue_recurs_within_the_window(db, seed, settings):
    seed.mention(LATE, at=T0)
    run(db, settings, T0 + H)
    with db.session() as s:
        t = s.scalar(select(Ticket))
        for state in ("assigned", "investigating", "resolved", "closed"):
            move(s, t, state, actor="cli:wang", now=T0 + 2 * H)
    seed.mention(LATE_REPOST, at=T0 + 72 * H)
    report = run(db, settings, T0 + 73 * H)
    assert (report.reopened, report.tickets_opened) == (1, 0)
    assert [a.key for a in report.alerts] == [f"ticket:{t.id}:reopened:1"]
    with db.session() as s:
        t = s.get(Ticket, t.id)
        assert (t.state, t.reopen_count, t.first_response_due) == ("new", 1, T0 + 73 * H + 4 * H)
    # closed again, and the issue comes back after reopen_within (14 days): a new ticket
    with db.session() as s:
        move(s, s.get(Ticket, t.id), "closed", actor="cli:wang", now=T0 + 74 * H)
    seed.mention(LATE + "，第三次了", at=T0 + 74 * H + timedelta(days=15))
    report = run(db, settings, T0 + 75 * H + timedelta(days=15))
    assert (report.reopened, report.tickets_opened) == (0, 1)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_resolved_ticket_goes_back_to_investigating_when_the_complaint_returns(db, seed, settings):
    seed.mention(LATE, at=T0)
    run(db, settings, T0 + H)
    with db.session() as s:
        t = s.scalar(select(Ticket))
        for state in ("assigned", "investigating", "resolved"):
            move(s, t, state, actor="cli:wang", now=T0 + 2 * H)
    m = seed.mention(LATE_REPOST, at=T0 + 5 * H)
    report = run(db, settings, T0 + 6 * H)
    assert [a.key for a in report.alerts] == [f"ticket:{t.id}:recurred:m{m}"]
    with db.session() as s:
        assert s.get(Ticket, t.id).state == "investigating"


def test_reach_of_an_incident_raises_its_severity(db, seed, settings):
    seed.mention(REFUND, at=T0, severity="general", categories=("after_sales",), followers=300)
    assert run(db, settings, T0 + H).tickets_opened == 0
    seed.mention(REFUND + "!!", at=T0 + H, severity="general", categories=("after_sales",), followers=2_000_000)
    report = run(db, settings, T0 + 2 * H)
    with db.session() as s:
        inc = s.scalar(select(Incident))
        t = s.scalar(select(Ticket))
    assert (inc.severity, "reach" in inc.signals, t.severity, report.tickets_opened) == ("urgent", True, "urgent", 1)


@pytest.mark.parametrize("reposts,expected", [(10, None), (200, "important"), (2000, "urgent")])
def test_engagement_velocity_between_collections_escalates(db, seed, settings, reposts, expected):
    mid = seed.mention(REFUND, at=T0, severity="general", categories=("after_sales",), reposts=0, likes=0)
    with db.session() as s:
        s.add(EngagementSnapshot(mention_id=mid, taken_at=T0, reposts=0, likes=0, comments=0))
    run(db, settings, T0 + H)
    with db.session() as s:
        s.add(EngagementSnapshot(mention_id=mid, taken_at=T0 + 2 * H, reposts=reposts, likes=reposts, comments=0))
    run(db, settings, T0 + 2 * H)
    again = run(db, settings, T0 + 2 * H)
    with db.session() as s:
        inc = s.scalar(select(Incident))
        tickets = s.scalars(select(Ticket)).all()
    # weighted (3 per repost + 1 per like) over two hours
    assert inc.severity == (expected or "general")
    assert [t.severity for t in tickets] == ([expected] if expected else [])
    assert again.alerts == []


def test_a_future_dated_post_counts_from_when_it_was_collected(db, seed, settings):
    """One event-time rule (storage.vocabulary.event_time): a date later than collection is not trusted,
    so a wrong clock on a source cannot push an incident's last_seen into the future."""
    seed.mention(LATE, at=T0 + 30 * 24 * H, collected_at=T0)
    run(db, settings, T0 + H)
    with db.session() as s:
        incident = s.scalars(select(Incident)).one()
        assert (incident.first_seen, incident.last_seen) == (T0, T0)
