"""Source health: last success, consecutive failures, error reasons counted by kind, a run that
suddenly returns nothing where it used to return many (a broken selector), and silence longer than
the source's expected period.

`record_outcome` folds one run into the Source row. `alarm` says whether the source is broken enough
to tell a person, and since when: the episode start makes the alert key stable, so one broken
episode is announced once however many runs it lasts, and a new episode is announced again."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from storage.models import CollectionRun, Source

BROKEN_AFTER_FAILURES = 3
# A run returning zero items where the running average is at least this many looks like a layout change.
ZERO_ITEMS_ALARM = 5.0
ZERO_ITEMS = "zero_items"
HEALTHS = ("ok", "degraded", "failing", "silent", "unknown")
_STREAK_LIMIT = 500   # bounds the walk back through run history when finding an episode's start


@dataclass
class HealthAlarm:
    source: str
    kind: str            # source kind (feed, web, ...)
    health: str          # failing | degraded | silent
    reason: str          # failures | zero_items | silence
    since: datetime      # episode start: the first bad run, or the last item before the silence
    message: str
    consecutive_failures: int = 0
    error_counts: dict = field(default_factory=dict)
    last_success_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"health:{self.source}:{self.reason}:{self.since.isoformat()}"


def _count(source: Source, kind: str) -> None:
    counts = dict(source.error_counts or {})
    counts[kind] = counts.get(kind, 0) + 1
    source.error_counts = counts   # reassigned, not mutated: JSON columns only notice a new value


def _first_run_at(source: Source) -> datetime | None:
    session = object_session(source)
    if session is None:
        return None
    return session.scalar(select(func.min(CollectionRun.started_at)).where(CollectionRun.source_id == source.id))


def record_outcome(source: Source, run: CollectionRun, now: datetime, *, items_seen: int | None,
                   expected_period: timedelta | None = None) -> str:
    """Fold one run into the source's health. Returns the new health: ok, degraded, failing, silent."""
    source.last_run_at = now
    if run.status == "failed":
        source.consecutive_failures += 1
        _count(source, run.error_kind or "unknown")
        source.last_error = run.error
        source.health = "failing" if source.consecutive_failures >= BROKEN_AFTER_FAILURES else "degraded"
        return source.health
    source.consecutive_failures = 0
    source.last_success_at = now
    source.last_error = None
    health = "ok"
    if items_seen is not None and run.status != "not_modified":
        typical = source.typical_items
        if items_seen == 0 and typical is not None and typical >= ZERO_ITEMS_ALARM:
            health = "degraded"
            message = (f"returned 0 items where it usually returns ~{typical:.0f}: "
                       "the page layout or selectors may have changed")
            source.last_error = message
            # Marked on the run too, so the episode's first zero run can be found later.
            run.error_kind, run.error = ZERO_ITEMS, message
            _count(source, ZERO_ITEMS)
        elif items_seen > 0 or typical is None:
            # exponential moving average; zero runs don't drag it down, so one quiet day can't hide breakage
            source.typical_items = items_seen if typical is None else 0.7 * typical + 0.3 * items_seen
    if run.new_count:
        source.last_item_at = now
    if health == "ok" and expected_period:
        quiet_since = source.last_item_at or _first_run_at(source)
        if quiet_since is not None and now - quiet_since > expected_period:
            health = "silent"
            source.last_error = (f"no new item since {quiet_since:%Y-%m-%d %H:%M} UTC, longer than the expected "
                                 f"period; check that the source still publishes and the query still matches")
    source.health = health
    return health


def _streak_start(source: Source, matches) -> datetime | None:
    """started_at of the earliest run in the unbroken run of matching runs that ends with the latest run."""
    session = object_session(source)
    assert session is not None   # only called for a source judged in the run's session
    runs = session.scalars(select(CollectionRun).where(CollectionRun.source_id == source.id,
                                                       CollectionRun.status != "running")
                           .order_by(CollectionRun.started_at.desc(), CollectionRun.id.desc())
                           .limit(_STREAK_LIMIT))
    start = None
    for run in runs:
        if not matches(run):
            break
        start = run.started_at
    return start


def alarm(source: Source, now: datetime) -> HealthAlarm | None:
    """A HealthAlarm when the source is broken (failing, selectors broke, or silent), else None."""
    base: dict[str, Any] = dict(source=source.name, kind=source.kind, health=source.health,
                consecutive_failures=source.consecutive_failures, error_counts=dict(source.error_counts or {}),
                last_success_at=source.last_success_at, message=source.last_error or "")
    if source.health == "failing":
        since = _streak_start(source, lambda r: r.status == "failed")
        return HealthAlarm(reason="failures", since=since or now, **base)
    if source.health == "degraded" and source.consecutive_failures == 0:
        since = _streak_start(source, lambda r: r.error_kind == ZERO_ITEMS)
        return HealthAlarm(reason=ZERO_ITEMS, since=since or now, **base)
    if source.health == "silent":
        since = source.last_item_at or _first_run_at(source) or now
        return HealthAlarm(reason="silence", since=since, **base)
    return None
