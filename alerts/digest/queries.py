"""The figures of one digest: one local day, seen through one recipient's filters.

A day is a local calendar day in the digest's timezone (so 00:00-24:00 Beijing time, not UTC). A mention
belongs to the day its post was published (or collected, when the source gives no date). Filters are
applied in Python, not SQL: watch targets live in a JSON list, and JSON containment differs between
SQLite and PostgreSQL; a day is at most some hundred thousand light rows, which is fine once a day."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Analysis, CollectionRun, Incident, IncidentMention, Mention, Source, SpreadAlarm, Ticket
from storage.vocabulary import severity_rank

TREND_DAYS = 7


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC. Built from local midnights, so a DST day has 23 or 25 hours."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


@dataclass(frozen=True)
class Scope:
    """A recipient's view. Empty sets mean everything."""

    targets: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def mention(self, source: str, targets: Iterable[str] | None) -> bool:
        if self.sources and source not in self.sources:
            return False
        return not self.targets or bool(self.targets & set(targets or ()))

    def target(self, target: Optional[str]) -> bool:
        return not self.targets or target in self.targets

    def source(self, name: str) -> bool:
        return not self.sources or name in self.sources


@dataclass
class DayFigures:
    day: date
    mentions: int = 0
    analyzed: int = 0
    negative: int = 0
    complaints: int = 0

    @property
    def negative_share(self) -> Optional[float]:
        return self.negative / self.analyzed if self.analyzed else None


@dataclass
class Post:
    id: int
    text: str
    url: Optional[str]
    author: Optional[str]
    source: str
    reach: int
    at: Optional[datetime]
    categories: list[str] = field(default_factory=list)


@dataclass
class IncidentItem:
    id: int
    title: str
    target: Optional[str]
    category: Optional[str]
    severity: str
    mentions: int
    reach: int
    signals: list[str]
    ticket_id: Optional[int]
    evidence: list[Post]
    label: Optional[str] = None        # what it is about: its key terms
    authors: int = 0                   # distinct authors it has reached
    sources: list[str] = field(default_factory=list)


@dataclass
class SpikeItem:
    series: str
    target: Optional[str]
    category: Optional[str]
    at: datetime
    value: float
    expected: float
    score: float
    incident: Optional[IncidentItem]
    evidence: list[Post] = field(default_factory=list)   # the alarm's own posts, when it has no incident


@dataclass
class TicketItem:
    id: int
    title: str
    severity: str
    state: str
    department: Optional[str]
    due: Optional[datetime]
    overdue_by: Optional[timedelta]


@dataclass
class SourceItem:
    name: str
    health: str
    last_success: Optional[datetime]
    last_error: Optional[str]
    items_today: int


