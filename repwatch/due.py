"""What is due now, from schedules.yaml and what the database says already happened.

A source is due when a fire time of its schedule passed since its last stored run (CollectionRun):
however many fire times were missed, it runs once (the same coalescing the daemon does). A digest is
due when its latest fire time lies within its misfire grace and some recipient has not had it yet
(the notification log). Both modes use these rules: `repwatch run --due` on every cron tick, and the
daemon at start (to catch up after downtime) and in its retry sweep."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import func, select

from alerts import DIGEST_DONE as DONE, Recipient, digest_channel_log_key as channel_log_key
from alerts import digest_recipient_log_key as recipient_log_key
from repwatch.config import Config, SourceConfig
from repwatch.schedule import DigestJob, Schedule, build_trigger, first_fire_after, last_fire_between, zone
from storage import Database
from storage.models import CollectionRun, Notification, Source

# Notification statuses after which a digest is never sent again (alerts.digest.deliver.DONE): delivered,
# or given up on. A pending row (a retry after a temporary failure) keeps the digest due.
DONE_STATUSES = DONE


@dataclass
class SourceDue:
    name: str
    schedule: Schedule
    last_run: Optional[datetime]
    next_fire: Optional[datetime]   # the first fire time after the last run: in the past when due
    due: bool


@dataclass
class DigestDue:
    job: DigestJob
    fire_time: Optional[datetime]   # the latest fire time within the grace window
    day: Optional[date]             # the local day that fire time reports on
    pending: list[Recipient] = field(default_factory=list)
    next_fire: Optional[datetime] = None
    channels: list[str] = field(default_factory=list)   # notifiers of `notify:` still to get it

    @property
    def due(self) -> bool:
        return bool(self.pending or self.channels)


def source_schedule(config: Config, source: SourceConfig) -> Schedule:
    return source.schedule or config.scheduler.default_schedule


def last_runs(db: Database) -> dict[str, datetime]:
    with db.session() as s:
        rows = s.execute(select(Source.name, func.max(CollectionRun.started_at))
                         .join(CollectionRun, CollectionRun.source_id == Source.id).group_by(Source.name)).all()
    # max() over a UTC column comes back as text on SQLite; normalise through the ORM type's rules
    return {name: _aware(at) for name, at in rows if at is not None}


def _aware(value) -> datetime:
    from datetime import timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def source_due(config: Config, source: SourceConfig, last_run: Optional[datetime], now: datetime) -> SourceDue:
    schedule = source_schedule(config, source)
    trigger = build_trigger(schedule, config.timezone, jitter=False)
    if last_run is None:   # never ran: due at once, the first run sets the baseline
        return SourceDue(source.name, schedule, None, None, True)
    fire = first_fire_after(trigger, last_run)
    return SourceDue(source.name, schedule, last_run, fire, fire is not None and fire <= now)


def due_sources(db: Database, config: Config, now: datetime) -> list[SourceDue]:
    runs = last_runs(db)
    return [source_due(config, s, runs.get(s.name), now) for s in config.sources if s.enabled]


def digest_day(job: DigestJob, fire_time: datetime, default_tz: str) -> date:
    local_day = fire_time.astimezone(zone(job.schedule, default_tz)).date()
    return local_day - timedelta(days=1) if job.covers == "yesterday" else local_day


def digest_key(name: str, day: date, address: str) -> str:
    """The notification log key of one recipient's digest."""
    return recipient_log_key(name, day, address)


def done_keys(db: Database, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    with db.session() as s:
        return set(s.scalars(select(Notification.key).where(Notification.key.in_(keys),
                                                            Notification.status.in_(DONE_STATUSES))))


def digest_due(db: Database, config: Config, job: DigestJob, now: datetime) -> DigestDue:
    trigger = build_trigger(job.schedule, config.timezone, jitter=False)
    fire = last_fire_between(trigger, now - job.misfire_grace_time, now)
    upcoming = first_fire_after(trigger, now)
    if fire is None:
        return DigestDue(job, None, None, [], upcoming)
    day = digest_day(job, fire, config.timezone)
    done = done_keys(db, [digest_key(job.name, day, r.to) for r in job.recipients]
                     + [channel_log_key(job.name, day, n) for n in job.notify])
    pending = [r for r in job.recipients if digest_key(job.name, day, r.to) not in done]
    channels = [n for n in job.notify if channel_log_key(job.name, day, n) not in done]
    return DigestDue(job, fire, day, pending, upcoming, channels)


def due_digests(db: Database, config: Config, now: datetime) -> list[DigestDue]:
    return [digest_due(db, config, job, now) for job in config.digests]
