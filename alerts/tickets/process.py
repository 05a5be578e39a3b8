"""The complaint-handling process (DOMAIN.md) as a state machine with an audit trail.

new → triaged → assigned → investigating → resolved → followed_up → closed, with the side steps a
real desk needs (assign straight from new, back to investigating when the customer is not satisfied
or the complaint recurs, close a false alarm early) and reopening from closed. Every change is a
TicketEvent with who and when."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.exceptions import AlertError, IllegalTransition
from alerts.tickets.routing import route_for
from alerts.settings import AlertSettings
from storage.models import Incident, Ticket, TicketEvent
from storage.vocabulary import OPEN_STATES  # noqa: F401  (callers of alerts.tickets.process use it)
from storage.vocabulary import PAUSED_STATES, PRIORITY, RESOLVED_STATES, TICKET_STATES, severity_rank
from storage.writes import insert_ignore, insert_or_get

STATES = TICKET_STATES
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "assigned", "closed"),
    "triaged": ("assigned", "closed"),
    "assigned": ("investigating", "waiting_customer", "triaged", "closed"),
    "investigating": ("resolved", "waiting_customer", "assigned"),
    # waiting for the customer's answer: the SLA clock is paused until the ticket goes back to work
    "waiting_customer": ("investigating", "assigned", "closed"),
    "resolved": ("followed_up", "investigating", "closed"),
    "followed_up": ("closed", "investigating"),
    "closed": ("new",),   # reopening starts the process again
}
SYSTEM = "repwatch"


def record(session: Session, ticket: Ticket, *, at: datetime, actor: str, kind: str, note: str | None = None,
           key: str | None = None, from_state: str | None = None, to_state: str | None = None,
           detail: dict | None = None) -> bool:
    """Append to the audit trail. With a key, the same event is written once, however often retried."""
    values = dict(ticket_id=ticket.id, event_key=key, at=at, actor=actor, kind=kind, note=note,
                  from_state=from_state, to_state=to_state, detail=detail or {})
    if key is None:
        session.add(TicketEvent(**values))
        return True
    return insert_ignore(session, TicketEvent, values, ["event_key"])


def _sla(settings: AlertSettings, severity: str):
    return settings.sla[severity if severity in settings.sla else "general"]


def open_ticket(session: Session, incident: Incident, settings: AlertSettings, now: datetime) -> tuple[Ticket, bool]:
    """The open ticket for an incident, opened if there is none. Returns (ticket, opened_now).
    Ticket.open_incident_id is unique, so two writers cannot open two tickets for one incident."""
    sla = _sla(settings, incident.severity)
    route = route_for(settings, incident.category)
    values = dict(
        incident_id=incident.id, open_incident_id=incident.id, state="new", severity=incident.severity,
        priority=PRIORITY.get(incident.severity, 3), category=incident.category, title=incident.title[:300],
        department=route.department, assignee=route.assignee, opened_at=now, updated_at=now,
        first_response_due=now + sla.first_response, resolution_due=now + sla.resolution, external_refs={},
    )
    # one statement for a new ticket; an open ticket already there (ours or a concurrent writer's) is read
    ticket, created = insert_or_get(session, Ticket, values, ["open_incident_id"])
    if created:
        record(session, ticket, at=now, actor=SYSTEM, kind="opened", to_state="new", key=f"t{ticket.id}:opened",
               detail={"severity": ticket.severity, "category": ticket.category, "department": ticket.department,
                       "assignee": ticket.assignee})
    return ticket, created


def move(session: Session, ticket: Ticket, to_state: str, *, actor: str, now: datetime, note: str | None = None,
         satisfied: bool | None = None, settings: AlertSettings | None = None) -> None:
    """Move a ticket along the process. `satisfied` is the follow-up result (客户是否满意), kept when
    moving to followed_up. Reopening restarts the SLA clock from now (with `settings`, else the defaults)."""
    if to_state not in STATES:
        raise IllegalTransition(ticket.id, ticket.state, to_state, list(TRANSITIONS[ticket.state]))
    allowed = TRANSITIONS[ticket.state]
    if to_state not in allowed:
        raise IllegalTransition(ticket.id, ticket.state, to_state, list(allowed))
    before = ticket.state
    if before == "closed":
        _reopen(session, ticket, now, settings or AlertSettings())
    detail: dict = {}
    if to_state in PAUSED_STATES and ticket.paused_at is None:
        ticket.paused_at = now                     # the SLA clock stops
    elif to_state not in PAUSED_STATES and ticket.paused_at is not None:
        detail["paused_seconds"] = resume_clock(ticket, now)
    ticket.state = to_state
    ticket.updated_at = now
    if ticket.first_response_at is None and actor != SYSTEM and to_state != "closed" and before != "closed":
        ticket.first_response_at = now   # the first move by a person is the first response
    if to_state == "resolved":
        ticket.resolved_at = now
    elif before in RESOLVED_STATES and to_state not in RESOLVED_STATES:
        ticket.resolved_at = None   # sent back to work: unresolved again, so the resolution SLA runs
    if to_state == "followed_up" and satisfied is not None:
        ticket.follow_up_satisfied = satisfied
    if to_state == "closed":
        ticket.closed_at = now
        ticket.open_incident_id = None
    if to_state == "followed_up" and satisfied is not None:
        detail["satisfied"] = satisfied
    record(session, ticket, at=now, actor=actor, kind="reopened" if before == "closed" else "state",
           from_state=before, to_state=to_state, note=note, detail=detail)


def resume_clock(ticket: Ticket, now: datetime) -> int:
    """End a pause: the due times move later by the time spent waiting for the customer (a due time
    already met stays as it was). Returns the pause in whole seconds."""
    if ticket.paused_at is None:   # not paused: nothing to resume
        return 0
    paused = max(now - ticket.paused_at, timedelta(0))
    if ticket.first_response_due is not None and ticket.first_response_at is None:
        ticket.first_response_due += paused
    if ticket.resolution_due is not None and ticket.resolved_at is None:
        ticket.resolution_due += paused
    ticket.paused_at = None
    return int(paused.total_seconds())


def _reopen(session: Session, ticket: Ticket, now: datetime, settings: AlertSettings) -> None:
    other = session.scalar(select(Ticket.id).where(Ticket.open_incident_id == ticket.incident_id,
                                                   Ticket.id != ticket.id))
    if other is not None:
        raise AlertError(f"ticket {ticket.id} cannot be reopened: its incident already has open ticket {other}")
    sla = _sla(settings, ticket.severity)
    ticket.open_incident_id = ticket.incident_id
    ticket.reopen_count += 1
    ticket.closed_at = ticket.resolved_at = ticket.first_response_at = ticket.paused_at = None
    ticket.follow_up_satisfied = None
    ticket.first_response_due = now + sla.first_response
    ticket.resolution_due = now + sla.resolution


def follow_up(session: Session, ticket: Ticket, *, satisfied: bool, actor: str, now: datetime,
              note: str | None = None) -> None:
    """Record the follow-up call (跟进回访): resolved → followed_up with the customer's verdict."""
    move(session, ticket, "followed_up", actor=actor, now=now, note=note, satisfied=satisfied)


