"""Every alert carries its evidence: links, count vs expected, the top posts by reach, category and
severity. Built here, from the database, so each kind of alert shows the same things."""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.notify.base import Alert
from storage.models import Incident, IncidentMention, Mention, Source, Ticket
from storage.timefmt import local_time
from storage.vocabulary import CATEGORY_ZH, signal_label

TOP_POSTS = 3


def _reach_order():
    return (func.coalesce(Mention.author_followers, 0).desc(), func.coalesce(Mention.reposts, 0).desc(), Mention.id)


def post(session: Session, m: Mention) -> dict:
    source = session.get(Source, m.source_id)
    return {"text": (m.title + " " if m.title and m.title not in m.text else "") + m.text[:300], "url": m.url,
            "author": m.author, "reach": m.author_followers, "source": source.name if source else None,
            "likes": m.likes, "reposts": m.reposts, "comments": m.comments}


def top_posts(session: Session, *, incident_id: int | None = None, mention_ids: list[int] | None = None,
              limit: int = TOP_POSTS) -> list[dict]:
    stmt = select(Mention)
    if incident_id is not None:
        stmt = stmt.join(IncidentMention, IncidentMention.mention_id == Mention.id).where(
            IncidentMention.incident_id == incident_id)
    if mention_ids is not None:
        stmt = stmt.where(Mention.id.in_(mention_ids or [-1]))
    return [post(session, m) for m in session.scalars(stmt.order_by(*_reach_order()).limit(limit))]


def ticket_url(base_url: str | None, ticket_id: int | None) -> str | None:
    return f"{base_url.rstrip('/')}/tickets/{ticket_id}" if base_url and ticket_id else None


def spread_of(session: Session, incident_id: int) -> tuple[int, list[str]]:
    """How far an incident has gone: its distinct authors (a post without an author counts as its own
    voice) and the names of its sources, most posts first."""
    rows = session.execute(select(Mention.author, Mention.id, Source.name)
                           .join(IncidentMention, IncidentMention.mention_id == Mention.id)
                           .join(Source, Source.id == Mention.source_id, isouter=True)
                           .where(IncidentMention.incident_id == incident_id)).all()
    authors = {(source, author) if author else ("#", mention_id) for author, mention_id, source in rows}
    per_source: dict[str, int] = {}
    for _, _, source in rows:
        per_source[source or "-"] = per_source.get(source or "-", 0) + 1
    return len(authors), sorted(per_source, key=lambda k: (-per_source[k], k))


def incident_figures(incident: Incident, session: Session | None = None, tz: tzinfo | None = None) -> dict:
    """The incident's figures for an alert; times in the team's timezone `tz`, labelled (UTC without one)."""
    about = {"about": incident.label} if incident.label else {}
    spread = {}
    if session is not None:
        authors, sources = spread_of(session, incident.id)
        spread = {"authors": authors, "sources": ", ".join(sources[:5]) + (" …" if len(sources) > 5 else "")}
    return {**about, "mentions": incident.mention_count, **spread, "reach": incident.reach,
            "first_seen": local_time(incident.first_seen, tz), "last_seen": local_time(incident.last_seen, tz),
            "signals": ", ".join(signal_label(s) for s in incident.signals or []) or "-"}


def _utc(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()


def sla_deadline(ticket: Ticket, moment: datetime) -> dict | None:
    """What the team must do next on the ticket, and by when, as the alert carries it: the one SLA rule's
    `next_due` (first response until it is given, then resolution; none while paused or once resolved)."""
    # imported here: alerts.tickets.sla builds its escalation alerts with ticket_alert from this module
    from alerts.tickets.sla import next_due

    due = next_due(ticket, moment)
    return {"kind": due[0], "due": _utc(due[1])} if due else None


def ticket_alert(session: Session, ticket: Ticket, incident: Incident, *, kind: str, key: str, summary: str,
                 base_url: str | None, severity: str | None = None, figures: dict | None = None,
                 repeatable: bool = False) -> Alert:
    category = incident.category or ticket.category
    return Alert(
        key=key, kind=kind, title=incident.title[:120], severity=severity or ticket.severity, summary=summary,
        category=category, url=ticket_url(base_url, ticket.id), ticket_id=ticket.id, incident_id=incident.id,
        target=incident.target, repeatable=repeatable,
        figures={"ticket": f"#{ticket.id} {ticket.state}", "owner": ticket.assignee or ticket.department or "-",
                 **(figures or {})},
    )


def attach_evidence(session: Session, alerts: list[Alert], now: datetime, tz: tzinfo | None = None) -> list[Alert]:
    """The one place an incident's alert gets its evidence (top posts, figures) and a ticket's alert its SLA
    deadline, once, at the end of the pass that raised it: an alert raised early in the pass then shows the
    incident and the ticket as they stand at the end (a repost that joined later in the same pass is
    evidence too). Alerts about a series of complaints rather than an incident carry the posts of their
    bin, set where they are raised."""
    for alert in alerts:
        ticket = session.get(Ticket, alert.ticket_id) if alert.ticket_id is not None else None
        if ticket is not None:
            alert.deadline = sla_deadline(ticket, now)
        if alert.incident_id is None:
            continue
        incident = session.get(Incident, alert.incident_id)
        if incident is None:
            continue
        alert.evidence = top_posts(session, incident_id=incident.id)
        alert.figures = {**incident_figures(incident, session, tz), **alert.figures}
    return alerts


def what(target: str | None, category: str | None) -> str:
    cat = f"{CATEGORY_ZH.get(category, category)} {category}" if category else "其他 other"
    return f"{target or '未指定对象'} / {cat}"
