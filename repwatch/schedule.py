"""When a source or job runs: a 5-field cron expression or an interval, with optional jitter and timezone.

The same trigger arithmetic serves both modes: the daemon hands the triggers to APScheduler, and
`repwatch run --due` asks them whether a fire time passed since the last stored run."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal, Optional
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from alerts import DigestSettings
from storage.types import Duration, Strict, check_timezone

CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
# Interval schedules fire on a fixed grid counted from this local midnight, so `every: 15m` means
# :00/:15/:30/:45 in both modes and a restart does not shift the grid.
INTERVAL_ANCHOR = datetime(2000, 1, 3)  # a Monday, so `every: 1w` fires on Mondays
ONE_MICROSECOND = timedelta(microseconds=1)


def check_cron(expr: str) -> None:
    """Validate a 5-field crontab expression with APScheduler's own CronTrigger, field by field, so the
    message names the field that is wrong."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields: minute hour day month weekday")
    weekday = fields[4]
    if re.search(r"\d", weekday):
        raise ValueError(
            f"cron {expr!r}: write weekdays by name (mon-fri, sat,sun), not {weekday!r}. APScheduler 3 counts "
            "numeric weekdays from Monday=0, unlike crontab's Sunday=0, so numbers would silently shift the day")
    for name, value in zip(CRON_FIELDS, fields):
        try:
            CronTrigger(**{name: value}, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"cron {expr!r}: {name.replace('_', ' ')} field {value!r}: {exc}") from None


class Schedule(Strict):
    cron: Optional[str] = None
    every: Optional[Duration] = None
    jitter: Duration = timedelta(0)
    timezone: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        # `schedule: "*/15 * * * *"` is shorthand for `schedule: {cron: "*/15 * * * *"}`
        if isinstance(value, str):
            return {"cron": value}
        return value

    @model_validator(mode="after")
    def _one_of(self):
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron (a 5-field expression) or every (an interval such as 15m)")
        if self.cron is not None:
            check_cron(self.cron)
        if self.every is not None:
            if self.every <= timedelta(0):
                raise ValueError("every must be a positive interval")
            if self.jitter >= self.every:
                raise ValueError("jitter must be shorter than the interval, or runs would overtake each other")
        if self.timezone is not None:
            check_timezone(self.timezone)
        return self

    def describe(self) -> str:
        from storage.types import format_duration

        # the validator requires exactly one of cron and every
        what = self.cron if self.cron is not None else f"every {format_duration(self.every or timedelta(0))}"
        extra = f" ±{format_duration(self.jitter)}" if self.jitter else ""
        return what + extra + (f" ({self.timezone})" if self.timezone else "")


def zone(schedule: Schedule, default: str) -> ZoneInfo:
    return ZoneInfo(schedule.timezone or default)


def build_trigger(schedule: Schedule, default_tz: str, *, jitter: bool = True):
    """The APScheduler trigger for a schedule. `jitter=False` gives the exact grid (due computation)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    tz = zone(schedule, default_tz)
    spread = None
    if jitter and schedule.jitter:
        spread = max(1, int(schedule.jitter.total_seconds()))
    if schedule.cron is not None:
        # the same fields CronTrigger.from_crontab passes, plus jitter, which from_crontab cannot take
        return CronTrigger(**dict(zip(CRON_FIELDS, schedule.cron.split())), timezone=tz, jitter=spread)
    assert schedule.every is not None   # no cron: the validator requires every
    return IntervalTrigger(seconds=schedule.every.total_seconds(), start_date=INTERVAL_ANCHOR.replace(tzinfo=tz),
                           timezone=tz, jitter=spread)


def first_fire_at_or_after(trigger, when: datetime) -> Optional[datetime]:
    return trigger.get_next_fire_time(None, when)


def first_fire_after(trigger, when: datetime) -> Optional[datetime]:
    return trigger.get_next_fire_time(None, when + ONE_MICROSECOND)


def last_fire_between(trigger, start: datetime, end: datetime, *, max_steps: int = 100_000) -> Optional[datetime]:
    """The latest fire time in [start, end]; None when there is none. APScheduler 3 triggers only look
    forward, so walk from `start`; bounded, because a per-minute cron over a long window is many steps."""
    found = None
    fire = first_fire_at_or_after(trigger, start)
    for _ in range(max_steps):
        if fire is None or fire > end:
            return found
        found = fire
        fire = first_fire_after(trigger, fire)
    return found


class SchedulerSettings(Strict):
    """The `scheduler:` section: how both modes behave (the daemon and `repwatch run --due`)."""

    # APScheduler's default is 1 s, which drops any run that starts a little late (a slow job ahead of it).
    misfire_grace_time: Duration = timedelta(minutes=5)
    default_schedule: Schedule = Schedule(every=timedelta(minutes=15))  # for sources without a schedule
    heartbeat_every: Duration = timedelta(seconds=30)
    # How long a lock outlives its holder: a crashed run on another machine blocks the next runs this long.
    lock_lease: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _sane(self):
        if self.heartbeat_every < timedelta(seconds=1):
            raise ValueError("heartbeat_every must be at least 1s")
        if self.lock_lease < 2 * self.heartbeat_every:
            raise ValueError("lock_lease must be at least twice heartbeat_every, or a live holder could lose its lock")
        return self


class DigestJob(DigestSettings):
    """A `digests:` entry: the digest's content and recipients (alerts.digest) plus when it goes out."""

    # made (and its cron checked with APScheduler, ~13 MiB) when a digest is configured, not at import
    schedule: Schedule = Field(default_factory=lambda: Schedule(cron="0 8 * * *"))
    covers: Literal["yesterday", "today"] = "yesterday"   # the local day reported, relative to the send time
    # A digest whose send time was missed (machine down, lock busy) still goes out this late, once.
    misfire_grace_time: Duration = timedelta(hours=12)
