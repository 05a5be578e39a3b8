"""The alert stage: complaints graded at or above `open_ticket_at` join an incident; each incident
has one open ticket; new mentions attach to it as evidence.

Spread detection (alerts/detect.py) plugs in here: it turns volume into extra alerts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notify.base import Alert
from alerts.settings import AlertSettings
from alerts.tickets import open_ticket, record
from storage.models import Analysis, Incident, IncidentMention, Mention, Source
from storage.writes import insert_ignore

RANK = {"none": 0, "general": 1, "important": 2, "urgent": 3}


@dataclass
class EvaluateReport:
    incidents_opened: int = 0
    tickets_opened: int = 0
    attached: int = 0
    alerts: list[Alert] = field(default_factory=list)


def incident_key(analysis: Analysis) -> str:
    target = analysis.targets[0] if analysis.targets else "-"
    category = analysis.categories[0] if analysis.categories else "other"
    kinds = {s.split(":", 1)[0] for s in analysis.signals}
    # A safety problem is one incident per target whatever words people use for it; legal, media and
    # regulator escalations are handled apart from routine grumbling in the same category.
    if "safety" in kinds:
        return f"{target}/safety"
    if kinds & {"media", "legal", "regulator"}:
        return f"{target}/{category}/escalated"
    return f"{target}/{category}"


def _pending(session: Session, settings: AlertSettings):
    """Graded complaints not yet in any incident. Cross-source reposts are skipped: the original counts."""
    floor = RANK[settings.open_ticket_at]
    wanted = [s for s, r in RANK.items() if r >= floor]
    linked = select(IncidentMention.mention_id)
    stmt = (select(Analysis, Mention).join(Mention, Mention.id == Analysis.mention_id)
            .where(Analysis.severity.in_(wanted), Mention.id.not_in(linked), Mention.duplicate_of_id.is_(None))
            .order_by(Mention.id))
    return session.execute(stmt).all()


def evaluate(session: Session, settings: AlertSettings, now: datetime, base_url: str | None = None) -> EvaluateReport:
    report = EvaluateReport()
    for analysis, mention in _pending(session, settings):
        key = incident_key(analysis)
        when = mention.published_at or mention.collected_at
        incident = session.scalar(select(Incident).where(Incident.key == key))
        if incident is None:
            insert_ignore(session, Incident, dict(
                key=key, target=analysis.targets[0] if analysis.targets else None,
                category=analysis.categories[0] if analysis.categories else None,
                title=(mention.title or mention.text)[:300], severity=analysis.severity, signals=analysis.signals,
                first_seen=when, last_seen=when, mention_count=0, reach=0, status="open"), ["key"])
            incident = session.scalar(select(Incident).where(Incident.key == key))
            report.incidents_opened += 1
        if not insert_ignore(session, IncidentMention, dict(incident_id=incident.id, mention_id=mention.id, added_at=now),
                             ["incident_id", "mention_id"]):
            continue
        incident.mention_count += 1
        incident.reach += mention.author_followers or 0
        incident.first_seen = min(incident.first_seen, when)
        incident.last_seen = max(incident.last_seen, when)
        if RANK[analysis.severity] > RANK[incident.severity]:
            incident.severity = analysis.severity
        incident.signals = sorted(set(incident.signals) | set(analysis.signals))
        ticket, opened = open_ticket(session, incident, settings, now)
        if opened:
            report.tickets_opened += 1
            report.alerts.append(ticket_alert(session, ticket.id, incident, mention, base_url))
        else:
            report.attached += 1
            record(session, ticket, at=now, actor="repwatch", kind="evidence", key=f"t{ticket.id}:m{mention.id}",
                   detail={"mention_id": mention.id, "url": mention.url})
    return report


def ticket_alert(session: Session, ticket_id: int, incident: Incident, mention: Mention, base_url: str | None) -> Alert:
    source = session.get(Source, mention.source_id)
    return Alert(
        key=f"ticket:{ticket_id}:opened", kind="ticket", title=incident.title[:120], severity=incident.severity,
        summary=f"新工单 #{ticket_id}: {incident.target or '未指定对象'} / {incident.category or '其他'}",
        category=incident.category, ticket_id=ticket_id, incident_id=incident.id,
        url=f"{base_url.rstrip('/')}/tickets/{ticket_id}" if base_url else None,
        evidence=[{"text": mention.text[:300], "url": mention.url, "author": mention.author,
                   "reach": mention.author_followers, "source": source.name if source else None}],
        figures={"mentions": incident.mention_count, "signals": ", ".join(incident.signals) or "-"},
    )
