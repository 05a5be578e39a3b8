"""Corrections: a team member says a post or a ticket is (not) a complaint, or changes its categories
or severity. The verdict is stored per mention (storage.models.Correction, with who and when and the
model's prediction at that moment), written to the ticket's audit trail, and fixes the ticket at once:

- categories → the ticket's category (the first one given) and its route (department and person,
  alerts/tickets/routing.py); the incident keeps the model's category, which groups later near-duplicates;
- severity → the ticket's severity, priority and SLA due times, counted from when the ticket was
  opened (or last reopened), as if it had been graded so from the start;
- not a complaint → the ticket is closed as dismissed (from any open state) and its incident is marked
  `dismissed`: later posts joining it are attached as evidence but open no ticket, unless they carry
  an escalation signal (safety, legal, regulator, media);
- is a complaint, on a dismissed ticket → the ticket is reopened (SLA restarts) and the incident is open again.

A ticket correction that only changes categories or severity leaves alone the posts someone already
labelled "not a complaint". A correction of one post labels that post only (training data); it is noted
in the audit trail of its incident's ticket but leaves the ticket's routing alone: to re-route, correct
the ticket.
`repwatch train` learns from the corrections (storage.corrections.labelled_examples)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.exceptions import AlertError
from alerts.tickets.routing import route_for
from alerts.settings import AlertSettings
from alerts.tickets.process import SYSTEM, _sla, move, record
from storage.clean import clean_text
from storage.corrections import latest_labels
from storage.models import Analysis, Correction, Incident, IncidentMention, Mention, Ticket, TicketEvent
from storage.vocabulary import CATEGORIES, PRIORITY, SEVERITIES

DISMISSED = "dismissed"          # Incident.status of an incident the team said is not a complaint
NOT_A_COMPLAINT = "not_a_complaint"
MAX_REASON = 4000


class CorrectionError(AlertError):
    """The correction cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Change:
    """What the agent says. None = unchanged. Giving categories or a severity implies "is a complaint"."""

    complaint: bool | None = None
    categories: tuple[str, ...] | None = None
    severity: str | None = None
    reason: str | None = None

    def validated(self) -> "Change":
        cats = None if self.categories is None else tuple(
            dict.fromkeys(c.strip() for c in self.categories if c.strip()))
        if cats is not None:
            unknown = [c for c in cats if c not in CATEGORIES]
            if unknown:
                raise CorrectionError(f"unknown category {', '.join(unknown)}; categories: {', '.join(CATEGORIES)}")
            if not cats:
                raise CorrectionError("give at least one category (or say it is not a complaint)")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise CorrectionError(f"unknown severity {self.severity!r}; severities: {', '.join(SEVERITIES)}")
        if self.complaint is False and (cats or self.severity):
            raise CorrectionError("a post that is not a complaint has no category or severity; give one or the other")
        reason = (clean_text(self.reason) or "").strip() or None   # NUL, controls, lone surrogates
        if reason and len(reason) > MAX_REASON:
            raise CorrectionError(f"the reason is too long ({len(reason)} characters; at most {MAX_REASON})")
        complaint = True if self.complaint is None and (cats or self.severity) else self.complaint
        if complaint is None:
            raise CorrectionError("nothing to correct: say whether it is a complaint, or give categories or a severity")
        return Change(complaint, cats, self.severity, reason)

    @property
    def changed(self) -> list[str]:
        return [name for name, value in (("complaint", self.complaint), ("categories", self.categories),
                                         ("severity", self.severity)) if value is not None]

    def as_dict(self) -> dict:
        return {"complaint": self.complaint, "categories": None if self.categories is None else list(self.categories),
                "severity": self.severity}


def prediction(analysis: Analysis | None) -> dict:
    if analysis is None:
        return {}
    return {"complaint": bool(analysis.complaint), "categories": list(analysis.categories or []),
            "severity": analysis.severity, "model_version": analysis.model_version}


def current_label(session: Session, mention_id: int) -> tuple[bool, list[str], str | None, dict]:
    """(complaint, categories, severity, prediction): the latest correction's label, else the model's."""
    analysis = session.scalar(select(Analysis).where(Analysis.mention_id == mention_id))
    last = session.scalar(select(Correction).where(Correction.mention_id == mention_id)
                          .order_by(Correction.at.desc(), Correction.id.desc()).limit(1))
    pred = prediction(analysis)
    if last is not None:
        return bool(last.complaint), list(last.categories or []), last.severity, pred
    if not pred:
        return False, [], None, pred
    severity = pred["severity"] if pred["severity"] in SEVERITIES else None
    if not pred["complaint"]:
        return False, [], None, pred
    return True, pred["categories"], severity, pred


