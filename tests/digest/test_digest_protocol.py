"""One delivery protocol: the digest is an alert of kind "digest" in the alerts' notification log, sent
through the notifier registry. Against real parts: an aiosmtpd server and a loopback webhook and DingTalk
robot; a `repwatch digest --send` process killed mid-send and run again; a database carried up from the
schema before (0007) with rows of the old protocol in it; and a clock that travels through the day."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import select, text

from repwatch.config import parse_config
from repwatch.digests import send_digest
from repwatch.loopback import LoopbackHTTPServer, SMTPSink
from storage.models import Incident, Notification, Ticket
from tests.alerts.services import dingtalk, options_for, webhook

NOW = datetime(2026, 11, 23, 0, 5, tzinfo=timezone.utc)       # 08:05 in Shanghai, the morning after 2026-11-22
SOURCES = [{"name": n, "kind": "feed", "url": f"https://{n}.example.com/feed.xml"}
           for n in ("weibo-keyword", "shop-reviews", "forum-broken", "blog-quiet")]


def config_with(smtp_port: int, *, notify=(), recipients=("team@example.com",), **digest):
    return {
        "timezone": "Asia/Shanghai", "base_url": "http://127.0.0.1:8080",
        "watch": [{"name": "快送外卖"}, {"name": "优选商城"}], "sources": SOURCES,
        "notify": list(notify),
        "digests": [{"name": "daily", "from": "repwatch@example.com", "smtp": {"host": "127.0.0.1", "port": smtp_port},
                     "recipients": list(recipients), "notify": [n["name"] for n in notify], **digest}],
    }


def log_rows(db) -> list[tuple]:
    with db.session() as s:
        return s.execute(select(Notification.key, Notification.channel, Notification.kind, Notification.status)
                         .order_by(Notification.key)).all()


@pytest.fixture
def robots():
    with LoopbackHTTPServer() as server:
        yield webhook(server), dingtalk(server)


def test_chat_channels_get_a_short_summary_with_a_link_and_email_the_full_digest_once(db, world, smtp, robots):
    hook, ding = robots
    notify = [{"name": "team-hook", "kind": "webhook", **options_for("webhook", hook)},
              {"name": "team-ding", "kind": "dingtalk", "min_severity": "urgent", **options_for("dingtalk", ding)}]
    config = parse_config(config_with(smtp.port, notify=notify), "<test>")
    first = send_digest(db, config, "daily", world.day, NOW)
    assert [(o.to, o.status) for o in first] == [("team@example.com", "sent"), ("team-hook", "sent"),
                                                 ("team-ding", "sent")]

    # the webhook: the digest as an alert, kind "digest", with stable figures and a link to the dashboard
    [posted] = hook.accepted
    body = posted["json"]
    assert (body["kind"], body["key"], body["url"]) == ("digest", "digest:daily:2026-11-22", "http://127.0.0.1:8080/")
    assert body["title"].startswith("[repwatch] 舆情日报 2026-11-22：提及 40，负面 37%")
    assert body["figures"]["mentions"] == world.mentions_day and body["figures"]["overdue_tickets"] == 1
    assert "提及: 40 (+20)" in body["summary"] and "document" not in body and "<html" not in posted["json"]["summary"]
    assert posted["headers"]["idempotency-key"]
    # DingTalk (its min_severity is for alerts; the digest goes where the digest says): short Markdown and a link
    [robot] = ding.accepted
    md = robot["markdown"]["text"]
    assert md.startswith("### 📊 ［repwatch］ 舆情日报 2026-11-22") and "[打开看板 open dashboard](http://127.0.0.1:8080/)" in md
    assert "严重度" not in md and "open ticket" not in md and len(md.encode()) < 2000
    # email: the full digest, charts inline
    [mail] = smtp.messages
    assert mail["To"] == "team@example.com" and sum(p.get_content_type() == "image/png" for p in mail.walk()) == 2

    again = send_digest(db, config, "daily", world.day, NOW + timedelta(hours=1))
    assert [o.status for o in again] == ["skipped"] * 3
    assert (len(hook.accepted), len(ding.accepted), len(smtp.messages)) == (1, 1, 1)
    assert log_rows(db) == [
        ("digest:daily:2026-11-22:team@example.com@digest:daily", "digest:daily", "digest", "sent"),
        ("digest:daily:2026-11-22@team-ding", "team-ding", "digest", "sent"),
        ("digest:daily:2026-11-22@team-hook", "team-hook", "digest", "sent"),
    ]
    with db.session() as s:    # a sent row keeps its short form, not the HTML and the charts
        payloads = s.scalars(select(Notification.payload)).all()
    assert all(p.get("document") is None and p["kind"] == "digest" for p in payloads)


def test_the_alert_stage_leaves_digest_rows_to_the_digest_and_the_digest_leaves_alerts_alone(db, world, smtp, robots):
    """Each row has one sender: the alert stage sends alerts (alert_rows), a digest run its own day's rows
    (digest_rows), so the two never both pick up one row, even on a channel they share."""
    from alerts import deliver_due, enqueue
    from alerts.notify.base import Alert
    from repwatch.digests import channels
    from repwatch.pipeline import alert_stage
    from storage.context import RunContext

    hook, _ = robots
    hook.fail_next = [503] * 3                                   # the digest's first try on the hook fails
    notify = [{"name": "team-hook", "kind": "webhook", **options_for("webhook", hook), "retries": 0}]
    config = parse_config(config_with(smtp.port, notify=notify), "<test>")
    assert [o.status for o in send_digest(db, config, "daily", world.day, NOW)] == ["sent", "retry_later"]
    with db.session() as s:
        enqueue(s, [Alert(key="ticket:1:opened", kind="ticket", title="t", severity="urgent", summary="s")],
                channels(config, config.digests[0]), RunContext(NOW), config.alerts.delivery)
    hook.fail_next = []
    later = NOW + timedelta(minutes=10)
    assert send_digest(db, config, "daily", world.day, later)[1].status == "sent"
    assert [m["json"]["key"] for m in hook.accepted] == ["digest:daily:2026-11-22"]        # not the alert
    alert_stage(db, config, later)                               # (it also alerts on the world's incidents)
    keys = [m["json"]["key"] for m in hook.accepted]
    assert "ticket:1:opened" in keys and keys.count("digest:daily:2026-11-22") == 1
    with db.session() as s:
        assert deliver_due(s, channels(config, config.digests[0]), later, config.alerts.delivery).sent == 0


class HangingSink(SMTPSink):
    """Takes the message, then holds the SMTP reply (bounded), so the sender is still waiting for it
    when the test kills the process: the crash between the server's accept and the log write."""

    def __init__(self):
        super().__init__()
        self.hang = True
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        reply = await super().handle_DATA(server, session, envelope)
        self.received.set()
        for _ in range(300):                                     # 30 s at most
            if not self.hang:
                break
            await asyncio.sleep(0.1)
        return reply


