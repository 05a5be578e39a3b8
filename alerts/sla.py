"""SLA timers: time to first response and time to resolution, per severity (settings.sla).

A breach escalates the ticket once per kind and per reopening: escalation_level goes up, an
`escalation` TicketEvent is written and an `escalation` alert is raised. The event key makes this
idempotent: the check can run every five minutes, or twice, and escalates each breach once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alerts.evidence import ticket_alert
from alerts.notify.base import Alert
from alerts.tickets import OPEN_STATES, SYSTEM, record
from storage.models import Incident, Ticket

RESOLVED = ("resolved", "followed_up", "closed")
NEXT_UP = {"general": "important", "important": "urgent", "urgent": "urgent"}
LABEL = {"first_response": ("首次响应超时", "no first response"), "resolution": ("解决超时", "not resolved")}


@dataclass
class Breach:
    ticket_id: int
    kind: str          # first_response | resolution
    due: datetime
    overdue_hours: float


def breaches(session: Session, now: datetime) -> list[tuple[Ticket, Breach]]:
    """Open tickets past a due time, most overdue first."""
    stmt = select(Ticket).where(Ticket.state.in_(OPEN_STATES), or_(
        and_(Ticket.first_response_at.is_(None), Ticket.first_response_due < now),
        and_(Ticket.state.not_in(RESOLVED), Ticket.resolution_due < now)))
    out = []
    for t in session.scalars(stmt.order_by(Ticket.id)):
        if t.first_response_at is None and t.first_response_due is not None and t.first_response_due < now:
            out.append((t, Breach(t.id, "first_response", t.first_response_due,
                                  (now - t.first_response_due).total_seconds() / 3600)))
        if t.state not in RESOLVED and t.resolution_due is not None and t.resolution_due < now:
            out.append((t, Breach(t.id, "resolution", t.resolution_due,
                                  (now - t.resolution_due).total_seconds() / 3600)))
    return sorted(out, key=lambda tb: -tb[1].overdue_hours)


def check_sla(session: Session, now: datetime, *, base_url: str | None = None) -> list[Alert]:
    alerts = []
    for ticket, breach in breaches(session, now):
        key = f"t{ticket.id}:sla:{breach.kind}:{ticket.reopen_count}"
        zh, en = LABEL[breach.kind]
        if not record(session, ticket, at=now, actor=SYSTEM, kind="escalation", key=key,
                      note=f"SLA breached: {en} by {breach.due:%Y-%m-%d %H:%M} UTC",
                      detail={"sla": breach.kind, "due": breach.due.isoformat(), "level": ticket.escalation_level + 1}):
            continue   # already escalated for this breach
        ticket.escalation_level += 1
        ticket.updated_at = now
        incident = session.get(Incident, ticket.incident_id)
        alerts.append(ticket_alert(
            session, ticket, incident, kind="escalation", base_url=base_url, severity=NEXT_UP[ticket.severity],
            key=f"ticket:{ticket.id}:sla:{breach.kind}:{ticket.reopen_count}",
            summary=(f"工单 #{ticket.id} {zh} (SLA breached: {en} by {breach.due:%Y-%m-%d %H:%M} UTC); "
                     f"escalation level {ticket.escalation_level}"),
            figures={"sla": breach.kind, "due": f"{breach.due:%Y-%m-%d %H:%M} UTC",
                     "overdue_hours": round(breach.overdue_hours, 1), "escalation_level": ticket.escalation_level}))
    return alerts
