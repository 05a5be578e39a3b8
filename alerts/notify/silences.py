"""Silences: mute a watch target or an incident until a time (Alertmanager's silences, simplified to
the two things a reputation team mutes). A muted alert is logged as `silenced`, not sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.exceptions import AlertError
from alerts.notify.base import Alert
from storage.models import Incident, Silence


def add(session: Session, *, now: datetime, ends_at: datetime, created_by: str, target: str | None = None,
        incident_id: int | None = None, comment: str | None = None, starts_at: datetime | None = None) -> Silence:
    if not target and incident_id is None:
        raise AlertError("a silence needs a watch target or an incident")
    if incident_id is not None and session.get(Incident, incident_id) is None:
        raise AlertError(f"no incident {incident_id}")
    starts_at = starts_at or now
    if ends_at <= starts_at:
        raise AlertError("a silence must end after it starts")
    silence = Silence(target=target, incident_id=incident_id, starts_at=starts_at, ends_at=ends_at,
                      created_by=created_by, comment=comment)
    session.add(silence)
    session.flush()
    return silence


def active(session: Session, now: datetime) -> list[Silence]:
    return list(session.scalars(select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now)
                                .order_by(Silence.id)))


def expire(session: Session, silence_id: int, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise AlertError(f"no silence {silence_id}")
    if silence.ends_at > now:
        silence.ends_at = now
    return silence


def matches(silence: Silence, alert: Alert) -> bool:
    """Every field the silence sets must match; a silence on a target mutes all its incidents' alerts."""
    if silence.target and silence.target != alert.target:
        return False
    if silence.incident_id is not None and silence.incident_id != alert.incident_id:
        return False
    return bool(silence.target) or silence.incident_id is not None


def muted_by(silences: list[Silence], alert: Alert) -> Silence | None:
    return next((s for s in silences if matches(s, alert)), None)
