"""A ticket's evidence: its incident's mentions as a timeline, and the incident's volume against the
volume its target and category usually have.

The expected baseline is computed here from history, simply: negative posts about the same target
and category in the 14 days before the chart starts, spread evenly over bins of the chart's size.
The spread detector (alerts/) keeps its own state; its alarms for the incident are listed beside the
chart rather than mixed into a line whose bins may differ."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Analysis, Incident, IncidentMention, Mention, Source, SpreadAlarm

HISTORY = timedelta(days=14)
EVIDENCE_LIMIT = 500
HISTORY_ROWS = 50_000
BIN_SIZES = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=7))
MAX_BINS = 48
LEAD_BINS = 6   # bins shown before the first mention, so the rise is visible against quiet


@dataclass
class EvidenceItem:
    mention: Mention
    source: Source | None
    analysis: Analysis | None

    @property
    def when(self) -> datetime:
        return self.mention.happened_at


@dataclass
class VolumeSeries:
    bins: list[datetime]
    counts: list[int]
    expected: list[float]
    bin_size: timedelta
    history_posts: int


def evidence(session: Session, incident_id: int) -> list[EvidenceItem]:
    rows = session.execute(
        select(Mention, Source, Analysis)
        .join(IncidentMention, IncidentMention.mention_id == Mention.id)
        .outerjoin(Source, Source.id == Mention.source_id)
        .outerjoin(Analysis, Analysis.mention_id == Mention.id)
        .where(IncidentMention.incident_id == incident_id)
        .order_by(Mention.happened_at, Mention.id)
        .limit(EVIDENCE_LIMIT))
    return [EvidenceItem(m, src, a) for m, src, a in rows]


def floor_to(t: datetime, size: timedelta, tz: ZoneInfo) -> datetime:
    """Start of the bin holding t; day and week bins follow the team's local calendar."""
    local = t.astimezone(tz)
    if size >= timedelta(days=1):
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if size == timedelta(days=7):
            local -= timedelta(days=local.weekday())
        return local
    hours = int(size.total_seconds() // 3600)
    return local.replace(hour=local.hour - local.hour % hours, minute=0, second=0, microsecond=0)


def choose_bin(span: timedelta) -> timedelta:
    for size in BIN_SIZES:
        if span / size + LEAD_BINS + 1 <= MAX_BINS:
            return size
    return BIN_SIZES[-1]


def incident_volume(session: Session, incident: Incident, times: list[datetime], tz: ZoneInfo) -> VolumeSeries:
    first = min(times, default=incident.first_seen)
    last = max(times, default=incident.last_seen)
    size = choose_bin(last - first)
    start = floor_to(first, size, tz) - LEAD_BINS * size
    bins: list[datetime] = []
    t = start
    while t <= last and len(bins) < MAX_BINS:
        bins.append(t)
        t += size
    counts = [0] * len(bins)
    for when in times:
        index = int((when - start) / size)
        if 0 <= index < len(counts):
            counts[index] += 1
    history = _history_count(session, incident, start - HISTORY, start)
    per_bin = history / (HISTORY / size)
    return VolumeSeries(bins, counts, [per_bin] * len(bins), size, history)


def _history_count(session: Session, incident: Incident, since: datetime, until: datetime) -> int:
    """Negative posts about the incident's target and category in [since, until)."""
    when = Mention.happened_at
    rows = session.execute(
        select(Analysis.targets, Analysis.categories)
        .join(Mention, Mention.id == Analysis.mention_id)
        .where(Analysis.negative.is_(True), when >= since, when < until)
        .limit(HISTORY_ROWS))
    # JSON list membership differs per dialect (and Chinese is stored \u-escaped); Python is simplest.
    return sum(1 for targets, categories in rows
               if (incident.target is None or incident.target in (targets or []))
               and (incident.category is None or incident.category in (categories or [])))


def detector_alarms(session: Session, incident_id: int) -> list[SpreadAlarm]:
    return list(session.scalars(select(SpreadAlarm).where(SpreadAlarm.incident_id == incident_id)
                                .order_by(SpreadAlarm.bin_start).limit(50)))
