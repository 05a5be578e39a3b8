"""SLA timers: time to first response and time to resolution, per severity (settings.sla).

A breach escalates the ticket once per kind and per reopening: escalation_level goes up, an
`escalation` TicketEvent is written and an `escalation` alert is raised. The event key makes this
idempotent: the check can run every five minutes, or twice, and escalates each breach once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alerts.incidents.evidence import ticket_alert
from alerts.notify.base import Alert
from alerts.tickets.process import SYSTEM, record
from storage.models import Incident, Ticket
from storage.timefmt import local_time
from storage.vocabulary import RESOLVED_STATES

NEXT_UP = {"general": "important", "important": "urgent", "urgent": "urgent"}
LABEL = {"first_response": ("首次响应超时", "no first response"), "resolution": ("解决超时", "not resolved")}


@dataclass
class Breach:
    ticket_id: int
    kind: str          # first_response | resolution
    due: datetime
    overdue_hours: float


# -- the one SLA-breach rule -------------------------------------------------------------------------
# Every surface (escalation here, the queue, `repwatch tickets --breached`, the digest) asks these three
# functions, so they cannot disagree. They read timestamps, so they also answer for a past moment (the
# digest of an earlier day): a ticket counts as resolved only while it is in a resolved state, because a
# ticket sent back to investigating is unresolved again (tickets.move clears resolved_at then too).

def open_at(ticket: Ticket, moment: datetime) -> bool:
    return ticket.opened_at <= moment and (ticket.closed_at is None or ticket.closed_at >= moment)


def paused_at(ticket: Ticket, moment: datetime) -> bool:
    """Waiting for the customer at that moment: the clock is stopped, nothing is due and nothing breaches.
    (When the ticket resumes, tickets.resume_clock moves the due times later by the pause.)"""
    return ticket.paused_at is not None and ticket.paused_at <= moment


def next_due(ticket: Ticket, moment: datetime) -> tuple[str, datetime] | None:
    """What the ticket waits for at that moment: (first_response | resolution, due), or None."""
    if not open_at(ticket, moment) or paused_at(ticket, moment):
        return None
    if ticket.first_response_due is not None and (
            ticket.first_response_at is None or ticket.first_response_at >= moment):
        return "first_response", ticket.first_response_due
    if ticket.resolution_due is not None and not (
            ticket.resolved_at is not None and ticket.resolved_at < moment and ticket.state in RESOLVED_STATES):
        return "resolution", ticket.resolution_due
    return None


def breaches_at(ticket: Ticket, moment: datetime) -> list[Breach]:
    """Every SLA the ticket is past at that moment (first response and resolution can both be)."""
    out: list[Breach] = []
    if not open_at(ticket, moment) or paused_at(ticket, moment):
        return out
    if ticket.first_response_due is not None and ticket.first_response_due < moment and (
            ticket.first_response_at is None or ticket.first_response_at >= moment):
        out.append(Breach(ticket.id, "first_response", ticket.first_response_due,
                          (moment - ticket.first_response_due).total_seconds() / 3600))
    if ticket.resolution_due is not None and ticket.resolution_due < moment and not (
            ticket.resolved_at is not None and ticket.resolved_at < moment and ticket.state in RESOLVED_STATES):
        out.append(Breach(ticket.id, "resolution", ticket.resolution_due,
                          (moment - ticket.resolution_due).total_seconds() / 3600))
    return out


def breach_at(ticket: Ticket, moment: datetime) -> Breach | None:
    """The first SLA the ticket breached by that moment, or None."""
    found = breaches_at(ticket, moment)
    return found[0] if found else None


def breached_clause(moment: datetime):
    """breaches_at(t, moment) is non-empty, as SQL, for filters and counts."""
    return and_(
        Ticket.opened_at <= moment, or_(Ticket.closed_at.is_(None), Ticket.closed_at >= moment),
        or_(Ticket.paused_at.is_(None), Ticket.paused_at > moment),
        or_(and_(Ticket.first_response_due < moment,
                 or_(Ticket.first_response_at.is_(None), Ticket.first_response_at >= moment)),
            and_(Ticket.resolution_due < moment,
                 or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= moment,
                     Ticket.state.not_in(RESOLVED_STATES)))))


def breaches(session: Session, now: datetime) -> list[tuple[Ticket, Breach]]:
    """Open tickets past a due time, most overdue first."""
    out = [(t, b) for t in session.scalars(select(Ticket).where(breached_clause(now)).order_by(Ticket.id))
           for b in breaches_at(t, now)]
    return sorted(out, key=lambda tb: -tb[1].overdue_hours)


def check_sla(session: Session, now: datetime, *, base_url: str | None = None,
              tz: tzinfo | None = None) -> list[Alert]:
    """Escalate each new breach: an audit entry and an alert, with the due time in the team's timezone
    `tz`, labelled (storage.timefmt: the same text as the pages and the CLI)."""
    alerts = []
    for ticket, breach in breaches(session, now):
        key = f"t{ticket.id}:sla:{breach.kind}:{ticket.reopen_count}"
        zh, en = LABEL[breach.kind]
        if not record(session, ticket, at=now, actor=SYSTEM, kind="escalation", key=key,
                      note=f"SLA breached: {en} by {local_time(breach.due, tz)}",
                      detail={"sla": breach.kind, "due": breach.due.isoformat(), "level": ticket.escalation_level + 1}):
            continue   # already escalated for this breach
        ticket.escalation_level += 1
        ticket.updated_at = now
        incident = session.get(Incident, ticket.incident_id)
        assert incident is not None   # a ticket's incident is never deleted
        alerts.append(ticket_alert(
            session, ticket, incident, kind="escalation", base_url=base_url, severity=NEXT_UP[ticket.severity],
            key=f"ticket:{ticket.id}:sla:{breach.kind}:{ticket.reopen_count}",
            summary=(f"工单 #{ticket.id} {zh} (SLA breached: {en} by {local_time(breach.due, tz)}); "
                     f"escalation level {ticket.escalation_level}"),
            figures={"sla": breach.kind, "due": local_time(breach.due, tz),
                     "overdue_hours": round(breach.overdue_hours, 1), "escalation_level": ticket.escalation_level}))
    return alerts
