"""SLA timers with time travel: the clock is a FrozenClock moved forward by the test."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from alerts.tickets.sla import breaches, check_sla
from alerts.tickets.process import move, open_ticket
from storage.context import RunContext
from storage.models import Incident, Mention, Ticket, TicketEvent

MIN = timedelta(minutes=1)


def urgent_ticket(db, settings, now, severity="urgent") -> int:
    with db.session() as s:
        inc = Incident(key=f"k-{severity}", target="快送外卖", category="product", title="吃了以后食物中毒",
                       severity=severity, signals=["safety:食物中毒"], first_seen=now, last_seen=now,
                       mention_count=1, reach=0, status="open")
        s.add(inc)
        s.flush()
        return open_ticket(s, inc, settings, now)[0].id


def escalations(db, ticket_id):
    with db.session() as s:
        return s.execute(select(TicketEvent.event_key, TicketEvent.at).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "escalation").order_by(TicketEvent.id)).all()


def test_no_first_response_within_an_hour_escalates_an_urgent_ticket_once(db, settings, clock):
    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        assert check_sla(s, clock.advance(59 * MIN)) == []
    with db.session() as s:
        alerts = check_sla(s, clock.advance(2 * MIN), base_url="http://dash")
    assert [(a.kind, a.key, a.severity, a.url) for a in alerts] == [
        ("escalation", f"ticket:{tid}:sla:first_response:0", "urgent", f"http://dash/tickets/{tid}")]
    assert alerts[0].figures["escalation_level"] == 1 and alerts[0].evidence == []
    for _ in range(3):   # the check runs every few minutes; the breach escalates once
        with db.session() as s:
            assert check_sla(s, clock.advance(5 * MIN)) == []
    assert [k for k, _ in escalations(db, tid)] == [f"t{tid}:sla:first_response:0"]
    with db.session() as s:
        assert s.get(Ticket, tid).escalation_level == 1


def test_resolution_breach_after_a_day_is_a_second_escalation(db, settings, clock):
    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        move(s, s.get(Ticket, tid), "assigned", actor="cli:wang", now=clock.advance(30 * MIN))
    with db.session() as s:
        assert check_sla(s, clock.advance(12 * 60 * MIN)) == []
    with db.session() as s:
        alerts = check_sla(s, clock.advance(12 * 60 * MIN))
    assert [a.key for a in alerts] == [f"ticket:{tid}:sla:resolution:0"]
    with db.session() as s:
        t = s.get(Ticket, tid)
        assert t.escalation_level == 1 and t.first_response_at is not None


def test_resolved_in_time_never_escalates(db, settings, clock):
    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        t = s.get(Ticket, tid)
        for state in ("assigned", "investigating", "resolved"):
            move(s, t, state, actor="cli:wang", now=clock.advance(10 * MIN))
    with db.session() as s:
        assert check_sla(s, clock.advance(timedelta(days=3))) == []
        assert breaches(s, clock.now()) == []


def test_each_severity_has_its_own_clock(db, settings, clock):
    start = clock.now()
    ids = {sev: urgent_ticket(db, settings, start, severity=sev) for sev in ("urgent", "important", "general")}
    seen = {}
    for hours in (2, 5, 25, 73, 24 * 7 + 1):
        clock.at = start + timedelta(hours=hours)
        with db.session() as s:
            for a in check_sla(s, clock.now()):
                seen.setdefault(a.ticket_id, []).append((hours, a.key.split(":")[3]))
    assert seen == {ids["urgent"]: [(2, "first_response"), (25, "resolution")],
                    ids["important"]: [(5, "first_response"), (73, "resolution")],
                    ids["general"]: [(25, "first_response"), (24 * 7 + 1, "resolution")]}


def test_a_reopened_ticket_can_breach_again(db, settings, clock):
    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        check_sla(s, clock.advance(2 * 60 * MIN))
    with db.session() as s:
        t = s.get(Ticket, tid)
        move(s, t, "closed", actor="cli:wang", now=clock.advance(MIN))
        move(s, t, "new", actor="cli:wang", now=clock.advance(MIN), settings=settings)
    with db.session() as s:
        assert [a.key for a in check_sla(s, clock.advance(61 * MIN))] == [f"ticket:{tid}:sla:first_response:1"]
        assert s.scalar(select(func.max(Ticket.escalation_level))) == 2


def test_a_ticket_sent_back_from_resolved_breaches_on_every_surface_alike(db, settings, clock):
    """One breach rule (alerts.sla): escalation, the dashboard's filter and counter, and the digest agree
    about a ticket moved from resolved back to investigating. Before, only escalation saw the breach,
    because the others tested a resolved_at that leaving 'resolved' did not clear."""
    from zoneinfo import ZoneInfo

    from alerts.digest.data import gather
    from alerts.tickets.sla import breach_at, breached_clause
    from repwatch.web.queries.queue import QueueFilters, counters, queue

    tid = urgent_ticket(db, settings, clock.now())
    for step in ("assigned", "investigating", "resolved", "investigating"):
        with db.session() as s:
            move(s, s.get(Ticket, tid), step, actor="cli:wang", now=clock.advance(30 * MIN))
    with db.session() as s:
        assert s.get(Ticket, tid).resolved_at is None      # sent back to work: unresolved again
    now = clock.advance(24 * 60 * MIN)
    with db.session() as s:
        t = s.get(Ticket, tid)
        assert breach_at(t, now).kind == "resolution"
        assert [b.kind for _, b in breaches(s, now)] == ["resolution"]
        assert s.scalars(select(Ticket.id).where(breached_clause(now))).all() == [tid]
        assert [r.ticket.id for r in queue(s, QueueFilters(breached=True), now)] == [tid]
        assert counters(s, now, ZoneInfo("UTC"))["breached"] == 1
        digest = gather(s, now.date(), ZoneInfo("UTC"))
        assert digest.tickets.overdue == 1 and [t.id for t in digest.overdue_tickets] == [tid]
        assert [a.key for a in check_sla(s, now)] == [f"ticket:{tid}:sla:resolution:0"]


def test_a_resolved_ticket_is_not_breached_anywhere(db, settings, clock):
    from alerts.tickets.sla import breach_at, breached_clause

    tid = urgent_ticket(db, settings, clock.now())
    for step in ("assigned", "investigating", "resolved"):
        with db.session() as s:
            move(s, s.get(Ticket, tid), step, actor="cli:wang", now=clock.advance(30 * MIN))
    now = clock.advance(48 * 60 * MIN)
    with db.session() as s:
        assert breach_at(s.get(Ticket, tid), now) is None
        assert s.scalars(select(Ticket.id).where(breached_clause(now))).all() == []
        assert breaches(s, now) == []


def test_todays_digest_lists_only_breaches_that_have_happened(db, settings, clock):
    """The digest for a day still running measures SLA as of the moment it is built (not the day's end),
    so it agrees with `repwatch tickets --breached` at that moment."""
    from zoneinfo import ZoneInfo

    from alerts.digest.data import gather

    tid = urgent_ticket(db, settings, clock.now())          # T0 02:00 UTC; first response due 03:00
    utc = ZoneInfo("UTC")
    with db.session() as s:
        early = gather(s, clock.now().date(), utc, now=clock.now() + 30 * MIN)
        late = gather(s, clock.now().date(), utc, now=clock.now() + 90 * MIN)
        day_after = gather(s, clock.now().date(), utc)      # a past day: as of its end
    assert early.tickets.overdue == 0 and early.overdue_tickets == []
    assert [(t.id, t.state) for t in late.overdue_tickets] == [(tid, "first_response")]
    assert late.overdue_tickets[0].overdue_by == 30 * MIN
    assert day_after.tickets.overdue == 1


# -- waiting for the customer: the SLA clock pauses, and resumes with the due times moved later ---------

def test_waiting_for_the_customer_pauses_the_clock_and_resuming_shifts_the_due_times(db, settings, clock):
    from zoneinfo import ZoneInfo

    from alerts.tickets.sla import breach_at, breached_clause, next_due
    from repwatch.web.queries.queue import QueueFilters, counters, queue

    tid = urgent_ticket(db, settings, clock.now())            # first response due T0+1h, resolution T0+24h
    with db.session() as s:
        t = s.get(Ticket, tid)
        move(s, t, "assigned", actor="cli:wang", now=clock.advance(10 * MIN))
        resolution_due = t.resolution_due
        move(s, t, "waiting_customer", actor="cli:wang", now=clock.advance(50 * MIN))   # paused at T0+1h
        assert t.paused_at == clock.now()
    now = clock.advance(timedelta(hours=30))                  # well past the old resolution due time
    with db.session() as s:
        t = s.get(Ticket, tid)
        assert breach_at(t, now) is None and next_due(t, now) is None
        assert s.scalars(select(Ticket.id).where(breached_clause(now))).all() == []
        assert check_sla(s, now) == [] and breaches(s, now) == []
        assert [r.ticket.id for r in queue(s, QueueFilters(breached=True), now)] == []
        assert counters(s, now, ZoneInfo("UTC"))["breached"] == 0
    assert escalations(db, tid) == []
    with db.session() as s:                                   # the customer answers: back to work
        t = s.get(Ticket, tid)
        move(s, t, "investigating", actor="cli:wang", now=clock.now())
        assert t.paused_at is None
        assert t.resolution_due == resolution_due + timedelta(hours=30)
        ev = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.to_state == "investigating")).one()
        assert ev.detail["paused_seconds"] == 30 * 3600
    with db.session() as s:                                   # 23 hours of the day used up before the pause...
        assert check_sla(s, clock.advance(22 * 60 * MIN)) == []
    with db.session() as s:                                   # ...and the clock runs out after the last hour
        alerts = check_sla(s, clock.advance(2 * 60 * MIN))
        assert [a.key for a in alerts] == [f"ticket:{tid}:sla:resolution:0"]
        assert s.scalars(select(Ticket.id).where(breached_clause(clock.now()))).all() == [tid]


def test_only_working_states_can_wait_for_the_customer(db, settings, clock):
    import pytest

    from alerts.exceptions import IllegalTransition

    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        t = s.get(Ticket, tid)
        with pytest.raises(IllegalTransition):
            move(s, t, "waiting_customer", actor="cli:wang", now=clock.now())
        move(s, t, "assigned", actor="cli:wang", now=clock.now())
        move(s, t, "investigating", actor="cli:wang", now=clock.now())
        move(s, t, "waiting_customer", actor="cli:wang", now=clock.now())
        with pytest.raises(IllegalTransition):
            move(s, t, "resolved", actor="cli:wang", now=clock.now())


def test_a_paused_first_response_breach_waits_too_and_the_cli_agrees(db, settings, clock):
    """A ticket paused before its first-response due time (an agent asked the customer) stays unbreached
    in `repwatch tickets --breached` and in the dashboard; after resuming, the due time is shifted."""
    from alerts.tickets.sla import breach_at

    tid = urgent_ticket(db, settings, clock.now())
    with db.session() as s:
        t = s.get(Ticket, tid)
        move(s, t, "assigned", actor=SYSTEM_ACTOR, now=clock.advance(5 * MIN))   # routing: no response yet
        due = t.first_response_due
        move(s, t, "waiting_customer", actor=SYSTEM_ACTOR, now=clock.advance(5 * MIN))
    with db.session() as s:
        assert breach_at(s.get(Ticket, tid), clock.advance(3 * 60 * MIN)) is None
    with db.session() as s:
        t = s.get(Ticket, tid)
        move(s, t, "assigned", actor=SYSTEM_ACTOR, now=clock.now())
        assert t.first_response_due == due + timedelta(hours=3)
        assert breach_at(t, clock.now()) is None
        assert breach_at(t, clock.now() + 51 * MIN).kind == "first_response"


SYSTEM_ACTOR = "repwatch"


def test_the_customers_answer_resumes_the_clock_and_someone_elses_post_does_not(db, seed, settings, clock):
    """The pipeline sees the customer post again while the ticket waits for them: back to investigating,
    due times moved by the pause. A post by somebody else only joins as evidence."""
    from alerts.stage import evaluate

    text = "快送外卖送餐太慢，等了两个小时还没到，客服也不回，我要投诉"
    first = seed.mention(text, at=clock.now() - 10 * MIN, severity="important")
    with db.session() as s:
        s.get(Mention, first).author = "李雷"
        evaluate(s, settings, RunContext(clock.now()))
    with db.session() as s:
        t = s.scalar(select(Ticket))
        tid, due = t.id, t.resolution_due
        move(s, t, "assigned", actor="cli:wang", now=clock.advance(5 * MIN))
        move(s, t, "waiting_customer", actor="cli:wang", now=clock.now())
    other = seed.mention(text + "！！", at=clock.advance(60 * MIN), severity="important")
    with db.session() as s:
        evaluate(s, settings, RunContext(clock.now()))
        t = s.get(Ticket, tid)
        assert other in {e.detail.get("mention_id") for e in t.events if e.kind == "evidence"}
        assert t.state == "waiting_customer"
    answer = seed.mention(text + "，订单号123", at=clock.advance(60 * MIN), severity="important")
    with db.session() as s:
        s.get(Mention, answer).author = "@李雷"
        evaluate(s, settings, RunContext(clock.now()))
    with db.session() as s:
        t = s.get(Ticket, tid)
        assert answer in {e.detail.get("mention_id") for e in t.events if e.kind == "evidence"}
        assert (t.state, t.paused_at) == ("investigating", None)
        assert t.resolution_due == due + 120 * MIN
        last = [e for e in t.events if e.kind == "state"][-1]
        assert (last.actor, last.from_state, last.detail["paused_seconds"]) == ("repwatch", "waiting_customer", 7200)



def test_the_breach_note_and_alert_give_the_due_time_in_the_team_timezone(db, settings, clock):
    """One clock: the escalation's audit entry (shown on the ticket page and by `ticket show`) and its alert
    say when the ticket was due in the team's time, labelled, not in unlabelled or bare UTC."""
    from zoneinfo import ZoneInfo

    from storage.timefmt import local_time

    tid = urgent_ticket(db, settings, clock.now())   # 2026-11-23 02:00 UTC = 10:00 in Beijing
    with db.session() as s:
        due = s.get(Ticket, tid).first_response_due
        alerts = check_sla(s, clock.advance(61 * MIN), tz=ZoneInfo("Asia/Shanghai"))
    shown = local_time(due, "Asia/Shanghai")
    assert shown == "2026-11-23 11:00 CST"
    assert alerts[0].figures["due"] == shown and f"first response by {shown}" in alerts[0].summary
    with db.session() as s:
        note = s.scalar(select(TicketEvent.note).where(TicketEvent.ticket_id == tid, TicketEvent.kind == "escalation"))
    assert note == f"SLA breached: no first response by {shown}"