def as_utc(value) -> datetime:
    """Aware UTC. Expressions such as coalesce() can come back from SQLite as naive values or text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def post_of(mention: Mention, source: str, analysis: Optional[Analysis]) -> Post:
    # The body, not the title: feed titles are often just the first words of the post.
    return Post(mention.id, mention.text or mention.title or "", mention.url, mention.author, source,
                mention.author_followers or 0, mention.happened_at,
                list(analysis.categories) if analysis else [])


def mention_rows(session: Session, start: datetime, end: datetime):
    """(id, when, reach, source, negative, complaint, categories, targets) for every mention in [start, end)."""
    when = Mention.happened_at
    stmt = (select(Mention.id, when, func.coalesce(Mention.author_followers, 0), Source.name, Analysis.negative,
                   Analysis.complaint, Analysis.categories, Analysis.targets)
            .join(Source, Source.id == Mention.source_id).outerjoin(Analysis, Analysis.mention_id == Mention.id)
            .where(when >= start, when < end))
    return session.execute(stmt.execution_options(yield_per=2000))


def evidence(session: Session, incident_id: int, limit: int) -> list[Post]:
    rows = session.execute(
        select(Mention, Source.name, Analysis).join(IncidentMention, IncidentMention.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id).outerjoin(Analysis, Analysis.mention_id == Mention.id)
        .where(IncidentMention.incident_id == incident_id)
        .order_by(func.coalesce(Mention.author_followers, 0).desc(), Mention.id).limit(limit)).all()
    return [post_of(m, name, a) for m, name, a in rows]


def incident_item(session: Session, incident: Incident, evidence_rows: int) -> IncidentItem:
    ticket = session.scalar(select(Ticket.id).where(Ticket.incident_id == incident.id).order_by(Ticket.id.desc()))
    from alerts.incidents.evidence import spread_of

    authors, sources = spread_of(session, incident.id)
    return IncidentItem(incident.id, incident.title, incident.target, incident.category, incident.severity,
                        incident.mention_count, incident.reach, list(incident.signals or []), ticket,
                        evidence(session, incident.id, evidence_rows), incident.label, authors, sources)


def new_incidents(session: Session, start: datetime, end: datetime, scope: Scope, evidence_rows: int):
    """Incidents whose first mention was attached during the day, i.e. detected that day."""
    detected = func.min(IncidentMention.added_at)
    ids = [i for i, in session.execute(select(IncidentMention.incident_id).group_by(IncidentMention.incident_id)
                                        .having(detected >= start).having(detected < end))]
    incidents: Iterable[Incident] = session.scalars(select(Incident).where(Incident.id.in_(ids)).order_by(Incident.id)) if ids else []
    return [incident_item(session, i, evidence_rows) for i in incidents if scope.target(i.target)]




def most_serious(items: list[IncidentItem]) -> list[IncidentItem]:
    """Urgent first, then the most talked-about and the widest reach: what a reader must see first."""
    return sorted(items, key=lambda i: (-severity_rank(i.severity), -i.mentions, -i.reach, i.id))


def spikes(session: Session, start: datetime, end: datetime, scope: Scope, evidence_rows: int) -> list[SpikeItem]:
    out = []
    for alarm in session.scalars(select(SpreadAlarm).where(SpreadAlarm.bin_start >= start, SpreadAlarm.bin_start < end)
                                 .order_by(SpreadAlarm.score.desc(), SpreadAlarm.id)):
        incident = session.get(Incident, alarm.incident_id) if alarm.incident_id else None
        # An alarm names its watch target through its incident or its detail; one naming neither is
        # shown only to recipients who see everything.
        detail = alarm.detail or {}
        target = incident.target if incident else detail.get("target")
        if scope.targets and not scope.target(target):
            continue
        category = incident.category if incident else detail.get("category")
        ids = [i for i in detail.get("mention_ids") or [] if isinstance(i, int)]
        out.append(SpikeItem(alarm.series, target, category, alarm.bin_start, alarm.value, alarm.expected, alarm.score,
                             incident_item(session, incident, evidence_rows) if incident else None,
                             [] if incident else by_reach(posts(session, ids))[:evidence_rows]))
    return out


def by_reach(items: list[Post]) -> list[Post]:
    return sorted(items, key=lambda p: (-p.reach, p.id))


def posts(session: Session, ids: list[int]) -> list[Post]:
    rows = session.execute(select(Mention, Source.name, Analysis).join(Source, Source.id == Mention.source_id)
                           .outerjoin(Analysis, Analysis.mention_id == Mention.id).where(Mention.id.in_(ids))).all()
    by_id = {m.id: post_of(m, name, a) for m, name, a in rows}
    return [by_id[i] for i in ids if i in by_id]


def scoped_tickets(session: Session, scope: Scope, opened_before: datetime) -> list[Ticket]:
    rows = session.execute(select(Ticket, Incident.target).join(Incident, Incident.id == Ticket.incident_id)
                           .where(Ticket.opened_at < opened_before).order_by(Ticket.id)).all()
    return [t for t, target in rows if scope.target(target)]


def source_rows(session: Session, scope: Scope, start: datetime, end: datetime) -> list[tuple[Source, int]]:
    """Each source in scope with its number of collection runs during the day."""
    runs = dict(session.execute(select(CollectionRun.source_id, func.count(CollectionRun.id))
                                .where(CollectionRun.started_at >= start, CollectionRun.started_at < end)
                                .group_by(CollectionRun.source_id)).all())
    return [(src, runs.get(src.id, 0)) for src in session.scalars(select(Source).order_by(Source.name))
            if scope.source(src.name)]
