"""The queue: open tickets, most burning first, with the filters and counters the team works by.

Ordering is severity first, then SLA urgency: anything already past a due time, then the nearest
due time. A ticket's next due time is its first-response deadline until someone responds, then its
resolution deadline until it is resolved."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from alerts import sla
from storage.vocabulary import OPEN_STATES, SEVERITY_RANK
from storage.models import Incident, IncidentMention, Mention, Source, Ticket

QUEUE_LIMIT = 500


@dataclass
class QueueFilters:
    state: list[str] = field(default_factory=list)        # empty = every open state
    severity: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    department: str | None = None
    source: int | None = None
    breached: bool = False

    def active(self) -> bool:
        return bool(self.state or self.severity or self.category or self.department or self.source or self.breached)


@dataclass
class QueueRow:
    ticket: Ticket
    incident: Incident
    next_due: datetime | None
    due_kind: str | None       # first_response | resolution
    breached: bool


def next_due(t: Ticket, now: datetime) -> tuple[datetime | None, str | None]:
    due = sla.next_due(t, now)
    return (due[1], due[0]) if due else (None, None)


def is_breached(t: Ticket, now: datetime) -> bool:
    return sla.breach_at(t, now) is not None


def ticket_query(f: QueueFilters, now: datetime):
    states = [s for s in f.state if s in OPEN_STATES or s == "closed"] or list(OPEN_STATES)
    stmt = select(Ticket).where(Ticket.state.in_(states))
    if f.severity:
        stmt = stmt.where(Ticket.severity.in_(f.severity))
    if f.category:
        stmt = stmt.where(Ticket.category.in_(f.category))
    if f.department:
        stmt = stmt.where(Ticket.department == f.department)
    if f.source:
        stmt = stmt.where(exists().where(IncidentMention.incident_id == Ticket.incident_id,
                                         IncidentMention.mention_id == Mention.id, Mention.source_id == f.source))
    if f.breached:
        stmt = stmt.where(sla.breached_clause(now))
    return stmt


def urgency(row: QueueRow) -> tuple:
    due = row.next_due.timestamp() if row.next_due else float("inf")
    return (-SEVERITY_RANK.get(row.ticket.severity, 0), not row.breached, due, row.ticket.id)


def queue(session: Session, f: QueueFilters, now: datetime) -> list[QueueRow]:
    # SQL picks the most pressing QUEUE_LIMIT by priority (severity) and due time; Python then orders
    # them exactly, which needs the per-ticket "next due" that SQL cannot express portably.
    stmt = ticket_query(f, now).order_by(Ticket.priority, Ticket.resolution_due, Ticket.id).limit(QUEUE_LIMIT)
    tickets = list(session.scalars(stmt))
    incidents = {i.id: i for i in session.scalars(
        select(Incident).where(Incident.id.in_({t.incident_id for t in tickets})))} if tickets else {}
    rows = []
    for t in tickets:
        due, kind = next_due(t, now)
        rows.append(QueueRow(t, incidents[t.incident_id], due, kind, is_breached(t, now)))
    rows.sort(key=urgency)
    return rows


def counters(session: Session, now: datetime, tz: tzinfo) -> dict[str, int]:
    """Across every open ticket, whatever the filters: the numbers at the top of the page.
    "Today" is the team's local day."""
    open_ = Ticket.state.in_(OPEN_STATES)
    count = lambda *where: session.scalar(select(func.count(Ticket.id)).where(open_, *where)) or 0  # noqa: E731
    start_of_day = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "open": count(),
        "urgent": count(Ticket.severity == "urgent"),
        "important": count(Ticket.severity == "important"),
        "general": count(Ticket.severity == "general"),
        "breached": count(sla.breached_clause(now)),
        "unassigned": count(Ticket.assignee.is_(None)),
        "new": count(Ticket.state == "new"),
        "opened_today": count(Ticket.opened_at >= start_of_day),
    }


def untracked_incidents(session: Session, limit: int = 50) -> list[Incident]:
    """Open incidents with no open ticket (below the ticket threshold, or their ticket closed)."""
    has_ticket = exists().where(Ticket.open_incident_id == Incident.id)
    stmt = (select(Incident).where(Incident.status == "open", ~has_ticket)
            .order_by(Incident.last_seen.desc()).limit(limit))
    return list(session.scalars(stmt))


def filter_choices(session: Session) -> dict[str, list]:
    departments = session.scalars(select(Ticket.department).where(Ticket.department.is_not(None))
                                  .distinct().order_by(Ticket.department))
    sources = session.execute(select(Source.id, Source.name).order_by(Source.name))
    return {"departments": list(departments), "sources": [(i, n) for i, n in sources]}
