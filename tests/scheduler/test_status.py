"""`repwatch status`: the scheduler's heartbeat (alive, stale, refused reload), the last cron run, the
locks, and per source and digest what happened last and what comes next."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from repwatch.cli import cli
from repwatch.due import digest_key
from repwatch.heartbeat import CRON, SCHEDULER, beat
from repwatch.locks import RUN_LOCK, Lease
from storage.models import CollectionRun, Notification
from storage.writes import get_or_create_source


@pytest.fixture
def status(tmp_path, database_url, clock, monkeypatch, write_config):
    path = write_config(tmp_path / "schedules.yaml")
    monkeypatch.setattr("repwatch.cli.app.Context.clock", lambda self: clock)
    return lambda: CliRunner().invoke(cli, ["-c", str(path), "--database", database_url, "status"],
                                      catch_exceptions=False)


def test_status_of_a_fresh_install(status):
    result = status()
    assert result.exit_code == 0
    assert "scheduler: never started" in result.output
    assert "lock run: free" in result.output and "lock scheduler: free" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("  every-15"))
    assert [cell.strip() for cell in row.split("  ") if cell.strip()] == ["every-15", "*/15 * * * *", "-", "-",
                                                                          "due now", "-"]
    assert "daily                    0 8 * * *          latest day -: none sent yet; due now for 2 recipients" \
        in result.output


def test_status_shows_a_live_scheduler_its_failed_reload_and_the_cron_and_digest_history(status, db, clock):
    beat(db, SCHEDULER, clock.now() - timedelta(seconds=10), {
        "host": "web-1", "state": "running", "heartbeat_every": 30.0, "jobs": [{"id": "a"}, {"id": "b"}],
        "reload": {"at": "2026-11-23T01:00:00+00:00", "ok": False,
                   "error": "s.yaml: invalid configuration\n  - sources[0].schedule: cron '0 9 * * 1-5': ..."}},
         pid=4242)
    beat(db, CRON, clock.now() - timedelta(minutes=5), {"ran": ["every-15"], "digests": [
        {"status": "sent"}, {"status": "sent"}]})
    running = Lease(db, RUN_LOCK, clock, timedelta(minutes=5), holder="web-1:99:ab")
    assert running.acquire()
    with db.session() as s:
        src = get_or_create_source(s, "every-15", "feed")
        s.add(CollectionRun(source_id=src.id, started_at=clock.now(), status="ok", problems=[]))
        for to, state in (("team@example.com", "sent"), ("boss@example.com", "pending")):
            s.add(Notification(key=digest_key("daily", date(2026, 11, 22), to), channel="digest:daily",
                               kind="digest", status=state, attempts=1, created_at=clock.now()))
    out = status().output
    assert "scheduler: running on web-1 pid 4242, last heartbeat 10s ago, 2 jobs" in out
    assert "last reload FAILED at 11-23 09:00 CST; old jobs kept:   - sources[0].schedule" in out
    assert "cron (run --due): last 5m ago; ran 1 sources, sent 2 digests" in out
    assert "lock run: held by web-1:99:ab since 2026-11-23 10:00:00 CST" in out
    row = next(line.split("  ") for line in out.splitlines() if line.startswith("  every-15"))
    assert [cell.strip() for cell in row if cell.strip()][2:5] == ["11-23 10:00 CST", "ok", "11-23 10:15 CST"]
    assert "latest day 2026-11-22: 1 pending, 1 sent; due now for 1 recipients" in out
    assert "a temporary failure is retried by the digest's next runs" in out


def test_status_says_when_the_scheduler_stopped_answering(status, db, clock):
    beat(db, SCHEDULER, clock.now() - timedelta(minutes=2), {"state": "running", "heartbeat_every": 30.0,
                                                             "host": "web-1", "jobs": []}, pid=1)
    assert "NOT RESPONDING (heartbeat stale" in status().output
    beat(db, SCHEDULER, clock.now() - timedelta(minutes=2), {"state": "stopped"}, pid=1)
    assert "scheduler: stopped (2m ago)" in status().output