REPWATCH = [sys.executable, "-c", "from repwatch.cli import main; main()"]


def test_a_send_killed_after_the_server_took_it_is_sent_once_more_under_the_same_message_id_then_never(
        db, database_url, world, tmp_path):
    with HangingSink() as sink:
        path = tmp_path / "schedules.yaml"
        path.write_text(yaml.safe_dump(config_with(sink.port), allow_unicode=True), encoding="utf-8")
        args = [*REPWATCH, "-c", str(path), "--database", database_url, "digest", "--send", "--date", "2026-11-22"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            assert sink.received.wait(120), "the digest never reached the SMTP server"
            os.killpg(proc.pid, signal.SIGKILL)                  # dies before it can record the send
            proc.wait(30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
            sink.hang = False
        assert [r[3] for r in log_rows(db)] == ["pending"]      # logged before sending, never recorded
        with db.session() as s:    # the killed process held the run lock; a lease that is let go is what ends it
            s.execute(text("DELETE FROM run_lock"))
        rerun = subprocess.run(args, capture_output=True, text=True, timeout=180)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "team@example.com: sent" in rerun.stdout
        third = subprocess.run(args, capture_output=True, text=True, timeout=180)
        assert "team@example.com: skipped (already sent)" in third.stdout
    first, second = sink.messages
    assert first["Message-ID"] == second["Message-ID"]            # one delivery, which mail systems collapse
    assert log_rows(db) == [("digest:daily:2026-11-22:team@example.com@digest:daily", "digest:daily", "digest",
                             "sent")]


def test_todays_digest_measures_sla_as_of_the_moment_it_is_built(db, world, smtp):
    """Time travel through the day: a digest of today built at 10:00 does not list a ticket whose first
    response falls due at 12:00; built at 13:00 it does, and it agrees with the dashboard's breached
    filter at each moment (alerts.tickets.sla.breached_clause, what `repwatch tickets --breached` asks)."""
    from alerts.tickets.sla import breached_clause

    day = world.day + timedelta(days=1)
    opened = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)       # 09:00 in Shanghai
    with db.session() as s:
        incident = Incident(key="快送外卖/service/today", target="快送外卖", category="service", title="今天的投诉",
                            severity="urgent", signals=[], first_seen=opened, last_seen=opened, mention_count=1,
                            reach=0, status="open")
        s.add(incident)
        s.flush()
        s.add(Ticket(incident_id=incident.id, state="new", severity="urgent", title="今天的投诉", opened_at=opened,
                     updated_at=opened, first_response_due=opened + timedelta(hours=3),
                     resolution_due=opened + timedelta(hours=24)))
    config = parse_config(config_with(smtp.port, recipients=["morning@example.com", "noon@example.com"],
                                      covers="today"), "<test>")

    def overdue(now):
        with db.session() as s:
            return len(s.scalars(select(Ticket.id).where(breached_clause(now))).all())

    ten, one = opened + timedelta(hours=1), opened + timedelta(hours=4)
    assert send_digest(db, config, "daily", day, ten, only=["morning@example.com"])[0].status == "sent"
    assert send_digest(db, config, "daily", day, one, only=["noon@example.com"])[0].status == "sent"
    morning, noon = (m.get_body(("plain",)).get_content() for m in smtp.messages)
    assert overdue(one) == overdue(ten) + 1                          # the world's old ticket is late all day
    assert f"超时工单: {overdue(ten)} " in morning and "今天的投诉: 首次响应超时" not in morning
    assert f"超时工单: {overdue(one)} " in noon
    assert "今天的投诉: 首次响应超时, 已超 1小时" in noon


def test_digest_rows_of_the_old_protocol_are_carried_over_and_never_sent_twice(db, world, smtp):
    """A database from before 0010 with the old protocol's rows: sent, left `sending` by a crash, and
    `pending` after a temporary failure. After the upgrade (0010) only the pending one is sent, once."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    before = ScriptDirectory.from_config(alembic_config(db.engine)).get_revision("0010").down_revision
    command.downgrade(alembic_config(db.engine), before)             # the schema just before 0010
    old = {"sent@example.com": "sent", "crashed@example.com": "sending", "retry@example.com": "pending"}
    with db.engine.begin() as conn:
        for to, status in old.items():
            conn.execute(text("INSERT INTO notification (key, channel, kind, status, attempts, created_at, payload, sends)"
                              " VALUES (:key, 'digest:daily', 'digest', :status, 1, :at, '{}', 0)"),
                         {"key": f"digest:daily:2026-11-22:{to}", "status": status, "at": NOW})
    command.upgrade(alembic_config(db.engine), "head")
    config = parse_config(config_with(smtp.port, recipients=list(old)), "<test>")
    outcomes = send_digest(db, config, "daily", world.day, NOW)
    assert [(o.to, o.status) for o in outcomes] == [("sent@example.com", "skipped"), ("crashed@example.com", "skipped"),
                                                    ("retry@example.com", "sent")]
    assert [m["To"] for m in smtp.messages] == ["retry@example.com"]
    rows = {key: status for key, _, _, status in log_rows(db)}
    assert rows == {"digest:daily:2026-11-22:sent@example.com@digest:daily": "sent",
                    "digest:daily:2026-11-22:crashed@example.com@digest:daily": "failed",
                    "digest:daily:2026-11-22:retry@example.com@digest:daily": "sent"}
    command.downgrade(alembic_config(db.engine), before)              # and back: the old keys again
    with db.engine.connect() as conn:
        keys = sorted(conn.execute(text("SELECT key FROM notification")).scalars())
    assert keys == sorted(f"digest:daily:2026-11-22:{to}" for to in old)
    command.upgrade(alembic_config(db.engine), "head")
