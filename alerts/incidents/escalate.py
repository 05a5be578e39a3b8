"""Escalation besides volume: engagement velocity and reach.

Engagement: EngagementSnapshot keeps the counts seen at each collection, never overwritten, so the
growth between two collections of the same post is known. Weighted reposts, comments and likes per
hour above a threshold raise the post's incident to important or urgent. Each snapshot is judged once
(a cursor in DetectorState), so reruns raise nothing twice.

Reach: the followers of an incident's authors, summed (a post from a large account, or many
mid-sized ones)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.settings import EngagementSettings, ReachSettings
from storage.models import DetectorState, EngagementSnapshot, IncidentMention
from storage.writes import insert_ignore

CURSOR_KEY = "cursor:engagement"
BATCH = 5000   # snapshots judged per run at most; the rest wait for the next run


@dataclass
class Surge:
    incident_id: int
    mention_id: int
    per_hour: float
    severity: str


def reach_severity(reach: int, settings: ReachSettings) -> str | None:
    if reach >= settings.urgent:
        return "urgent"
    if reach >= settings.important:
        return "important"
    return None


def _weighted(snap: EngagementSnapshot, settings: EngagementSettings) -> float:
    return (settings.reposts * (snap.reposts or 0) + settings.comments * (snap.comments or 0)
            + settings.likes * (snap.likes or 0))


def engagement_surges(session: Session, settings: EngagementSettings, now: datetime) -> list[Surge]:
    insert_ignore(session, DetectorState, dict(key=CURSOR_KEY, state={"snapshot_id": 0}, updated_at=now), ["key"])
    cursor = session.scalar(select(DetectorState).where(DetectorState.key == CURSOR_KEY))
    assert cursor is not None   # inserted just above unless it was there
    last_id = int(cursor.state.get("snapshot_id", 0))
    fresh = list(session.scalars(select(EngagementSnapshot).where(EngagementSnapshot.id > last_id)
                                 .order_by(EngagementSnapshot.id).limit(BATCH)))
    if not fresh:
        return []
    mention_ids = sorted({s.mention_id for s in fresh})
    incident_of = dict(session.execute(select(IncidentMention.mention_id, IncidentMention.incident_id)
                                       .where(IncidentMention.mention_id.in_(mention_ids))).all())
    history: dict[int, list[EngagementSnapshot]] = {}
    for snap in session.scalars(select(EngagementSnapshot).where(EngagementSnapshot.mention_id.in_(
            [m for m in mention_ids if m in incident_of])).order_by(EngagementSnapshot.id)):
        history.setdefault(snap.mention_id, []).append(snap)
    out = []
    for snap in fresh:
        earlier = [s for s in history.get(snap.mention_id, []) if s.id < snap.id]
        if snap.mention_id not in incident_of or not earlier:
            continue
        prev = earlier[-1]
        hours = (snap.taken_at - prev.taken_at).total_seconds() / 3600
        if hours <= 0:
            continue
        per_hour = max(0.0, _weighted(snap, settings) - _weighted(prev, settings)) / hours
        severity = ("urgent" if per_hour >= settings.urgent_per_hour else
                    "important" if per_hour >= settings.important_per_hour else None)
        if severity:
            out.append(Surge(incident_of[snap.mention_id], snap.mention_id, round(per_hour, 1), severity))
    cursor.state = {"snapshot_id": fresh[-1].id}
    cursor.updated_at = now
    return out
