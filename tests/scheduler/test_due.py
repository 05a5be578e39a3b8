"""Due computation (cron mode and the daemon's catch-up), with a frozen clock. The clock fixture starts
at 2026-11-23 02:00 UTC, which is Monday 10:00 in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from repwatch.due import digest_due, digest_key, due_sources, last_runs, source_due
from repwatch.schedule import Schedule, build_trigger, first_fire_after, last_fire_between
from storage.models import CollectionRun, Notification
from storage.writes import get_or_create_source

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(timezone.utc)


def record_run(db, name: str, at: datetime) -> None:
    with db.session() as s:
        src = get_or_create_source(s, name, "feed")
        s.add(CollectionRun(source_id=src.id, started_at=at, finished_at=at, status="ok", problems=[]))


def test_a_source_that_never_ran_is_due(make_config):
    config = make_config()
    state = source_due(config, config.sources[0], None, sh(2026, 11, 23, 10, 7))
    assert state.due and state.last_run is None


def test_cron_source_is_due_once_its_next_fire_time_has_passed(make_config):
    config = make_config()
    src = config.sources[0]                       # */15
    last = sh(2026, 11, 23, 10, 0, 2)             # the 10:00 run started two seconds late
    assert not source_due(config, src, last, sh(2026, 11, 23, 10, 14, 59)).due
    at_fire = source_due(config, src, last, sh(2026, 11, 23, 10, 15))
    assert at_fire.due and at_fire.next_fire == sh(2026, 11, 23, 10, 15)


def test_missed_fire_times_make_a_source_due_once_not_many_times(db, make_config):
    """Coalescing in cron mode: after a day of downtime, one run, then not due until the next fire."""
    config = make_config()
    record_run(db, "every-15", sh(2026, 11, 22, 10, 0, 1))
    now = sh(2026, 11, 23, 10, 7)
    assert [s.name for s in due_sources(db, config, now) if s.due] == ["every-15", "half-hourly", "office-hours"]
    record_run(db, "every-15", now)
    states = {s.name: s for s in due_sources(db, config, now + timedelta(minutes=5))}
    assert not states["every-15"].due
    assert states["every-15"].next_fire == sh(2026, 11, 23, 10, 15)


def test_last_runs_are_aware_utc_on_every_backend(db):
    at = sh(2026, 11, 23, 9, 30, 15)
    record_run(db, "every-15", at - timedelta(hours=1))
    record_run(db, "every-15", at)
    runs = last_runs(db)
    assert runs == {"every-15": at} and runs["every-15"].tzinfo is not None


def test_interval_schedules_fire_on_a_fixed_local_grid(make_config):
    """every: 30m fires at :00 and :30 local time whatever time the process started."""
    config = make_config()
    src = config.sources[1]
    state = source_due(config, src, sh(2026, 11, 23, 10, 3), sh(2026, 11, 23, 10, 29))
    assert not state.due and state.next_fire == sh(2026, 11, 23, 10, 30)


def test_weekday_names_are_honoured_in_the_file_timezone(make_config):
    """mon-fri 09-18 Shanghai: Saturday is skipped; Friday's last run leads to Monday 09:00."""
    config = make_config()
    src = config.sources[2]
    friday_last = sh(2026, 11, 27, 18, 0, 3)
    saturday = sh(2026, 11, 28, 12, 0)
    state = source_due(config, src, friday_last, saturday)
    assert not state.due and state.next_fire == sh(2026, 11, 30, 9, 0)


def test_a_per_job_timezone_overrides_the_file_timezone():
    schedule = Schedule(cron="0 9 * * mon-fri", timezone="Europe/London")
    trigger = build_trigger(schedule, "Asia/Shanghai", jitter=False)
    fire = first_fire_after(trigger, datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc))
    assert fire == datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert fire.utcoffset() == timedelta(0)       # GMT in November


def test_jitter_is_left_out_of_due_computation_but_given_to_the_daemon():
    schedule = Schedule(every=timedelta(minutes=30), jitter=timedelta(minutes=2))
    assert build_trigger(schedule, "UTC", jitter=False).jitter is None
    assert build_trigger(schedule, "UTC").jitter == 120


def test_last_fire_between_finds_the_latest_fire_time_in_a_window():
    trigger = build_trigger(Schedule(cron="0 8 * * *"), "Asia/Shanghai", jitter=False)
    assert last_fire_between(trigger, sh(2026, 11, 22, 20, 0), sh(2026, 11, 23, 10, 0)) == sh(2026, 11, 23, 8, 0)
    assert last_fire_between(trigger, sh(2026, 11, 23, 8, 1), sh(2026, 11, 23, 10, 0)) is None


def test_digest_is_due_within_its_grace_for_the_previous_local_day(db, make_config):
    config = make_config()
    job = config.digests[0]                       # 08:00, covers yesterday, grace 12h
    due = digest_due(db, config, job, sh(2026, 11, 23, 10, 0))
    assert due.fire_time == sh(2026, 11, 23, 8, 0)
    assert due.day == date(2026, 11, 22)
    assert [r.to for r in due.pending] == ["team@example.com", "boss@example.com"]
    assert due.next_fire == sh(2026, 11, 24, 8, 0)


def test_digest_is_not_due_before_its_fire_time_nor_after_its_grace(db, make_config):
    config = make_config()
    job = config.digests[0]                       # grace 12h: the 08:00 digest may go out until 20:00
    early = digest_due(db, config, job, sh(2026, 11, 23, 7, 59))
    assert not early.due and early.fire_time is None and early.next_fire == sh(2026, 11, 23, 8, 0)
    assert digest_due(db, config, job, sh(2026, 11, 23, 19, 59)).due
    late = digest_due(db, config, job, sh(2026, 11, 23, 20, 1))
    assert not late.due and late.fire_time is None


def test_digest_already_sent_or_given_up_is_not_due_again(db, clock, make_config):
    config = make_config()
    job = config.digests[0]
    day = date(2026, 11, 22)
    with db.session() as s:
        s.add(Notification(key=digest_key("daily", day, "team@example.com"), channel="digest:daily", kind="digest",
                           status="sent", attempts=1, created_at=clock.now()))
        s.add(Notification(key=digest_key("daily", day, "BOSS@example.com"), channel="digest:daily", kind="digest",
                           status="failed", attempts=5, created_at=clock.now()))
    due = digest_due(db, config, job, sh(2026, 11, 23, 10, 0))
    assert due.pending == [] and not due.due


def test_digest_left_pending_by_a_temporary_failure_stays_due(db, clock, make_config):
    config = make_config()
    with db.session() as s:
        s.add(Notification(key=digest_key("daily", date(2026, 11, 22), "team@example.com"), channel="digest:daily",
                           kind="digest", status="pending", attempts=3, created_at=clock.now(), last_error="451"))
    due = digest_due(db, config, config.digests[0], sh(2026, 11, 23, 10, 0))
    assert [r.to for r in due.pending] == ["team@example.com", "boss@example.com"]