def label_mention(session: Session, mention_id: int, change: Change, *, ticket_id: int | None, actor: str,
                  now: datetime) -> Correction:
    """Store one post's new label (a validated Change over its current label), with the model's prediction."""
    complaint, categories, severity, pred = current_label(session, mention_id)
    assert change.complaint is not None   # a validated change always says it
    complaint = change.complaint
    if change.categories is not None:
        categories = list(change.categories)
    if change.severity is not None:
        severity = change.severity
    if not complaint:
        categories, severity = [], None
    row = Correction(mention_id=mention_id, ticket_id=ticket_id, at=now, actor=actor, complaint=complaint,
                     categories=categories, severity=severity, changed=change.changed, reason=change.reason,
                     predicted=pred)
    session.add(row)
    return row


def _ticket_of(session: Session, mention_id: int) -> Ticket | None:
    """The ticket a post is evidence for: its incident's open ticket, else the incident's latest."""
    incident_ids = list(session.scalars(select(IncidentMention.incident_id)
                                        .where(IncidentMention.mention_id == mention_id)))
    if not incident_ids:
        return None
    return (session.scalar(select(Ticket).where(Ticket.open_incident_id.in_(incident_ids)).limit(1))
            or session.scalar(select(Ticket).where(Ticket.incident_id.in_(incident_ids))
                              .order_by(Ticket.id.desc()).limit(1)))


def correct_mention(session: Session, mention: Mention, change: Change, *, actor: str, now: datetime,
                    settings: AlertSettings | None = None) -> Correction:
    """Label one post. Noted in the audit trail of the ticket it is evidence for, if any.

    With `settings`, a post the model missed (in no incident) that is now said to be a complaint is
    raised at once: it joins its near-duplicates' incident or starts one, and gets a ticket routed by
    its corrected category (even below `open_ticket_at`: a person said it is a complaint)."""
    change = change.validated()
    missed = settings is not None and change.complaint and session.scalar(
        select(IncidentMention.id).where(IncidentMention.mention_id == mention.id).limit(1)) is None
    ticket = None if missed else _ticket_of(session, mention.id)
    row = label_mention(session, mention.id, change, ticket_id=ticket.id if ticket else None, actor=actor, now=now)
    session.flush()
    if missed and settings is not None:   # missed implies settings
        ticket = raise_missed(session, mention, row, settings, now=now)
        row.ticket_id = ticket.id
    if ticket is not None:
        ticket.updated_at = now
        record(session, ticket, at=now, actor=actor, kind="correction", note=change.reason,
               detail={"scope": "mention", "mention_id": mention.id, **change.as_dict(),
                       "label": {"complaint": row.complaint, "categories": row.categories, "severity": row.severity},
                       "predicted": row.predicted, "correction_ids": [row.id], "raised": missed})
    return row


def raise_missed(session: Session, mention: Mention, row: Correction, settings: AlertSettings, *,
                 now: datetime) -> Ticket:
    """Put a missed complaint where the model would have: into its incident (near-duplicates, same target
    and compatible category, as alerts/incidents/index.py groups), with an open ticket. Returns the ticket."""
    from types import SimpleNamespace

    from alerts.incidents.index import IncidentIndex, join, vectors_of
    from alerts.tickets.process import open_ticket

    analysis = session.scalar(select(Analysis).where(Analysis.mention_id == mention.id))
    as_corrected = SimpleNamespace(targets=list(analysis.targets or []) if analysis else [],
                                   categories=list(row.categories), severity=row.severity or "general",
                                   signals=list(analysis.signals or []) if analysis else [])
    incident, _, _ = join(session, IncidentIndex(session, settings.incidents, now), as_corrected, mention, now,
                          vectors_of(session, [mention.id]).get(mention.id))
    ticket = session.scalar(select(Ticket).where(Ticket.open_incident_id == incident.id))
    if ticket is not None:
        record(session, ticket, at=now, actor=SYSTEM, kind="evidence", key=f"t{ticket.id}:m{mention.id}",
               detail={"mention_id": mention.id, "url": mention.url})
        return ticket
    incident.status = "open"
    ticket, _ = open_ticket(session, incident, settings, now)
    return ticket


def _clock_start(session: Session, ticket: Ticket) -> datetime:
    """When the ticket's SLA clock started: its opening, or its last reopening."""
    reopened = session.scalar(select(TicketEvent.at).where(TicketEvent.ticket_id == ticket.id,
                                                           TicketEvent.kind == "reopened")
                              .order_by(TicketEvent.at.desc(), TicketEvent.id.desc()).limit(1))
    return reopened or ticket.opened_at


def is_dismissed(session: Session, ticket: Ticket) -> bool:
    incident = session.get(Incident, ticket.incident_id)
    return ticket.state == "closed" and incident is not None and incident.status == DISMISSED


