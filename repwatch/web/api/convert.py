"""ORM rows to API shapes. URLs pass through safe_url: a javascript: link never leaves as a link."""
from __future__ import annotations

from datetime import datetime
from typing import overload

from repwatch.web.api.schemas import EventOut, MentionOut, TicketOut
from repwatch.web.queries.queue import is_breached, next_due
from repwatch.web.security import safe_url
from storage.models import Analysis, Mention, Source, Ticket, TicketEvent


def ticket_out(t: Ticket, now: datetime) -> TicketOut:
    out = TicketOut.model_validate(t)
    out.sla_breached = is_breached(t, now)
    out.next_due = next_due(t, now)[0]
    return out


def safe_detail(value):
    """An event's detail with every URL-valued key (`url`, `source_url`, ...) passed through safe_url,
    at any depth: the evidence event keeps the post's URL as collected, which may be `data:` or
    `java\tscript:`; the API promises http(s) only, so those leave as null."""
    if isinstance(value, dict):
        return {k: (safe_url(v) if isinstance(k, str) and k.lower().endswith("url") and isinstance(v, str)
                    else safe_detail(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_detail(v) for v in value]
    return value


@overload
def event_out(e: TicketEvent) -> EventOut: ...


@overload
def event_out(e: None) -> None: ...


@overload
def event_out(e: TicketEvent | None) -> EventOut | None: ...


def event_out(e: TicketEvent | None) -> EventOut | None:
    if e is None:
        return None
    out = EventOut.model_validate(e)
    out.detail = safe_detail(out.detail or {})
    return out


def mention_out(m: Mention, source: Source | None, a: Analysis | None) -> MentionOut:
    return MentionOut(
        id=m.id, source=source.name if source else None, url=safe_url(m.url), author=m.author,
        author_followers=m.author_followers, title=m.title, text=m.text, published_at=m.published_at,
        collected_at=m.collected_at, likes=m.likes, reposts=m.reposts, comments=m.comments,
        sentiment=a.sentiment if a else None, negative=a.negative if a else None,
        complaint=a.complaint if a else None, severity=a.severity if a else None,
        categories=list(a.categories or []) if a else [], signals=list(a.signals or []) if a else [],
        complaint_score=a.complaint_score if a else None, confidence=dict(a.confidence or {}) if a else {})
