"""Every channel within its limits, against the loopback robots (real HTTP servers on 127.0.0.1 that keep
the robots' documented size and rate limits and answer "too fast" the way they do):

- a long Chinese alert goes out in numbered parts, each within the robot's byte limit, whole characters
  and whole links in each, and the parts join back to the message byte for byte;
- 25 alerts to one DingTalk robot within a minute: 20 go now, 5 wait in the notification log and go
  out on a later run (time travel on a clock the notifier and the robot share), none lost or twice;
- the robot's own "too fast" (130101, 45009, HTTP 429) is a wait, not a failure, and a message cut off
  after some of its parts goes on from the next part."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone


import pytest
from pydantic import ValidationError
from sqlalchemy import select

from alerts.notify.base import Alert, Deferred, Delivered
from alerts.notify.limits import Rate, SendWindow, clip, marker, split, unmark, utf8_len
from alerts.notify.registry import get_notifier
from alerts.notify.render import markdown
from alerts.settings import DeliverySettings
from storage.models import DetectorState, Notification
from tests.alerts.services import SERVICES, options_for
from tests.alerts.sending import dispatch

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
TZ = "Asia/Shanghai"


LINE = ("外卖三天没到，客服电话打不通，退款申请被驳回第三次了，商家说是骑手的问题，骑手说是平台的问题，"
        "到底谁来负责？[原文 source](https://weibo.example/p/{n}) 😡👍🏽 👨‍👩‍👧")


class Wall:
    """The notifiers' wall clock and sleep, and the robots' clock: time moves when told, or when slept."""

    def __init__(self, start: datetime = T0):
        self.start, self.t = start, start.timestamp()

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def travel(self, seconds: float) -> datetime:
        self.t += seconds
        return self.now()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)




@pytest.fixture
def wall() -> Wall:
    return Wall()


def robot(kind: str, svc, wall: Wall, name: str | None = None, **extra):
    cls = get_notifier(kind)
    n = cls(name or f"team-{kind}", cls.Options.model_validate({**options_for(kind, svc), **extra}))
    n.wall, n.sleep = wall, wall.sleep
    svc.clock = wall
    return n


def long_alert(lines: int = 60, **kw) -> Alert:
    base = dict(key="ticket:7:opened", kind="ticket", title="快送外卖投诉汇总：配送、退款、客服", severity="important",
                summary="\n".join(LINE.format(n=n) for n in range(lines)), category="delivery", ticket_id=7,
                url="http://dash.example/tickets/7", figures={"mentions": lines},
                evidence=[{"text": "三天没到", "url": "https://weibo.example/p/1", "author": "小王", "reach": 52000}])
    return Alert(**{**base, **kw})


def parts_of(svc, kind: str) -> list[str]:
    field = {"dingtalk": ("markdown", "text"), "wecom": ("markdown", "content")}[kind]
    return [m[field[0]][field[1]] for m in svc.accepted]


LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)")


# -- splitting ---------------------------------------------------------------------------------------
def test_split_keeps_whole_characters_and_links_and_joins_back_byte_for_byte():
    text = "\n".join(LINE.format(n=n) for n in range(40))
    for limit in (300, 1000, 4096):
        parts = split(text, limit, max_parts=100)
        assert len(parts) > 1
        assert all(utf8_len(p) <= limit for p in parts)
        assert [p.split("\n", 1)[0] for p in parts] == [f"({i}/{len(parts)})" for i in range(1, len(parts) + 1)]
        assert unmark(parts).encode("utf-8") == text.encode("utf-8")
        links = LINK.findall(text)
        assert [link for p in parts for link in LINK.findall(p)] == links, "a link was cut"
        for p in parts:   # no part starts or ends inside an emoji sequence
            body = p.split("\n", 1)[1]
            assert not body.startswith(("\u200d", "\U0001f3fd")) and not body.endswith("\u200d")


def test_split_prefers_paragraphs_then_lines_and_fits_exactly():
    text = "第一段。" * 30 + "\n\n" + "第二段，很长的一句话" * 40
    parts = split(text, 400)
    assert parts[0].endswith("\n\n") and all(utf8_len(p) <= 400 for p in parts)
    assert split("短消息", 400) == ["短消息"]
    assert split("x" * 400, 400) == ["x" * 400]


def test_past_max_parts_the_last_part_is_trimmed_and_says_so():
    text = "很长的投诉内容。" * 2000
    parts = split(text, 1000, max_parts=3)
    assert len(parts) == 3 and parts[-1].startswith("(3/3)\n") and "已截断 trimmed" in parts[-1]
    assert all(utf8_len(p) <= 1000 for p in parts)
    assert clip("你好世界", 8) == "你…" and utf8_len(clip("你好世界" * 10, 20)) <= 20


# -- the send window ---------------------------------------------------------------------------------
def test_the_window_never_holds_more_than_the_rate_in_any_minute():
    per_minute = [Rate(messages=20, per=timedelta(minutes=1))]
    w = SendWindow()
    times = w.schedule(45, 1000.0, per_minute)
    assert times[:20] == [1000.0] * 20 and times[20:40] == [1060.0] * 20 and times[40] == 1120.0
    for t in times:
        w.record(t)
    assert all(sum(1 for x in w.sent if start - 60 < x <= start) <= 20 for start in w.sent)
    feishu = [Rate(messages=100, per=timedelta(minutes=1)), Rate(messages=5, per=timedelta(seconds=1))]
    assert SendWindow().schedule(7, 0.0, feishu) == [0.0] * 5 + [1.0] * 2
    blocked = SendWindow(blocked_until=600.0)
    assert blocked.schedule(1, 0.0, per_minute) == [600.0]
    assert SendWindow.from_state(blocked.state(0.0, per_minute)).blocked_until == 600.0


# -- long alerts on the loopback robots ---------------------------------------------------------------
@pytest.mark.parametrize("kind,limit", [("dingtalk", 20_000), ("wecom", 4096)])
def test_a_long_chinese_alert_arrives_in_parts_within_the_robots_byte_limit(server, wall, kind, limit):
    svc = SERVICES[kind](server)
    alert = long_alert(lines=200 if kind == "dingtalk" else 40)
    text = markdown(alert)
    assert utf8_len(text) > limit
    outcome = robot(kind, svc, wall).send(alert)
    assert isinstance(outcome, Delivered) and "parts" in outcome.detail
    parts = parts_of(svc, kind)
    n = len(parts)
    assert 1 < n <= 5 and all(utf8_len(p) <= limit for p in parts)
    assert [p.split("\n", 1)[0] for p in parts] == [f"({i}/{n})" for i in range(1, n + 1)]
    assert unmark(parts).encode("utf-8") == text.encode("utf-8")       # byte-exact, no broken characters
    assert [link for p in parts for link in LINK.findall(p)] == LINK.findall(text)
    if kind == "dingtalk":
        assert [m["markdown"]["title"][-5:] for m in svc.accepted] == [f"({i}/{n})" for i in range(1, n + 1)]


def test_dingtalk_mentions_close_the_last_part_only(server, wall):
    svc = SERVICES["dingtalk"](server)
    robot("dingtalk", svc, wall).send(long_alert(lines=200, severity="urgent"))
    assert [m["at"]["atMobiles"] for m in svc.accepted] == [[]] * (len(svc.accepted) - 1) + [["13800000000"]]
    assert svc.accepted[-1]["markdown"]["text"].endswith("@13800000000")


def test_a_smaller_configured_limit_is_kept_and_too_many_parts_are_trimmed(server, wall):
    svc = SERVICES["dingtalk"](server)
    n = robot("dingtalk", svc, wall, limits={"max_bytes": 1000, "max_parts": 3})
    assert isinstance(n.send(long_alert(lines=40)), Delivered)
    parts = parts_of(svc, "dingtalk")
    assert len(parts) == 3 and all(utf8_len(p) <= 1000 for p in parts) and "已截断" in parts[-1]


def test_feishu_sends_a_long_alert_as_numbered_posts_within_30kb(server, wall):
    svc = SERVICES["feishu"](server)
    alert = long_alert(lines=300)
    assert isinstance(robot("feishu", svc, wall).send(alert), Delivered)
    posts = [m["content"]["post"]["zh_cn"] for m in svc.accepted]
    n = len(posts)
    assert n > 1 and [p["title"][-5:] for p in posts] == [f"({i}/{n})" for i in range(1, n + 1)]
    rows = [node["text"] for p in posts for row in p["content"] for node in row if node["tag"] == "text"]
    assert rows[:300] == alert.summary.splitlines()
    assert all(len(r.body) <= 30_000 for r in server.requests)


def test_slack_sends_a_summary_too_long_for_blocks_as_text(server, wall):
    svc = SERVICES["slack"](server)
    alert = long_alert(lines=40)
    assert isinstance(robot("slack", svc, wall).send(alert), Delivered)
    assert len(svc.accepted) == 1 and "blocks" not in svc.accepted[0]
    assert "(原文 source)" not in svc.accepted[0]["text"] and svc.accepted[0]["text"].count("\n") >= 40


def test_limits_are_strict_config():
    cls = get_notifier("dingtalk").Options
    base = {"url": "https://oapi.dingtalk.com/robot/send?access_token=x"}
    assert cls.model_validate(base).limits.max_bytes == 20_000
    assert str(cls.model_validate(base).limits.rate[0]) == "20/1m"
    for bad in ({"max_bytes": 30_000}, {"rate": []}, {"rate": [{"messages": 20}]}, {"per_minute": 20},
                {"max_wait": "1h"}, {"rate": [{"messages": 0, "per": "1m"}]}):
        with pytest.raises(ValidationError):
            cls.model_validate({**base, "limits": bad})
    assert get_notifier("wecom").Options.model_validate({"url": "http://x"}).limits.max_bytes == 4096
    feishu = get_notifier("feishu").Options.model_validate({"url": "http://x"}).limits
    assert [str(r) for r in feishu.rate] == ["100/1m", "5/1s"] and feishu.max_bytes == 30_000
    assert get_notifier("slack").Options.model_validate({"url": "http://x"}).limits.max_chars == 40_000


# -- the rate, through the notification log ---------------------------------------------------------
def alerts(n: int, severity: str = "important") -> list[Alert]:
    return [Alert(key=f"ticket:{i}:opened", kind="ticket", title=f"投诉 {i}", severity=severity,
                  summary=f"新工单 #{i}") for i in range(n)]


def run(db, notifiers, wall: Wall, new=()):
    with db.session() as s:
        return dispatch(s, list(new), notifiers, wall.now(), commit=s.commit, policy=DeliverySettings(), tz=TZ)


def log(db):
    with db.session() as s:
        return [(r.key.split("@")[0], r.status, r.attempts) for r in
                s.scalars(select(Notification).order_by(Notification.id))]


def keys_received(svc) -> list[str]:
    return [re.search(r"新工单 ＃(\d+)", m["markdown"]["text"]).group(1) for m in svc.accepted]   # md() widens #


def test_25_alerts_to_one_dingtalk_robot_20_now_5_later_none_lost_none_twice(db, server, wall):
    svc = SERVICES["dingtalk"](server)
    first = run(db, [robot("dingtalk", svc, wall)], wall, alerts(25))
    assert (first.sent, first.deferred, first.failed, first.retry_later) == (20, 5, 0, 0)
    assert len(svc.accepted) == 20 and svc.attempts() == 20, "the robot never had to say too fast"
    waiting = [r for r in log(db) if r[1] == "pending"]
    assert len(waiting) == 5 and all(attempts == 0 for _, _, attempts in waiting)

    wall.travel(30)      # a new process half a minute later: the window was kept in the database
    assert run(db, [robot("dingtalk", svc, wall)], wall).sent == 0 and svc.attempts() == 20
    with db.session() as s:
        kept = s.scalar(select(DetectorState).where(DetectorState.key.like("rate:%")))
        assert len(kept.state["sent"]) == 20 and "tok-123" not in str(kept.state) + kept.key

    wall.travel(31)
    later = run(db, [robot("dingtalk", svc, wall)], wall)
    assert (later.sent, later.deferred) == (5, 0)
    got = keys_received(svc)
    assert sorted(got, key=int) == [str(i) for i in range(25)] and len(set(got)) == 25
    assert all(status == "sent" for _, status, _ in log(db))
    wall.travel(3600)
    assert run(db, [robot("dingtalk", svc, wall)], wall, alerts(25)).sent == 0
    assert len(svc.accepted) == 25


def test_urgent_alerts_go_first_when_the_rate_runs_out(db, server, wall):
    svc = SERVICES["dingtalk"](server)
    run(db, [robot("dingtalk", svc, wall)], wall, alerts(22, "general")[:20])
    urgent = [Alert(key="ticket:99:opened", kind="ticket", title="紧急", severity="urgent", summary="新工单 #99")]
    wall.travel(61)
    run(db, [robot("dingtalk", svc, wall)], wall, alerts(22, "general")[20:] + urgent)
    assert keys_received(svc)[20] == "99"


def test_two_notifiers_on_one_robot_share_its_rate(db, server, wall):
    svc = SERVICES["dingtalk"](server)
    a, b = robot("dingtalk", svc, wall, "urgent-only"), robot("dingtalk", svc, wall, "everything")
    report = run(db, [a, b], wall, alerts(15))
    assert (report.sent, report.deferred) == (20, 10) and svc.attempts() == 20


def test_a_short_wait_is_waited_within_the_run(db, server, wall):
    svc = SERVICES["dingtalk"](server)
    n = robot("dingtalk", svc, wall, limits={"max_wait": "10m"})
    report = run(db, [n], wall, alerts(25))
    assert (report.sent, report.deferred) == (25, 0) and wall.t - T0.timestamp() == pytest.approx(60)


@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_the_robots_too_fast_answer_is_a_wait_not_a_failure(db, server, wall, kind):
    svc = SERVICES[kind](server)
    svc.too_fast_next = 1
    first = run(db, [robot(kind, svc, wall)], wall, alerts(1))
    assert (first.sent, first.deferred, first.failed, first.retry_later) == (0, 1, 0, 0)
    assert log(db) == [("ticket:0:opened", "pending", 0)]
    with db.session() as s:
        row = s.scalar(select(Notification))
        assert "too fast" in row.last_error
        wait = (row.due_at.replace(tzinfo=timezone.utc) - T0).total_seconds()
    assert wait == (600 if kind == "dingtalk" else 60)   # DingTalk blocks a robot for 10 minutes
    wall.travel(wait - 5)
    assert run(db, [robot(kind, svc, wall)], wall).sent == 0 and svc.attempts() == 1
    wall.travel(5)
    assert run(db, [robot(kind, svc, wall)], wall).sent == 1
    assert len(svc.accepted) == 1 and log(db) == [("ticket:0:opened", "sent", 1)]


def test_a_message_cut_off_after_some_parts_goes_on_from_the_next_part(db, server, wall):
    svc = SERVICES["dingtalk"](server)
    options = {"limits": {"max_bytes": 2000, "max_parts": 10}}
    alert = long_alert(lines=20, ticket_id=None)
    real = svc.server.routes[svc.path]
    calls = []

    def second_part_too_fast(req):
        calls.append(1)
        if len(calls) == 2:
            svc.too_fast_next = 1
        return real(req)

    svc.server.routes[svc.path] = second_part_too_fast
    first = run(db, [robot("dingtalk", svc, wall, **options)], wall, [alert])
    assert first.deferred == 1 and len(svc.accepted) == 1
    with db.session() as s:
        progress = s.scalar(select(Notification)).payload["_progress"]
        assert progress["parts"] == 1 and progress["delivery"]
    wall.travel(600)
    again = run(db, [robot("dingtalk", svc, wall, **options)], wall)
    assert again.sent == 1
    parts = parts_of(svc, "dingtalk")
    n = len(parts)
    assert n > 2 and [p.split("\n", 1)[0] for p in parts] == [f"({i}/{n})" for i in range(1, n + 1)]
    assert unmark(parts) == markdown(Alert.from_dict({**alert.to_dict(), "tz": TZ}))
    with db.session() as s:
        assert "_progress" not in s.scalar(select(Notification)).payload


def test_slack_429_waits_retry_after_without_using_an_attempt(db, server, wall):
    svc = SERVICES["slack"](server)
    svc.too_fast_next = 3                     # the first try and its two in-run retries
    n = robot("slack", svc, wall)
    out = n.send(alerts(1)[0])
    assert isinstance(out, Deferred) and out.retry_after == 30 and "429" in out.error
    svc.too_fast_next = 3
    report = run(db, [robot("slack", svc, wall)], wall, alerts(1))
    assert (report.deferred, report.failed) == (1, 0) and log(db) == [("ticket:0:opened", "pending", 0)]
    wall.travel(31)
    assert run(db, [robot("slack", svc, wall)], wall).sent == 1


def test_marker_width_counts_against_the_limit():
    text = "投" * 5000
    parts = split(text, 320, max_parts=20)
    assert len(parts) == 20 and parts[-1].startswith("(20/20)\n") and all(utf8_len(p) <= 320 for p in parts)
    assert marker(3, 12) == "(3/12)\n"


def test_a_run_waits_for_a_channel_at_most_max_wait_in_all(db, server, wall):
    svc = SERVICES["slack"](server)                  # one message a second
    n = robot("slack", svc, wall, limits={"max_wait": "3s"})
    report = run(db, [n], wall, [Alert(key=f"a{i}", kind="ticket", title="t", severity="important",
                                       summary=f"s{i}") for i in range(10)])
    assert (report.sent, report.deferred) == (4, 6) and n.waited == pytest.approx(3)
    assert wall.t - T0.timestamp() == pytest.approx(3)