def correct_ticket(session: Session, ticket: Ticket, change: Change, settings: AlertSettings, *, actor: str,
                   now: datetime) -> list[Correction]:
    """Correct a ticket: every post of its incident gets the label, and the ticket's routing, severity,
    SLA or state follow at once. Returns the corrections written (one per post)."""
    implied = change.complaint is None
    change = change.validated()
    incident = session.get(Incident, ticket.incident_id)
    assert incident is not None   # a ticket's incident is never deleted
    if change.complaint is False and ticket.state == "closed" and incident.status == DISMISSED:
        raise CorrectionError(f"ticket #{ticket.id} is already dismissed as not a complaint")
    if change.complaint and ticket.state == "closed" and incident.status != DISMISSED and (
            change.categories is not None or change.severity is not None):
        raise CorrectionError(f"ticket #{ticket.id} is closed; reopen it before changing its routing")
    mention_ids = list(session.scalars(select(IncidentMention.mention_id)
                                       .where(IncidentMention.incident_id == incident.id)
                                       .order_by(IncidentMention.mention_id)))
    if implied:
        # new categories or a severity speak about the complaint posts: a post someone already said is
        # not a complaint keeps that label
        dismissed_posts = {m for m, c in latest_labels(session, mention_ids).items() if not c.complaint}
        mention_ids = [m for m in mention_ids if m not in dismissed_posts]
    rows = [label_mention(session, m, change, ticket_id=ticket.id, actor=actor, now=now) for m in mention_ids]
    session.flush()
    before = {"category": ticket.category, "department": ticket.department, "assignee": ticket.assignee,
              "severity": ticket.severity, "state": ticket.state,
              "first_response_due": _iso(ticket.first_response_due), "resolution_due": _iso(ticket.resolution_due)}
    reopen = bool(change.complaint) and is_dismissed(session, ticket)
    if reopen:
        incident.status = "open"
        move(session, ticket, "new", actor=actor, now=now, settings=settings,
             note="是投诉 is a complaint" + (f": {change.reason}" if change.reason else ""))
    if change.categories:
        category = change.categories[0]
        route = route_for(settings, category)
        # The incident keeps the model's category: it is what groups the next near-duplicate posts
        # (the model will likely call them the same), so they keep joining this re-routed ticket.
        ticket.category = category
        ticket.department, ticket.assignee = route.department, route.assignee
    if change.severity:
        ticket.severity, ticket.priority = change.severity, PRIORITY.get(change.severity, 3)
        incident.severity = change.severity   # else the next post would raise the ticket back to the old grade
        sla, start = _sla(settings, change.severity), _clock_start(session, ticket)
        if ticket.first_response_at is None:
            ticket.first_response_due = start + sla.first_response
        ticket.resolution_due = start + sla.resolution
    ticket.updated_at = now
    if change.complaint and ticket.first_response_at is None and actor != SYSTEM and ticket.state != "closed":
        ticket.first_response_at = now   # assessing and classifying (评估与分类) is a response by a person
    after = {"category": ticket.category, "department": ticket.department, "assignee": ticket.assignee,
             "severity": ticket.severity, "state": "closed" if change.complaint is False else ticket.state,
             "first_response_due": _iso(ticket.first_response_due), "resolution_due": _iso(ticket.resolution_due)}
    record(session, ticket, at=now, actor=actor, kind="correction", note=change.reason,
           detail={"scope": "ticket", **change.as_dict(), "mentions": len(rows),
                   "from": before, "to": after, "correction_ids": [r.id for r in rows]})
    if change.complaint is False:
        dismiss(session, ticket, incident, actor=actor, now=now, reason=change.reason)
    return rows


def dismiss(session: Session, ticket: Ticket, incident: Incident, *, actor: str, now: datetime,
            reason: str | None) -> None:
    """Close the ticket as not a complaint, from whatever state it is in, and mark the incident."""
    incident.status = DISMISSED
    if ticket.state == "closed":
        return
    before = ticket.state
    ticket.state, ticket.closed_at, ticket.open_incident_id, ticket.updated_at = "closed", now, None, now
    record(session, ticket, at=now, actor=actor, kind="state", from_state=before, to_state="closed",
           note="不是投诉 not a complaint" + (f": {reason}" if reason else ""),
           detail={"dismissed": NOT_A_COMPLAINT})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None



def describe(detail: dict) -> str:
    """One line for an audit-trail `correction` event: what the agent said and what changed."""
    parts = []
    if detail.get("scope") == "mention":
        parts.append(f"post #{detail.get('mention_id')}")
    if detail.get("complaint") is False:
        parts.append("not a complaint")
    elif detail.get("complaint"):
        parts.append("complaint")
    if detail.get("categories"):
        parts.append("categories " + ", ".join(detail["categories"]))
    if detail.get("severity"):
        parts.append(f"severity {detail['severity']}")
    before, after = detail.get("from") or {}, detail.get("to") or {}
    for key in ("department", "assignee", "state"):
        if before.get(key) != after.get(key):
            parts.append(f"{key} {before.get(key) or '-'} → {after.get(key) or '-'}")
    return "; ".join(parts)
