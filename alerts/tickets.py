"""The complaint-handling process (DOMAIN.md) as a state machine with an audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.exceptions import IllegalTransition
from alerts.settings import AlertSettings
from storage.models import Incident, Ticket, TicketEvent
from storage.writes import insert_ignore

STATES = ("new", "triaged", "assigned", "investigating", "resolved", "followed_up", "closed")
OPEN_STATES = STATES[:-1]
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "assigned", "closed"),
    "triaged": ("assigned", "closed"),
    "assigned": ("investigating", "triaged", "closed"),
    "investigating": ("resolved", "assigned"),
    "resolved": ("followed_up", "investigating", "closed"),
    "followed_up": ("closed", "investigating"),
    "closed": ("new",),   # reopening starts the process again
}
PRIORITY = {"urgent": 1, "important": 2, "general": 3}
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


def open_ticket(session: Session, incident: Incident, settings: AlertSettings, now: datetime) -> tuple[Ticket, bool]:
    """The open ticket for an incident, opened if there is none. Returns (ticket, opened_now)."""
    existing = session.scalar(select(Ticket).where(Ticket.open_incident_id == incident.id))
    if existing is not None:
        return existing, False
    sla = settings.sla[incident.severity if incident.severity in settings.sla else "general"]
    route = settings.routing.get(incident.category) if incident.category else None
    route = route or settings.default_route
    values = dict(
        incident_id=incident.id, open_incident_id=incident.id, state="new", severity=incident.severity,
        priority=PRIORITY.get(incident.severity, 3), category=incident.category, title=incident.title[:300],
        department=route.department, assignee=route.assignee, opened_at=now, updated_at=now,
        first_response_due=now + sla.first_response, resolution_due=now + sla.resolution, external_refs={},
    )
    created = insert_ignore(session, Ticket, values, ["open_incident_id"])
    ticket = session.scalar(select(Ticket).where(Ticket.open_incident_id == incident.id))
    if created:
        record(session, ticket, at=now, actor=SYSTEM, kind="opened", to_state="new", key=f"t{ticket.id}:opened",
               detail={"severity": ticket.severity, "category": ticket.category, "department": ticket.department})
    return ticket, created


def move(session: Session, ticket: Ticket, to_state: str, *, actor: str, now: datetime, note: str | None = None) -> None:
    if to_state not in STATES:
        raise IllegalTransition(ticket.id, ticket.state, to_state, list(TRANSITIONS[ticket.state]))
    allowed = TRANSITIONS[ticket.state]
    if to_state not in allowed:
        raise IllegalTransition(ticket.id, ticket.state, to_state, list(allowed))
    before = ticket.state
    ticket.state = to_state
    ticket.updated_at = now
    if ticket.first_response_at is None and to_state != "closed":
        ticket.first_response_at = now
    if to_state == "resolved":
        ticket.resolved_at = now
    if to_state == "closed":
        ticket.closed_at = now
        ticket.open_incident_id = None
    if before == "closed":  # reopened
        ticket.open_incident_id = ticket.incident_id
        ticket.reopen_count += 1
        ticket.closed_at = ticket.resolved_at = None
    record(session, ticket, at=now, actor=actor, kind="reopened" if before == "closed" else "state",
           from_state=before, to_state=to_state, note=note)


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
