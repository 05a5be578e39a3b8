"""What `repwatch status` shows: is the scheduler alive, when did cron last run, who holds the lock,
and per source and digest what happened last and what is next."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select

from repwatch.config import Config
from repwatch.due import due_digests, due_sources
from repwatch.heartbeat import SCHEDULER, Beat, read_beats
from repwatch.locks import RUN_LOCK, SCHEDULER_LOCK, LockInfo, lock_info
from storage import Database
from storage.models import CollectionRun, Notification, Source

STALE_AFTER_BEATS = 3   # a scheduler that missed three heartbeats is presumed dead or hung


def ago(now: datetime, then: Optional[datetime]) -> str:
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


@dataclass
class Status:
    now: datetime
    beats: dict[str, Beat]
    locks: dict[str, Optional[LockInfo]]
    sources: list[tuple]     # (SourceDue, last status, health)
    digests: list[tuple]     # (DigestDue, {status: count} for its latest day, latest day)

    def scheduler_alive(self, config: Config) -> Optional[bool]:
        b = self.beats.get(SCHEDULER)
        if b is None or b.detail.get("state") == "stopped":
            return None
        every = b.detail.get("heartbeat_every") or config.scheduler.heartbeat_every.total_seconds()
        return self.now - b.at <= timedelta(seconds=STALE_AFTER_BEATS * every)


def gather_status(db: Database, config: Config, now: datetime) -> Status:
    with db.session() as s:
        latest = (select(CollectionRun.source_id, func.max(CollectionRun.id).label("id"))
                  .group_by(CollectionRun.source_id).subquery())
        last = {name: (status, health) for name, status, health in s.execute(
            select(Source.name, CollectionRun.status, Source.health).join(latest, latest.c.source_id == Source.id)
            .join(CollectionRun, CollectionRun.id == latest.c.id))}
        health = dict(s.execute(select(Source.name, Source.health)).all())
        digests = []
        for due in due_digests(db, config, now):
            # every row of this digest, its email recipients' and its channels' (alerts.digest.deliver keys)
            prefix = f"digest:{due.job.name}:"
            mine = (Notification.kind == "digest") & Notification.key.startswith(prefix, autoescape=True)
            newest = s.scalar(select(func.max(Notification.key)).where(mine))
            counts: dict[str, int] = {}
            day = None
            if newest:
                day = newest[len(prefix):len(prefix) + 10]
                counts = dict(s.execute(select(Notification.status, func.count()).where(
                    mine, Notification.key.startswith(f"{prefix}{day}", autoescape=True))
                    .group_by(Notification.status)).all())
            digests.append((due, counts, day))
    sources = [(d, last.get(d.name, (None, None))[0], health.get(d.name)) for d in due_sources(db, config, now)]
    return Status(now, read_beats(db), {n: lock_info(db, n) for n in (SCHEDULER_LOCK, RUN_LOCK)}, sources, digests)
