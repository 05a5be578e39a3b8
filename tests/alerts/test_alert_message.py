"""What a person reads in an alert: signals in words (the web's translation, one shared function), and the
ticket's SLA deadline in the team's timezone, labelled. Read from the real messages: the email from the
aiosmtpd sink, the robot message from the loopback DingTalk robot."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from alerts.notify.base import Alert
from alerts.notify.registry import get_notifier
from alerts.notify.render import markdown, plain
from alerts.settings import DeliverySettings
from alerts.stage import evaluate
from repwatch.web import labels as web_labels
from storage.context import RunContext
from storage.models import Ticket
from storage.timefmt import local_time
from storage.vocabulary import signal_label
from tests.alerts.services import SERVICES, options_for
from tests.alerts.sending import dispatch

TZ = "Asia/Shanghai"


POST = "快送外卖三天没到，京东都比你快，我要去媒体曝光"


def build(kind: str, options: dict):
    cls = get_notifier(kind)
    n = cls(f"team-{kind}", cls.Options.model_validate(options))
    n.sleep = lambda seconds: None
    return n


def test_one_signal_translation_for_the_web_the_emails_and_the_robots():
    assert web_labels.signal_label is signal_label
    assert signal_label("company:京东") == "指向商家·京东"
    assert signal_label("media:曝光") == "媒体曝光·曝光"
    assert signal_label("delivery:没到") == "交付物流·没到"     # signals named after a category
    assert signal_label("reach") == "影响面" and signal_label("company:京东", "en") == "names a company·京东"
    assert signal_label("brand_new:x") == "brand_new:x"           # unknown kinds show as they are


def test_the_deadline_line_in_every_rendering_and_the_soonest_in_a_group():
    due = {"kind": "first_response", "due": "2026-12-01T05:45:00+00:00"}
    alert = Alert(key="k", kind="ticket", title="t", severity="important", summary="s", deadline=due, tz=TZ)
    for text in (plain(alert), markdown(alert)):
        assert "respond by" in text and "2026-12-01 13:45 CST" in text
    resolve = Alert(key="k", kind="ticket", title="t", severity="important", summary="s", tz=TZ,
                    deadline={"kind": "resolution", "due": "2026-12-03T05:45:00+00:00"})
    assert "解决截止 resolve by: 2026-12-03 13:45 CST" in plain(resolve)
    assert "respond by" not in plain(Alert(key="k", kind="spike", title="t", severity="important", summary="s"))


@pytest.fixture
def opened(db, seed, settings, clock):
    """One important complaint naming a company and threatening the media: a ticket and its alert."""
    seed.mention(POST, at=clock.now(), signals=["company:京东", "media:曝光"], severity="important")
    with db.session() as s:
        evaluation = evaluate(s, settings, RunContext(clock.now(), ZoneInfo(TZ), "http://dash.example"))
        s.commit()
        ticket = s.scalar(select(Ticket))
        due = ticket.first_response_due
    assert len(evaluation.alerts) == 1
    return evaluation.alerts, due


def test_the_alert_email_reads_signals_in_words_and_says_respond_by_in_the_team_zone(db, clock, smtp, opened):
    alerts, due = opened
    # important: first response within 4 hours (settings.sla), 02:00 UTC + 4h = 14:00 in Shanghai
    assert local_time(due, TZ) == "2026-11-23 14:00 CST"
    email = build("email", {"from": "repwatch@example.com", "to": ["team@example.com"],
                            "smtp": {"host": "127.0.0.1", "port": smtp.port}})
    with db.session() as s:
        report = dispatch(s, alerts, [email], clock.now(), commit=s.commit, policy=DeliverySettings(), tz=TZ)
    assert report.sent == 1
    msg = smtp.messages[0]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "指向商家·京东" in part and "媒体曝光·曝光" in part
        assert "company:京东" not in part and "media:曝光" not in part
        assert "首次响应截止 respond by" in part and "2026-11-23 14:00 CST" in part
    assert "首次响应截止 respond by: 2026-11-23 14:00 CST" in text


def test_the_robot_message_says_respond_by_too(db, clock, http_server, opened):
    alerts, _ = opened
    svc = SERVICES["dingtalk"](http_server)
    robot = build("dingtalk", options_for("dingtalk", svc))
    with db.session() as s:
        assert dispatch(s, alerts, [robot], clock.now(), commit=s.commit, policy=DeliverySettings(), tz=TZ).sent == 1
    text = svc.accepted[0]["markdown"]["text"]
    assert "**首次响应截止 respond by**: 2026-11-23 14:00 CST" in text
    assert "指向商家·京东" in text and "company:京东" not in text
