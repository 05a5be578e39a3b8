"""Repeat complainants: the same customer's other tickets, found by the authors of each ticket's posts.

A post's author is matched on the normalised name (Unicode NFKC, case folded, spaces collapsed, a
leading @ dropped) and, where both posts have one, the platform (the host of the post's link without
www./m.): so the same Weibo user is found across two Weibo sources, and two people who share a name on
different platforms are not mixed up. Anonymous names (匿名, 网友, anonymous ...) never match."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import IncidentMention, Mention, Ticket

ANONYMOUS = {"", "匿名", "匿名用户", "网友", "游客", "用户", "anonymous", "anon", "guest", "unknown", "-", "none"}
MAX_LOOKUP = 2000


@dataclass(frozen=True)
class Complainant:
    name: str               # normalised
    platform: str | None


@dataclass
class OtherTicket:
    ticket: Ticket
    author: str | None      # as the other ticket's post spells it
    earlier: bool           # opened before this ticket


def normalise_author(name: str | None) -> str:
    name = " ".join(unicodedata.normalize("NFKC", name or "").split()).casefold()
    return name.lstrip("@").strip()


def platform_of(url: str | None) -> str | None:
    try:
        host = (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return None
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    return host or None


def complainants(session: Session, ticket: Ticket, exclude_mention: int | None = None) -> set[Complainant]:
    stmt = (select(Mention.author, Mention.url).join(IncidentMention, IncidentMention.mention_id == Mention.id)
            .where(IncidentMention.incident_id == ticket.incident_id))
    if exclude_mention is not None:
        stmt = stmt.where(Mention.id != exclude_mention)
    rows = session.execute(stmt).all()
    out = set()
    for author, url in rows:
        name = normalise_author(author)
        if name not in ANONYMOUS:
            out.add(Complainant(name, platform_of(url)))
    return out


def same(a: Complainant, b: Complainant) -> bool:
    return a.name == b.name and (a.platform is None or b.platform is None or a.platform == b.platform)


def other_tickets(session: Session, ticket: Ticket) -> list[OtherTicket]:
    """The same customer's other tickets (any state), oldest first."""
    mine = complainants(session, ticket)
    if not mine:
        return []
    names = {c.name for c in mine}
    # narrow in SQL by the lower-cased name (with and without @), then match exactly in Python
    spelled = names | {"@" + n for n in names}
    rows = session.execute(
        select(Ticket, Mention.author, Mention.url)
        .join(IncidentMention, IncidentMention.incident_id == Ticket.incident_id)
        .join(Mention, Mention.id == IncidentMention.mention_id)
        .where(func.lower(func.trim(Mention.author)).in_(spelled), Ticket.id != ticket.id)
        .order_by(Ticket.opened_at, Ticket.id).limit(MAX_LOOKUP)).all()
    found: dict[int, OtherTicket] = {}
    for other, author, url in rows:
        theirs = Complainant(normalise_author(author), platform_of(url))
        if other.id not in found and any(same(theirs, c) for c in mine):
            earlier = (other.opened_at, other.id) < (ticket.opened_at, ticket.id)
            found[other.id] = OtherTicket(other, author, earlier)
    return list(found.values())
