"""ORM rows to API shapes. URLs pass through safe_url: a javascript: link never leaves as a link."""
from __future__ import annotations

from datetime import datetime

from repwatch.web.api.schemas import EventOut, MentionOut, TicketOut
from repwatch.web.queries.queue import is_breached, next_due
from repwatch.web.security import safe_url
from storage.models import Analysis, Mention, Source, Ticket, TicketEvent


def ticket_out(t: Ticket, now: datetime) -> TicketOut:
    out = TicketOut.model_validate(t)
    out.sla_breached = is_breached(t, now)
    out.next_due = next_due(t, now)[0]
    return out


def event_out(e: TicketEvent | None) -> EventOut | None:
    return EventOut.model_validate(e) if e is not None else None


def mention_out(m: Mention, source: Source | None, a: Analysis | None) -> MentionOut:
    return MentionOut(
        id=m.id, source=source.name if source else None, url=safe_url(m.url), author=m.author,
        author_followers=m.author_followers, title=m.title, text=m.text, published_at=m.published_at,
        collected_at=m.collected_at, likes=m.likes, reposts=m.reposts, comments=m.comments,
        sentiment=a.sentiment if a else None, negative=a.negative if a else None,
        complaint=a.complaint if a else None, severity=a.severity if a else None,
        categories=list(a.categories or []) if a else [], signals=list(a.signals or []) if a else [])
