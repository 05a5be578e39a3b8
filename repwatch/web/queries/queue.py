"""The queue: open tickets, most burning first, with the filters and counters the team works by.

Ordering is severity first, then SLA urgency: anything already past a due time, then the nearest
due time. A ticket's next due time is its first-response deadline until someone responds, then its
resolution deadline until it is resolved."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from urllib.parse import urlencode

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from alerts import sla
from storage.vocabulary import OPEN_STATES, SEVERITY_RANK
from storage.models import Incident, IncidentMention, Mention, Source, Ticket, TicketEvent

QUEUE_LIMIT = 500
SOON = timedelta(hours=2)   # "breaching soon": the next due time (sla.next_due) is at most this far off
VIEWS = {"mine": "我的 Mine", "unassigned": "未指派 Unassigned", "soon": "即将超时 Breaching soon (2 h)"}


@dataclass
class QueueFilters:
    state: list[str] = field(default_factory=list)        # empty = every open state
    severity: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    department: str | None = None
    source: int | None = None
    breached: bool = False
    assignee: str | None = None
    target: str | None = None
    view: str | None = None          # mine | unassigned | soon (VIEWS)
    me: str | None = None            # who "mine" is: the logged-in user
    day_from: date | None = None     # the ticket's clock started on or after this local day (team's timezone)
    day_to: date | None = None       # ... on or before this local day, included
    tz: tzinfo | None = None         # the team's timezone, for the days above

    def active(self) -> bool:
        return bool(self.state or self.severity or self.category or self.department or self.source or self.breached
                    or self.assignee or self.target or self.view or self.day_from or self.day_to)

    def query_string(self) -> str:
        """The filters as the queue page's query string: what a saved view stores and links to."""
        pairs = [("view", self.view)] + [("state", v) for v in self.state] + \
            [("severity", v) for v in self.severity] + [("category", v) for v in self.category] + \
            [("department", self.department), ("source", self.source), ("assignee", self.assignee),
             ("target", self.target), ("breached", "1" if self.breached else None),
             ("from", self.day_from.isoformat() if self.day_from else None),
             ("to", self.day_to.isoformat() if self.day_to else None)]
        return urlencode([(k, v) for k, v in pairs if v])

    def instants(self) -> tuple[datetime | None, datetime | None]:
        """The local days as the instants [start, end) they cover: `day_to` is the whole day. A day at the
        end of the calendar (year 1 or 9999) is no bound at all."""
        tz = self.tz or timezone.utc

        def midnight(day: date | None, plus: int = 0) -> datetime | None:
            if day is None:
                return None
            try:
                return datetime.combine(day + timedelta(days=plus), time(0), tzinfo=tz).astimezone(timezone.utc)
            except (OverflowError, ValueError):   # outside what a datetime holds
                return None

        return midnight(self.day_from), midnight(self.day_to, 1)


def clock_start():
    """When a ticket's clock started, as SQL: its latest reopening, else its opening. The reports count a
    ticket in the period its clock started in (alerts.reports.clock_start), so the queue's date filter uses
    the same rule and a report's figure and the tickets it links to agree."""
    reopened = (select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == Ticket.id,
                                                       TicketEvent.kind == "reopened")
                .correlate(Ticket).scalar_subquery())
    return func.coalesce(reopened, Ticket.opened_at)


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
    if f.assignee:
        stmt = stmt.where(Ticket.assignee == f.assignee)
    if f.target:
        stmt = stmt.where(Ticket.incident_id.in_(select(Incident.id).where(Incident.target == f.target)))
    start, end = f.instants()
    if start is not None:
        stmt = stmt.where(clock_start() >= start)
    if end is not None:
        stmt = stmt.where(clock_start() < end)
    if f.view == "mine":
        stmt = stmt.where(Ticket.assignee == (f.me or ""))
    elif f.view == "unassigned":
        stmt = stmt.where(Ticket.assignee.is_(None))
    return stmt


def breaching_soon(row: "QueueRow", now: datetime) -> bool:
    """Not yet breached, and the next due time (the one SLA rule, alerts/tickets/sla.py) within SOON."""
    return not row.breached and row.next_due is not None and row.next_due <= now + SOON


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
    if f.view == "soon":
        rows = [r for r in rows if breaching_soon(r, now)]
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


def filter_choices(session: Session, alert_settings=None) -> dict[str, list]:
    """The pickers' options: people are the team's users and routed people, departments those the
    routing config names and those on tickets (repwatch/assignees.py); targets those incidents have."""
    from repwatch.assignees import assignees

    who = assignees(session, alert_settings)
    sources = session.execute(select(Source.id, Source.name).order_by(Source.name))
    targets = session.scalars(select(Incident.target).where(Incident.target.is_not(None)).distinct()
                              .order_by(Incident.target))
    return {"departments": who.departments, "people": who.people, "sources": [(i, n) for i, n in sources],
            "targets": list(targets)}
