"""What the pipeline does to tickets when an incident changes: open one when the incident is worth it,
attach new posts as evidence, reopen a recently closed ticket when the complaint recurs, and raise a
ticket's severity (and tighten its SLA) when the incident escalates. Each step returns the alerts
it causes; their keys are stable, so the notification log sends each once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incidents.evidence import ticket_alert, what
from alerts.notify.base import Alert
from alerts.settings import AlertSettings
from alerts.tickets.process import SYSTEM, move, open_ticket, raise_ticket_severity, record
from storage.models import Incident, Mention, Ticket
from storage.vocabulary import PAUSED_STATES, SEVERITY_ZH, severity_rank

URGENT_SIGNALS = {"safety", "media", "legal", "regulator"}


@dataclass
class TicketChanges:
    opened: int = 0
    reopened: int = 0
    attached: int = 0
    escalated: int = 0
    alerts: list[Alert] = field(default_factory=list)


def open_for(session: Session, incident: Incident) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.open_incident_id == incident.id))


def ensure_ticket(session: Session, incident: Incident, settings: AlertSettings, now: datetime, *,
                  reason: str, base_url: str | None, changes: TicketChanges, force: bool = False) -> Ticket | None:
    """The incident's open ticket, opened or reopened when the incident deserves one (severity at or
    above open_ticket_at, or `force` for escalation signals). Raises an open ticket's severity."""
    ticket = open_for(session, incident)
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
    ticket = open_for(session, incident)
    if ticket is None:
        reason = (f"escalation signal: {', '.join(sorted(urgent_signal))}" if urgent_signal
                  else f"severity {incident.severity}")
        ensure_ticket(session, incident, settings, now, reason=reason, base_url=base_url, changes=changes,
                      force=bool(urgent_signal))
        return
    if record(session, ticket, at=now, actor=SYSTEM, kind="evidence", key=f"t{ticket.id}:m{mention.id}",
              detail={"mention_id": mention.id, "url": mention.url}):
        changes.attached += 1
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
    ensure_ticket(session, incident, settings, now, reason="a new post raised the severity", base_url=base_url,
                  changes=changes)
