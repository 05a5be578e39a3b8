"""Cron mode: `repwatch run --due`, end to end with the real pipeline (loopback feed and SMTP), and its
lock behaviour: a second run exits 0 with a clear message; a dead holder's lock is taken over."""
from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from repwatch.cli import cli
from repwatch.cron import cron_run
from repwatch.heartbeat import CRON, read_beats
from repwatch.locks import RUN_LOCK, SCHEDULER_LOCK, Lease, lock_info
from repwatch.loopback import Response
from storage.models import CollectionRun, Mention, Notification

OTHER_HOST = "build-7.example.internal:4242:abcd1234"
POSTS = [("c-1", "快送外卖三天没到，客服电话打不通，我要投诉到12315"),
         ("c-2", "快送外卖的骑手态度恶劣，饭洒了一地，再也不点了"),
         ("c-3", "快送外卖今天很快，味道不错")]


def feed(now: datetime) -> bytes:
    items = "".join(f"<item><guid>{g}</guid><title>{escape(t[:10])}</title><link>https://example.com/{g}</link>"
                    f"<pubDate>{format_datetime(now - timedelta(hours=20 + i))}</pubDate>"
                    f"<description>{escape(t)}</description></item>" for i, (g, t) in enumerate(POSTS))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.com/</link><description>d</description>{items}</channel></rss>").encode()


@pytest.fixture
def cron_setup(tmp_path, http_server, smtp, clock, monkeypatch, database_url):
    """A schedules.yaml with one loopback feed and a daily digest to the loopback SMTP server; the CLI's
    clock is our frozen one (Monday 10:00 Shanghai, two hours after the digest's 08:00)."""
    http_server.routes["/feed.xml"] = Response(feed(clock.now()), etag=True)
    data = {
        "timezone": "Asia/Shanghai",
        "watch": [{"name": "快送外卖", "aliases": ["快送"]}],
        "sources": [{"name": "kuaisong-feed", "kind": "feed", "url": http_server.url("/feed.xml"),
                     "schedule": "*/15 * * * *", "targets": ["快送外卖"]}],
        "digests": [{"name": "daily", "schedule": "0 8 * * *", "from": "repwatch@example.com",
                     "smtp": {"host": "127.0.0.1", "port": smtp.port},
                     "recipients": ["team@example.com", {"to": "manager@example.com", "locale": "en"}]}],
    }
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr("repwatch.cli.app.Context.clock", lambda self: clock)
    return ["-c", str(path), "--database", database_url]


def run_due(args):
    return CliRunner().invoke(cli, [*args, "run", "--due"], catch_exceptions=False)


def test_run_due_collects_what_is_due_sends_the_digest_and_then_has_nothing_to_do(cron_setup, db, clock, smtp):
    first = run_due(cron_setup)
    assert first.exit_code == 0, first.output
    assert "collected 3 new mentions from 1 sources" in first.output
    assert "digest daily 2026-11-22 → team@example.com: sent" in first.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Mention)) == 3
        assert s.scalar(select(func.count()).select_from(CollectionRun)) == 1
        assert s.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "digest")) == 2
    assert sorted(m["To"] for m in smtp.messages) == ["manager@example.com", "team@example.com"]
    assert read_beats(db)[CRON].detail["ran"] == ["kuaisong-feed"]
    assert lock_info(db, RUN_LOCK) is None            # released

    clock.advance(timedelta(minutes=5))               # the next cron tick: nothing due, nothing re-sent
    second = run_due(cron_setup)
    assert second.exit_code == 0
    assert "no source due (1 not due; next: kuaisong-feed at 10:15 CST)" in second.output
    assert "sent" not in second.output
    assert len(smtp.messages) == 2

    clock.advance(timedelta(minutes=11))              # 10:16: due again; the feed answers 304
    third = run_due(cron_setup)
    assert "collected 0 new mentions from 1 sources" in third.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CollectionRun)) == 2
        assert s.scalar(select(func.count()).select_from(Mention)) == 3
    assert len(smtp.messages) == 2


def test_a_second_run_while_one_holds_the_lock_exits_0_at_once(cron_setup, db, clock, smtp):
    assert Lease(db, RUN_LOCK, clock, timedelta(minutes=5), holder=OTHER_HOST).acquire()
    result = run_due(cron_setup)
    assert result.exit_code == 0
    assert f"another repwatch run is in progress (held by {OTHER_HOST}" in result.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CollectionRun)) == 0
    assert smtp.messages == []
    assert lock_info(db, RUN_LOCK).holder == OTHER_HOST   # not ours to release


def test_run_due_does_nothing_while_the_scheduler_daemon_runs(cron_setup, db, clock):
    assert Lease(db, SCHEDULER_LOCK, clock, timedelta(minutes=5), holder=OTHER_HOST).acquire()
    result = run_due(cron_setup)
    assert result.exit_code == 0
    assert "repwatch scheduler is running" in result.output and "Use one mode, not both" in result.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CollectionRun)) == 0


def test_a_lock_left_by_a_crashed_run_is_taken_over_after_its_lease(db, clock, make_config, recorder):
    config = make_config()
    crashed = Lease(db, RUN_LOCK, clock, config.scheduler.lock_lease, holder=OTHER_HOST)
    assert crashed.acquire()
    executor, said = recorder(config, db), []

    clock.advance(config.scheduler.lock_lease - timedelta(seconds=1))
    assert cron_run(db, executor, clock, echo=said.append) is None
    assert executor.runs == [] and "another repwatch run is in progress" in said[-1]

    clock.advance(timedelta(seconds=2))               # the lease has run out: the holder is presumed dead
    report = cron_run(db, executor, clock, echo=said.append)
    assert report is not None and report.ran == ["every-15", "half-hourly", "office-hours"]
    assert said[-1].startswith(f"took over the run lock from a holder that died (held by {OTHER_HOST}")
    assert [names for names, _ in executor.runs] == [["every-15", "half-hourly", "office-hours"]]
    assert lock_info(db, RUN_LOCK) is None


def test_run_due_rejects_source_names(cron_setup):
    result = CliRunner().invoke(cli, [*cron_setup, "run", "--due", "--source", "kuaisong-feed"])
    assert result.exit_code == 2 and "--due picks the sources itself" in result.output
