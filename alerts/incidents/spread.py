"""Spread detection in the pipeline: complaint counts per watch target × category and per incident,
binned in time, fed bin by bin into alerts.detect.SpreadDetector whose state lives in DetectorState.

A bin is judged once it is over (plus `lateness` for posts that arrive a little late); each series
remembers the last bin it saw, so reruns and restarts never count a bin twice. A post that arrives
after its bin was judged is not counted for spread (it still joins its incident and ticket): counting
it late would turn a source's catch-up after an outage into a fake burst."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts.incidents.detect import Alarm, SpreadDetector
from alerts.settings import AlertSettings
from storage.models import Analysis, DetectorState, Incident, IncidentMention, Mention, SpreadAlarm
from storage.vocabulary import event_time, severities_at_least
from storage.writes import insert_ignore, upsert_many

EPOCH = datetime(2000, 1, 3, tzinfo=timezone.utc)   # a Monday; bins are aligned to it


def floor_bin(t: datetime, width: timedelta) -> datetime:
    return t - ((t - EPOCH) % width)


def tc_key(target: str | None, category: str | None) -> str:
    return f"tc:{target or '-'}/{category or 'other'}"


@dataclass
class SeriesAlarm:
    series: str
    alarm: Alarm
    target: str | None = None
    category: str | None = None
    incident_id: int | None = None
    mention_ids: list[int] = field(default_factory=list)


class _Series:
    """Counts per (series, bin) and the mentions behind them, for the evidence of an alarm."""

    def __init__(self):
        self.counts: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
        self.ids: dict[tuple[str, datetime], list[int]] = defaultdict(list)

    def add(self, key: str, b: datetime, mention_id: int) -> None:
        self.counts[key][b] += 1
        self.ids[(key, b)].append(mention_id)


def _load_many(session: Session, keys: list[str], settings: AlertSettings, tz: ZoneInfo | None) -> dict:
    """Saved detectors by key, in one query; a state from an older version starts its series afresh."""
    out = {}
    for i in range(0, len(keys), 500):
        # rows by column name: `state` is an untyped JSON dict, and mypy cannot unpack a Row holding Any
        for row in session.execute(select(DetectorState.key, DetectorState.state)
                                   .where(DetectorState.key.in_(keys[i:i + 500]))):
            try:
                out[row.key] = SpreadDetector.restore(row.state, settings.detect, tz=tz)
            except (KeyError, ValueError):
                pass
    return out


def _save(session: Session, states: dict[str, SpreadDetector], now: datetime) -> None:
    """Every detector's state, written in one upsert (was an INSERT, and a SELECT and UPDATE for a known
    key, per series: three statements per incident in a pass that touches many)."""
    upsert_many(session, DetectorState, [dict(key=key, state=det.state(), updated_at=now)
                                         for key, det in states.items()], ["key"], ["state", "updated_at"])


def _feed(det: SpreadDetector, start: datetime, end: datetime, width: timedelta, counts: dict[datetime, int],
          history: timedelta) -> list[Alarm]:
    """Bins [start, end) in order, zeros included: a quiet hour is information too."""
    nxt = det.last + width if det.last is not None else start
    nxt = max(nxt, end - history)     # a series dormant for months restarts within the history window
    out = []
    while nxt < end:
        alarm = det.update(nxt, counts.get(nxt, 0))
        if alarm is not None:
            out.append(alarm)
        nxt += width
    return out


def detect(session: Session, settings: AlertSettings, now: datetime, tz: ZoneInfo | None = None) -> list[SeriesAlarm]:
    sp = settings.spread
    width, end = sp.bin, floor_bin(now - sp.lateness, sp.bin)
    wanted = severities_at_least(settings.incidents.min_severity)
    alarms: list[SeriesAlarm] = []

    # -- per watch target × category -------------------------------------------------------------
    keys = set(session.scalars(select(DetectorState.key).where(DetectorState.key.like("tc:%"))))
    detectors = _load_many(session, sorted(keys), settings, tz)
    cursors = [d.last + width for d in detectors.values() if d.last is not None]
    lower = min(cursors + [end]) if len(cursors) == len(keys) and keys else end - sp.history
    data = _Series()
    labels: dict[str, tuple[str | None, str | None]] = {}
    rows = session.execute(select(Mention.id, Mention.published_at, Mention.collected_at, Analysis.targets,
                                  Analysis.categories)
                           .join(Analysis, Analysis.mention_id == Mention.id)
                           .where(Analysis.severity.in_(wanted), Mention.collected_at >= lower))
    for mention_id, published, collected, targets, categories in rows:
        b = floor_bin(event_time(published, collected), width)
        if not (lower <= b < end):
            continue
        for target in targets or (None,):
            for category in categories or (None,):
                key = tc_key(target, category)
                labels[key] = (target, category)
                data.add(key, b, mention_id)
    for key in sorted(keys | set(data.counts)):
        det = detectors.get(key) or SpreadDetector(settings.detect, tz=tz)
        start = min(data.counts[key]) if data.counts.get(key) else end
        for alarm in _feed(det, start, end, width, data.counts.get(key, {}), sp.history):
            target, category = labels.get(key) or _parse(key)
            alarms.append(SeriesAlarm(key, alarm, target, category, None, data.ids.get((key, alarm.bin_time), [])))
        detectors[key] = det
    _save(session, {key: detectors[key] for key in sorted(keys | set(data.counts))}, now)

    # -- per incident: is this one issue spreading? -------------------------------------------------
    active = list(session.scalars(select(Incident).where(Incident.last_seen >= now - sp.incident_idle)))
    inc = _Series()
    if active:
        members = session.execute(select(IncidentMention.incident_id, Mention.id, Mention.published_at,
                                         Mention.collected_at)
                                  .join(Mention, Mention.id == IncidentMention.mention_id)
                                  .where(IncidentMention.incident_id.in_([i.id for i in active]),
                                         Mention.collected_at >= end - sp.history))
        for incident_id, mention_id, published, collected in members:
            inc.add(f"incident:{incident_id}", floor_bin(event_time(published, collected), width), mention_id)
    saved = _load_many(session, [f"incident:{i.id}" for i in active], settings, tz)
    states: dict[str, SpreadDetector] = {}
    for incident in active:
        key = f"incident:{incident.id}"
        det = saved.get(key)
        if det is None:
            parent = detectors.get(tc_key(incident.target, incident.category))
            det = SpreadDetector(settings.detect, prior=sp.incident_prior, tz=tz,
                                 profile=parent.profile() if parent is not None else None)
        start = floor_bin(incident.first_seen, width)
        for alarm in _feed(det, start, end, width, inc.counts.get(key, {}), sp.history):
            alarms.append(SeriesAlarm(key, alarm, incident.target, incident.category, incident.id,
                                      inc.ids.get((key, alarm.bin_time), [])))
        states[key] = det
    _save(session, states, now)
    # incidents gone quiet stop being tracked: their state would only grow the table
    session.execute(delete(DetectorState).where(DetectorState.key.like("incident:%"),
                                                DetectorState.updated_at < now - sp.incident_idle))

    for a in alarms:
        insert_ignore(session, SpreadAlarm, dict(
            series=a.series, bin_start=a.alarm.bin_time, value=a.alarm.value, expected=a.alarm.expected,
            score=a.alarm.score, incident_id=a.incident_id,
            detail={"reason": a.alarm.reason, "target": a.target, "category": a.category,
                    "mention_ids": a.mention_ids[:50]}), ["series", "bin_start"])
    return alarms


def _parse(key: str) -> tuple[str | None, str | None]:
    target, _, category = key[3:].rpartition("/")
    return (None if target == "-" else target), (None if category == "other" else category)