def assign(session: Session, ticket: Ticket, *, assignee: str | None, department: str | None, actor: str,
           now: datetime, note: str | None = None) -> None:
    detail = {"from": {"assignee": ticket.assignee, "department": ticket.department},
              "to": {"assignee": assignee or ticket.assignee, "department": department or ticket.department}}
    ticket.assignee = assignee or ticket.assignee
    ticket.department = department or ticket.department
    ticket.updated_at = now
    record(session, ticket, at=now, actor=actor, kind="assign", note=note, detail=detail)
    if ticket.state in ("new", "triaged"):
        move(session, ticket, "assigned", actor=actor, now=now)
    elif ticket.first_response_at is None and actor != SYSTEM:
        ticket.first_response_at = now


def raise_ticket_severity(session: Session, ticket: Ticket, severity: str, settings: AlertSettings, now: datetime,
                          *, reason: str) -> bool:
    """An incident got worse: the ticket's severity, priority and SLA due times follow (never relax).
    Returns True when it changed."""
    if severity_rank(severity) <= severity_rank(ticket.severity):
        return False
    before = ticket.severity
    sla = _sla(settings, severity)
    ticket.severity, ticket.priority = severity, PRIORITY.get(severity, 3)
    if ticket.first_response_at is None:
        ticket.first_response_due = min(ticket.first_response_due, now + sla.first_response)
    ticket.resolution_due = min(ticket.resolution_due, now + sla.resolution)
    ticket.updated_at = now
    record(session, ticket, at=now, actor=SYSTEM, kind="severity", note=reason,
           key=f"t{ticket.id}:severity:{severity}:{ticket.reopen_count}", detail={"from": before, "to": severity})
    return True
