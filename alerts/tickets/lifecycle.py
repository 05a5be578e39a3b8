"""What the pipeline does to tickets when an incident changes: open one when the incident is worth it,
attach new posts as evidence, reopen a recently closed ticket when the complaint recurs, and raise a
ticket's severity (and tighten its SLA) when the incident escalates. Each step returns the alerts
it causes; their keys are stable, so the notification log sends each once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incidents.evidence import ticket_alert, what
from alerts.notify.base import Alert
from alerts.settings import AlertSettings
from alerts.tickets.process import SYSTEM, move, open_ticket, raise_ticket_severity, record
from storage.models import Incident, Mention, Ticket, TicketEvent
from storage.vocabulary import PAUSED_STATES, SEVERITY_ZH, severity_rank
from storage.writes import insert_many_returning

URGENT_SIGNALS = {"safety", "media", "legal", "regulator"}


@dataclass
class TicketChanges:
    opened: int = 0
    reopened: int = 0
    attached: int = 0
    escalated: int = 0
    alerts: list[Alert] = field(default_factory=list)
    # None: evidence is recorded post by post; a list: on_mention keeps the evidence events here and
    # write_evidence() writes them in one statement (the alert stage does, once per pass)
    evidence: list[dict] | None = None
    # writes the incident links the caller keeps back (IncidentIndex.write_links), before a read needs them
    write_links: Callable[[], None] | None = None
    # None: on_mention looks the incident's open ticket up for every post; a dict (the alert stage's loop):
    # incident id -> its open ticket (None: none), looked up once per incident in the pass, since the
    # loop's own ensure_ticket is the only thing there that opens or reopens one
    open_tickets: dict[int, Ticket | None] | None = None

    def write_pending(self, session: Session) -> None:
        """Write what is kept back, before a query that reads it or a change that must follow it."""
        if self.write_links is not None:
            self.write_links()
        if self.evidence:
            rows, self.evidence = self.evidence, []
            self.attached += len(insert_many_returning(session, TicketEvent, rows, ["event_key"],
                                                       TicketEvent.event_key))


def open_for(session: Session, incident: Incident) -> Ticket | None:
    if any(isinstance(o, Ticket) for o in session.dirty):   # a ticket closed or reopened, not yet written
        session.flush()
    return session.scalar(select(Ticket).where(Ticket.open_incident_id == incident.id))


class _Look(Enum):
    """The default of `open_ticket_now`: look the open ticket up (None means the caller knows there is none)."""
    LOOK = 0


_LOOK = _Look.LOOK


def ensure_ticket(session: Session, incident: Incident, settings: AlertSettings, now: datetime, *,
                  reason: str, base_url: str | None, changes: TicketChanges, force: bool = False,
                  open_ticket_now: Ticket | None | _Look = _LOOK) -> Ticket | None:
    """The incident's open ticket, opened or reopened when the incident deserves one (severity at or
    above open_ticket_at, or `force` for escalation signals). Raises an open ticket's severity.
    `open_ticket_now`: the caller's own open_for() answer, so it is not asked again for every post."""
    ticket = open_for(session, incident) if open_ticket_now is _LOOK else open_ticket_now
    if ticket is not None:
        if raise_ticket_severity(session, ticket, incident.severity, settings, now, reason=reason):
            changes.escalated += 1
            changes.alerts.append(ticket_alert(
                session, ticket, incident, kind="escalation", base_url=base_url,
                key=f"ticket:{ticket.id}:severity:{ticket.severity}:{ticket.reopen_count}",
                summary=f"工单 #{ticket.id} 升级为{SEVERITY_ZH[ticket.severity]} (escalated to {ticket.severity}): {reason}"))
        return ticket
    if severity_rank(incident.severity) < severity_rank(settings.open_ticket_at) and not force:
        return None
    if incident.status == "dismissed":
        if not force:
            # the team said it is not a complaint (alerts/tickets/corrections.py); only an escalation signal reopens it
            return None
        incident.status = "open"
    last = session.scalar(select(Ticket).where(Ticket.incident_id == incident.id).order_by(Ticket.id.desc()).limit(1))
    if last is not None and last.closed_at is not None and now - last.closed_at <= settings.reopen_within:
        move(session, last, "new", actor=SYSTEM, now=now, settings=settings,
             note=f"the incident recurred within {settings.reopen_within}: {reason}")
        raise_ticket_severity(session, last, incident.severity, settings, now, reason=reason)
        changes.reopened += 1
        changes.alerts.append(ticket_alert(
            session, last, incident, kind="ticket", base_url=base_url,
            key=f"ticket:{last.id}:reopened:{last.reopen_count}",
            summary=f"工单 #{last.id} 重新打开 (reopened, the complaint came back): {what(incident.target, incident.category)}"))
        return last
    ticket, opened = open_ticket(session, incident, settings, now)
    if opened:
        changes.opened += 1
        changes.alerts.append(ticket_alert(
            session, ticket, incident, kind="ticket", base_url=base_url, key=f"ticket:{ticket.id}:opened",
            summary=f"新工单 #{ticket.id} (new ticket): {what(incident.target, incident.category)}; {reason}"))
    return ticket


