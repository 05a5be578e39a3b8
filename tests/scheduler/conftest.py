"""Scheduler fixtures: APScheduler driven by a controllable clock, and an executor that records calls.

APScheduler 3 reads the time with `datetime.now()` inside its scheduler and executor modules; the
`aps_clock` fixture points those two names at our FrozenClock, so `tick()` after `clock.advance()`
is exactly what the real scheduler would do at that moment, with no sleeping. The recording executor
stands at the seam the scheduler calls (repwatch/executor.py); the real one is exercised by the
cron end-to-end test and the digest tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml

from repwatch.config import Config, parse_config


class _ClockDatetime:
    """Stands in for the `datetime` name in APScheduler's modules; only .now() is used there."""

    def __init__(self, clock):
        self.clock = clock

    def now(self, tz=None):
        at = self.clock.now()
        return at.astimezone(tz) if tz is not None else at.astimezone(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def aps_clock(clock, monkeypatch):
    import apscheduler.executors.base as executors_base
    import apscheduler.schedulers.base as schedulers_base

    shim = _ClockDatetime(clock)
    monkeypatch.setattr(schedulers_base, "datetime", shim)
    monkeypatch.setattr(executors_base, "datetime", shim)
    return clock


def manual_scheduler_class():
    from apscheduler.schedulers.base import BaseScheduler

    class ManualScheduler(BaseScheduler):
        """Runs due jobs only when the test calls tick(); no thread, no timer."""

        def wakeup(self):
            pass

        def shutdown(self, wait=True):
            super().shutdown(wait)

        def tick(self):
            return self._process_jobs()

    return ManualScheduler


def sync_pool(_workers):
    from apscheduler.executors.debug import DebugExecutor

    return DebugExecutor()


@dataclass
class RecordingExecutor:
    """The executor seam, recording what the scheduler asked for (a Celery executor would enqueue here)."""

    config: Config
    db: object = None      # when given, a digest "send" is logged as sent, as a real delivery would be
    runs: list[tuple[list[str], datetime]] = field(default_factory=list)
    digests: list[tuple[str, date, list[str] | None, datetime]] = field(default_factory=list)

    def run_sources(self, names, now, on_source=None):
        self.runs.append((list(names), now))
        return None

    def send_digest(self, digest, day, recipients, now):
        self.digests.append((digest, day, recipients, now))
        if self.db is not None:
            from repwatch.due import digest_key
            from storage.models import Notification

            with self.db.session() as s:
                for to in recipients or []:
                    s.add(Notification(key=digest_key(digest, day, to), channel=f"digest:{digest}", kind="digest",
                                       status="sent", attempts=1, created_at=now, sent_at=now))
        return []


BASE = {
    "timezone": "Asia/Shanghai",
    "watch": [{"name": "快送外卖"}],
    "sources": [
        {"name": "every-15", "kind": "feed", "url": "http://127.0.0.1:9/a.xml", "schedule": "*/15 * * * *"},
        {"name": "half-hourly", "kind": "feed", "url": "http://127.0.0.1:9/b.xml", "schedule": {"every": "30m"}},
        {"name": "office-hours", "kind": "feed", "url": "http://127.0.0.1:9/c.xml",
         "schedule": "0 9-18 * * mon-fri"},
    ],
    "scheduler": {"misfire_grace_time": "5m", "heartbeat_every": "30s", "lock_lease": "5m"},
    "digests": [{"name": "daily", "schedule": "0 8 * * *", "from": "repwatch@example.com",
                 "smtp": {"host": "127.0.0.1", "port": 9}, "recipients": ["team@example.com", "boss@example.com"]}],
}


def _make_config(**changes) -> Config:
    data = yaml.safe_load(yaml.safe_dump(BASE, allow_unicode=True))
    data.update(changes)
    return parse_config(data, "<test>")


def _write_config(path: Path, **changes) -> Path:
    data = yaml.safe_load(yaml.safe_dump(BASE, allow_unicode=True))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def make_config():
    """make_config(**top_level_changes) -> a validated Config based on BASE."""
    return _make_config


@pytest.fixture
def write_config():
    """write_config(path, **top_level_changes) -> path of a schedules.yaml based on BASE."""
    return _write_config


@pytest.fixture
def recorder():
    """recorder(config) -> a RecordingExecutor."""
    return RecordingExecutor


@pytest.fixture
def manual_scheduler():
    return manual_scheduler_class()
