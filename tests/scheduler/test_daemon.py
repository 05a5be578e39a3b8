"""The daemon's APScheduler jobs, driven tick by tick with a controllable clock (no sleeping).

The clock starts at Monday 2026-11-23 10:00 Asia/Shanghai; each test moves it and calls tick(), which
is what APScheduler's own loop would do at that moment."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from repwatch.heartbeat import SCHEDULER, read_beats
from repwatch.locks import SCHEDULER_LOCK, lock_info
from repwatch.scheduler import Daemon, SchedulerAlreadyRunning

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(timezone.utc)


@pytest.fixture
def start_daemon(db, aps_clock, tmp_path, write_config, recorder, manual_scheduler):
    started = []

    def start(catch_up: bool = False, **changes) -> Daemon:
        path = write_config(tmp_path / "schedules.yaml", **changes)
        daemon = Daemon(str(path), db, lambda _db, config: recorder(config, db), clock=aps_clock,
                        scheduler_class=manual_scheduler, pool=_sync_pool)
        daemon.catch_up_at_start = catch_up
        daemon.start()
        started.append(daemon)
        return daemon

    aps_clock.at = sh(2026, 11, 23, 10, 0, 30)
    yield start
    for d in started:
        if d.scheduler.running:
            d.shutdown()


def _sync_pool(_workers):
    from apscheduler.executors.debug import DebugExecutor

    return DebugExecutor()


def job(daemon: Daemon, job_id: str):
    return daemon.scheduler.get_job(job_id)


def test_jobs_come_from_the_config_with_coalesce_single_instance_grace_and_timezone(start_daemon):
    daemon = start_daemon()
    ids = sorted(j.id for j in daemon.scheduler.get_jobs())
    assert ids == ["digest:daily", "heartbeat", "source:every-15", "source:half-hourly", "source:office-hours",
                   "sweep"]
    for j in daemon.scheduler.get_jobs():
        assert j.coalesce is True and j.max_instances == 1
    assert job(daemon, "source:every-15").misfire_grace_time == 300
    assert job(daemon, "digest:daily").misfire_grace_time == 12 * 3600
    assert daemon.scheduler.timezone == SH
    assert job(daemon, "source:every-15").next_run_time == sh(2026, 11, 23, 10, 15)
    assert job(daemon, "source:half-hourly").next_run_time == sh(2026, 11, 23, 10, 30)
    assert job(daemon, "source:office-hours").next_run_time == sh(2026, 11, 23, 11, 0)
    assert job(daemon, "digest:daily").next_run_time == sh(2026, 11, 24, 8, 0)


def test_a_job_runs_through_the_executor_at_its_fire_time_and_not_before(start_daemon, aps_clock):
    daemon = start_daemon()
    aps_clock.at = sh(2026, 11, 23, 10, 14, 59)
    daemon.scheduler.tick()
    assert daemon.executor.runs == []
    aps_clock.at = sh(2026, 11, 23, 10, 15, 1)
    daemon.scheduler.tick()
    assert daemon.executor.runs == [(["every-15"], sh(2026, 11, 23, 10, 15, 1))]
    assert job(daemon, "source:every-15").next_run_time == sh(2026, 11, 23, 10, 30)


def test_a_run_later_than_the_misfire_grace_is_skipped_and_rescheduled(start_daemon, aps_clock):
    from apscheduler.events import EVENT_JOB_MISSED

    daemon = start_daemon()
    missed = []
    daemon.scheduler.add_listener(lambda e: missed.append((e.job_id, e.scheduled_run_time)), EVENT_JOB_MISSED)
    aps_clock.at = sh(2026, 11, 23, 10, 21)           # the 10:15 run is 6 minutes late; grace is 5
    daemon.scheduler.tick()
    assert daemon.executor.runs == []
    assert missed == [("source:every-15", sh(2026, 11, 23, 10, 15))]
    assert job(daemon, "source:every-15").next_run_time == sh(2026, 11, 23, 10, 30)


def test_missed_fire_times_within_grace_coalesce_into_one_run(start_daemon, aps_clock):
    daemon = start_daemon(scheduler={"misfire_grace_time": "1h", "heartbeat_every": "30s", "lock_lease": "5m"})
    aps_clock.at = sh(2026, 11, 23, 10, 50)           # 10:15, 10:30 and 10:45 all passed
    daemon.scheduler.tick()
    ran = [names for names, _ in daemon.executor.runs]
    assert ran.count(["every-15"]) == 1
    assert ran.count(["half-hourly"]) == 1
    assert job(daemon, "source:every-15").next_run_time == sh(2026, 11, 23, 11, 0)


def test_the_digest_job_sends_the_previous_local_day_to_every_recipient_once(start_daemon, aps_clock):
    """At 08:00 both the digest job and the retry sweep are due; the notification log lets one send."""
    daemon = start_daemon()
    aps_clock.at = sh(2026, 11, 24, 8, 0, 2)
    daemon.scheduler.tick()
    assert [(d, day, sorted(to)) for d, day, to, _ in daemon.executor.digests] == [
        ("daily", date(2026, 11, 23), ["boss@example.com", "team@example.com"])]
    aps_clock.at = sh(2026, 11, 24, 8, 10)
    daemon.scheduler.tick()                           # the sweep again: nothing left to send
    assert len(daemon.executor.digests) == 1


def test_catch_up_at_start_runs_every_overdue_source_once(start_daemon):
    daemon = start_daemon(catch_up=True)
    assert job(daemon, "catch-up") is not None
    daemon.scheduler.tick()                           # the catch-up job is due at once
    assert [names for names, _ in daemon.executor.runs] == [["every-15", "half-hourly", "office-hours"]]
    assert job(daemon, "catch-up") is None            # a one-off


def test_reload_with_an_invalid_config_keeps_the_running_jobs(start_daemon, tmp_path, db):
    daemon = start_daemon()
    before = {j.id: j.next_run_time for j in daemon.scheduler.get_jobs()}
    path = tmp_path / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("*/15 * * * *", "0 9 * * 1-5"), encoding="utf-8")
    assert daemon.reload() is False
    assert {j.id: j.next_run_time for j in daemon.scheduler.get_jobs()} == before
    beat = read_beats(db)[SCHEDULER]
    assert beat.detail["reload"]["ok"] is False
    error = beat.detail["reload"]["error"]
    assert str(path) in error and "sources[0].schedule" in error and "Monday=0" in error
    assert len(beat.detail["jobs"]) == len(before)


def test_reload_with_a_valid_config_replaces_the_jobs(start_daemon, tmp_path, write_config, make_config):
    daemon = start_daemon()
    base = make_config()
    sources = [s.model_dump(include={"name", "kind"}) | {"url": "http://127.0.0.1:9/x.xml", "schedule": "0 * * * *"}
               for s in base.sources[1:]]
    write_config(tmp_path / "schedules.yaml", sources=sources, digests=[])
    assert daemon.reload() is True
    assert sorted(j.id for j in daemon.scheduler.get_jobs()) == ["heartbeat", "source:half-hourly",
                                                                 "source:office-hours"]
    assert job(daemon, "source:half-hourly").next_run_time == sh(2026, 11, 23, 11, 0)
    assert daemon.executor.config.digests == []


def test_only_one_scheduler_per_database(start_daemon, db, aps_clock, tmp_path, recorder, manual_scheduler):
    first = start_daemon()
    second = Daemon(str(tmp_path / "schedules.yaml"), db, lambda _db, c: recorder(c), clock=aps_clock,
                    scheduler_class=manual_scheduler, pool=_sync_pool)
    with pytest.raises(SchedulerAlreadyRunning, match="another repwatch scheduler is running"):
        second.start()
    first.shutdown()
    second.catch_up_at_start = False
    second.start()
    second.shutdown()


def test_heartbeat_shows_the_jobs_and_shutdown_marks_it_stopped_and_frees_the_lock(start_daemon, aps_clock, db):
    daemon = start_daemon()
    beat = read_beats(db)[SCHEDULER]
    assert beat.detail["state"] == "running" and beat.at == aps_clock.now()
    assert {j["id"] for j in beat.detail["jobs"]} >= {"source:every-15", "digest:daily"}
    assert lock_info(db, SCHEDULER_LOCK).holder == daemon.lease.holder
    aps_clock.at += timedelta(seconds=31)
    daemon.scheduler.tick()                           # the heartbeat job (its own executor)
    assert read_beats(db)[SCHEDULER].at == aps_clock.now()
    daemon.shutdown()
    assert read_beats(db)[SCHEDULER].detail["state"] == "stopped"
    assert lock_info(db, SCHEDULER_LOCK) is None


def test_once_stopping_queued_jobs_do_no_work(start_daemon, aps_clock):
    daemon = start_daemon()
    daemon.stopping.set()
    aps_clock.at = sh(2026, 11, 23, 10, 15, 1)
    daemon.scheduler.tick()
    assert daemon.executor.runs == []