def _from_the_customer(session: Session, ticket: Ticket, mention: Mention) -> bool:
    """The post is by one of the people who complained on this ticket (alerts/tickets/customers.py's match)."""
    from alerts.tickets.customers import ANONYMOUS, Complainant, complainants, normalise_author, platform_of, same

    author = Complainant(normalise_author(mention.author), platform_of(mention.url))
    return author.name not in ANONYMOUS and any(
        same(author, c) for c in complainants(session, ticket, exclude_mention=mention.id))


def on_mention(session: Session, incident: Incident, mention: Mention, signals: list[str], settings: AlertSettings,
               now: datetime, *, base_url: str | None, changes: TicketChanges) -> None:
    """A post joined the incident: open/reopen a ticket if due, else attach the post as evidence."""
    urgent_signal = {s.split(":", 1)[0] for s in signals or ()} & URGENT_SIGNALS
    ticket = _open_ticket(session, incident, changes)
    if ticket is None:
        reason = (f"escalation signal: {', '.join(sorted(urgent_signal))}" if urgent_signal
                  else f"severity {incident.severity}")
        _keep(changes, incident, ensure_ticket(session, incident, settings, now, reason=reason, base_url=base_url,
                                               changes=changes, force=bool(urgent_signal), open_ticket_now=None))
        return
    evidence: dict[str, Any] = dict(at=now, actor=SYSTEM, kind="evidence", key=f"t{ticket.id}:m{mention.id}",
                    detail={"mention_id": mention.id, "url": mention.url})
    if changes.evidence is not None:
        changes.evidence.append(dict(ticket_id=ticket.id, event_key=evidence.pop("key"), note=None, from_state=None,
                                     to_state=None, **evidence))
    elif record(session, ticket, **evidence):
        changes.attached += 1
    if ticket.state in PAUSED_STATES or ticket.state in ("resolved", "followed_up"):
        # the customer match reads the incident's posts, and the post's evidence comes before any move
        # it causes in the ticket's history
        changes.write_pending(session)
    if ticket.state in PAUSED_STATES and _from_the_customer(session, ticket, mention):
        # the customer answered while the team waited for them: back to work, the SLA clock resumes
        move(session, ticket, "investigating", actor=SYSTEM, now=now,
             note=f"the customer answered (mention {mention.id}); SLA clock resumed")
    elif ticket.state in ("resolved", "followed_up"):
        # The same problem again after it was called resolved: back to investigating (DOMAIN.md: 又, 第三次).
        move(session, ticket, "investigating", actor=SYSTEM, now=now,
             note=f"new post about the same issue after resolution (mention {mention.id})")
        changes.alerts.append(ticket_alert(
            session, ticket, incident, kind="ticket", base_url=base_url,
            key=f"ticket:{ticket.id}:recurred:m{mention.id}",
            summary=f"工单 #{ticket.id} 问题复发 (the complaint came back after resolution)"))
    # moving a ticket between working states keeps it the incident's open ticket
    _keep(changes, incident, ensure_ticket(
        session, incident, settings, now, reason="a new post raised the severity", base_url=base_url,
        changes=changes, open_ticket_now=ticket if ticket.open_incident_id == incident.id else _LOOK))


def _open_ticket(session: Session, incident: Incident, changes: TicketChanges) -> Ticket | None:
    """The incident's open ticket: from the pass's cache (changes.open_tickets) while the cached ticket is
    still open for it (the ORM object shows unflushed changes), else looked up."""
    known = changes.open_tickets
    if known is None:
        return open_for(session, incident)
    if incident.id in known:
        ticket = known[incident.id]
        if ticket is None or ticket.open_incident_id == incident.id:
            return ticket
    ticket = known[incident.id] = open_for(session, incident)
    return ticket


def _keep(changes: TicketChanges, incident: Incident, ticket: Ticket | None) -> None:
    """Remember what ensure_ticket left as the incident's open ticket (None: it opened none); anything else
    (a ticket not open for it) is looked up again next time."""
    if changes.open_tickets is None:
        return
    if ticket is None or ticket.open_incident_id == incident.id:
        changes.open_tickets[incident.id] = ticket
    else:
        changes.open_tickets.pop(incident.id, None)
