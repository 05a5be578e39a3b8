"""The ticket state machine (DOMAIN.md's process), routing, follow-up and reopening, on a real database."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.exceptions import AlertError, IllegalTransition
from alerts.tickets.routing import route_for
from alerts.settings import AlertSettings
from alerts.tickets.process import STATES, TRANSITIONS, assign, follow_up, move, open_ticket, raise_ticket_severity
from storage.models import Incident, Ticket, TicketEvent
from tests.alerts.conftest import T0

HOUR = timedelta(hours=1)


def make_incident(s, key="快送外卖/delivery/m1", severity="important", category="delivery") -> Incident:
    inc = Incident(key=key, target="快送外卖", category=category, title="外卖三天没到", severity=severity, signals=[],
                   first_seen=T0, last_seen=T0, mention_count=1, reach=0, status="open")
    s.add(inc)
    s.flush()
    return inc


def test_the_whole_process_leaves_one_event_per_step_with_who_and_when(db, settings):
    path = ["triaged", "assigned", "investigating", "resolved", "followed_up", "closed"]
    with db.session() as s:
        ticket, opened = open_ticket(s, make_incident(s), settings, T0)
        assert opened and ticket.state == "new" and ticket.priority == 2
        for i, state in enumerate(path, start=1):
            move(s, ticket, state, actor="cli:wang", now=T0 + i * HOUR, note=f"step {i}",
                 satisfied=True if state == "followed_up" else None)
        events = [(e.kind, e.from_state, e.to_state, e.actor, e.at) for e in ticket.events]
    assert events[0][:3] == ("opened", None, "new") and events[0][3] == "repwatch"
    assert events[1:] == [("state", a, b, "cli:wang", T0 + i * HOUR)
                          for i, (a, b) in enumerate(zip(["new"] + path, path), start=1)]
    with db.session() as s:
        t = s.get(Ticket, ticket.id)
        assert (t.first_response_at, t.resolved_at, t.closed_at) == (T0 + HOUR, T0 + 4 * HOUR, T0 + 6 * HOUR)
        assert t.follow_up_satisfied is True and t.open_incident_id is None


ILLEGAL = [(a, b) for a in STATES for b in STATES if b not in TRANSITIONS[a] and a != b]


@pytest.mark.parametrize("current,wanted", ILLEGAL[:12] + [("new", "bogus")])
def test_illegal_transitions_are_refused_with_the_allowed_ones_named(db, settings, current, wanted):
    with db.session() as s:
        ticket, _ = open_ticket(s, make_incident(s), settings, T0)
        ticket.state = current
        with pytest.raises(IllegalTransition) as err:
            move(s, ticket, wanted, actor="cli:wang", now=T0)
        assert ticket.state == current
        assert all(allowed in str(err.value) for allowed in TRANSITIONS[current])


def test_every_state_is_reachable_and_only_closed_reopens():
    reachable, frontier = {"new"}, ["new"]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(STATES)
    assert [s for s in STATES if "new" in TRANSITIONS[s]] == ["closed"]


def test_routing_sends_each_category_to_its_department_and_person(db):
    settings = AlertSettings.model_validate({
        "routing": {"delivery": {"department": "物流部", "assignee": "李雷"}, "product": {"department": "品控部"}},
        "default_route": {"department": "客服中心", "assignee": "值班"}})
    assert route_for(settings, "delivery").model_dump() == {"department": "物流部", "assignee": "李雷"}
    assert route_for(settings, "product").model_dump() == {"department": "品控部", "assignee": None}
    assert route_for(settings, "price").model_dump() == {"department": "客服中心", "assignee": "值班"}
    with db.session() as s:
        t, _ = open_ticket(s, make_incident(s), settings, T0)
        assert (t.department, t.assignee) == ("物流部", "李雷")


def test_one_open_ticket_per_incident(db, settings):
    with db.session() as s:
        inc = make_incident(s)
        first, opened1 = open_ticket(s, inc, settings, T0)
        again, opened2 = open_ticket(s, inc, settings, T0 + HOUR)
        assert (opened1, opened2, first.id) == (True, False, again.id)
        assert len(s.scalars(select(Ticket)).all()) == 1
        assert [e.kind for e in first.events] == ["opened"]


def test_reopen_restarts_the_sla_and_refuses_when_another_ticket_is_open(db, settings):
    with db.session() as s:
        inc = make_incident(s, severity="urgent")
        t, _ = open_ticket(s, inc, settings, T0)
        move(s, t, "closed", actor="cli:wang", now=T0 + HOUR, note="false alarm")
        other, opened = open_ticket(s, inc, settings, T0 + 2 * HOUR)
        assert opened and other.id != t.id
        with pytest.raises(AlertError, match="already has open ticket"):
            move(s, t, "new", actor="cli:wang", now=T0 + 3 * HOUR)
        move(s, other, "closed", actor="cli:wang", now=T0 + 3 * HOUR)
        move(s, t, "new", actor="cli:wang", now=T0 + 4 * HOUR, settings=settings)
        assert (t.state, t.reopen_count, t.open_incident_id, t.closed_at) == ("new", 1, inc.id, None)
        assert t.first_response_due == T0 + 5 * HOUR and t.resolution_due == T0 + 28 * HOUR
        assert t.events[-1].kind == "reopened"


def test_follow_up_records_whether_the_customer_is_satisfied(db, settings):
    with db.session() as s:
        t, _ = open_ticket(s, make_incident(s), settings, T0)
        for state in ("assigned", "investigating", "resolved"):
            move(s, t, state, actor="cli:wang", now=T0)
        follow_up(s, t, satisfied=False, actor="cli:wang", now=T0 + HOUR, note="客户仍不满意")
        assert (t.state, t.follow_up_satisfied) == ("followed_up", False)
        assert t.events[-1].detail == {"satisfied": False}
        move(s, t, "investigating", actor="cli:wang", now=T0 + 2 * HOUR, note="second try")


def test_assign_moves_a_new_ticket_to_assigned_and_counts_as_first_response(db, settings):
    with db.session() as s:
        t, _ = open_ticket(s, make_incident(s), settings, T0)
        assign(s, t, assignee="王芳", department=None, actor="cli:li", now=T0 + HOUR, note="责任到人")
        kinds = [(e.kind, e.to_state) for e in t.events]
        assert kinds == [("opened", "new"), ("assign", None), ("state", "assigned")]
        assert (t.assignee, t.department, t.first_response_at) == ("王芳", "客服中心", T0 + HOUR)


def test_severity_only_goes_up_and_tightens_the_sla(db, settings):
    with db.session() as s:
        t, _ = open_ticket(s, make_incident(s, severity="general"), settings, T0)
        assert t.first_response_due == T0 + 24 * HOUR
        assert raise_ticket_severity(s, t, "urgent", settings, T0 + 2 * HOUR, reason="spreading")
        assert (t.severity, t.priority, t.first_response_due, t.resolution_due) == (
            "urgent", 1, T0 + 3 * HOUR, T0 + 26 * HOUR)
        assert not raise_ticket_severity(s, t, "important", settings, T0 + 3 * HOUR, reason="x")
        assert s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == t.id)).all() == ["opened", "severity"]
