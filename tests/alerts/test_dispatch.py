"""The notification log and Alertmanager's semantics, against a real webhook receiver on loopback:
no duplicates on rerun or restart, retries rebuilt from the log, backoff, group_wait, grouping,
quiet hours that urgent alerts override, repeat_interval, silences, per-channel severity."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.notify import silences
from alerts.notify.base import Alert
from alerts.notify.registry import get_notifier
from alerts.settings import DeliverySettings
from storage.models import Incident, Notification
from storage.timefmt import local_time
from tests.alerts.services import options_for, webhook
from tests.alerts.sending import dispatch

MIN = timedelta(minutes=1)
TZ = "Asia/Shanghai"



@pytest.fixture
def hook(server):
    return webhook(server)


def notifier(hook, name="team-hook", min_severity="general"):
    """Built afresh for each run, as a restarted process would."""
    cls = get_notifier("webhook")
    n = cls.from_config(name, cls.Options.model_validate(options_for("webhook", hook) | {"retries": 0}),
                        min_severity=min_severity)
    n.sleep = lambda s: None
    return n


def alert(key="ticket:1:opened", severity="important", incident_id=None, target=None, **kw) -> Alert:
    return Alert(key=key, kind=kw.pop("kind", "ticket"), title=kw.pop("title", "外卖三天没到"), severity=severity,
                 summary=kw.pop("summary", f"summary of {key}"), incident_id=incident_id, target=target, **kw)


def send(db, alerts, hook, now, policy=None, **kw):
    with db.session() as s:
        return dispatch(s, alerts, [notifier(hook, **kw)], now, commit=s.commit,
                        policy=policy or DeliverySettings(), tz=TZ)


def rows(db):
    with db.session() as s:
        return [(r.key, r.status, r.attempts, r.sends) for r in s.scalars(select(Notification).order_by(Notification.id))]


def received(hook):
    return [m["json"]["key"] for m in hook.accepted]


def test_rerun_and_restart_never_send_twice(db, hook, clock):
    report = send(db, [alert(), alert("ticket:2:opened")], hook, clock.now())
    assert (report.sent, report.messages) == (2, 2)
    for _ in range(3):
        again = send(db, [alert(), alert("ticket:2:opened")], hook, clock.advance(5 * MIN))
        assert (again.sent, again.skipped) == (0, 2)
    assert received(hook) == ["ticket:1:opened", "ticket:2:opened"]
    assert rows(db) == [("ticket:1:opened@team-hook", "sent", 1, 1), ("ticket:2:opened@team-hook", "sent", 1, 1)]


def test_a_retryable_failure_is_rebuilt_from_the_log_and_sent_on_a_later_run(db, hook, clock):
    hook.fail_next = [503]
    first = send(db, [alert(summary="with evidence", figures={"count": 5})], hook, clock.now())
    assert (first.sent, first.retry_later) == (0, 1)
    # a new process, which no longer has the alert: only the log row knows it; backoff is 5 minutes
    assert send(db, [], hook, clock.advance(4 * MIN)).sent == 0
    later = send(db, [], hook, clock.advance(2 * MIN))
    assert later.sent == 1 and received(hook) == ["ticket:1:opened"]
    assert hook.accepted[0]["json"]["summary"] == "with evidence" and hook.accepted[0]["json"]["figures"] == {"count": 5}
    assert rows(db) == [("ticket:1:opened@team-hook", "sent", 2, 1)]


def test_backoff_doubles_and_gives_up_after_max_attempts(db, hook, clock):
    policy = DeliverySettings(max_attempts=3, retry_backoff=timedelta(minutes=10))
    hook.fail_next = [500] * 10
    tried = []
    for _ in range(12):                     # a run every 5 minutes for an hour
        report = send(db, [alert()], hook, clock.now(), policy)
        if report.retry_later or report.failed:
            tried.append((clock.now() - clock.at.replace(hour=2, minute=0)) // MIN)
        clock.advance(5 * MIN)
    assert tried == [0, 10, 30] and rows(db) == [("ticket:1:opened@team-hook", "failed", 3, 0)]


def test_a_client_error_fails_once_and_is_not_retried(db, hook, clock):
    hook.fail_next = [400]
    assert send(db, [alert()], hook, clock.now()).failed == 1
    assert send(db, [alert()], hook, clock.advance(timedelta(hours=1))).sent == 0
    assert rows(db) == [("ticket:1:opened@team-hook", "failed", 1, 0)] and hook.attempts() == 1


def test_group_wait_holds_non_urgent_alerts_and_sends_an_incident_as_one_message(db, hook, clock):
    policy = DeliverySettings(group_wait=timedelta(minutes=2))
    a1 = alert("ticket:1:opened", incident_id=9, evidence=[{"text": "a", "url": "https://x/1", "reach": 5}])
    assert send(db, [a1], hook, clock.now(), policy).waiting == 1
    a2 = alert("spread:incident:9", kind="spike", incident_id=9, severity="urgent",
               evidence=[{"text": "b", "url": "https://x/2", "reach": 50}])
    report = send(db, [a2], hook, clock.advance(MIN), policy)     # urgent: no wait, and the group goes with it
    assert (report.sent, report.messages) == (2, 1)
    msg = hook.accepted[0]["json"]
    assert msg["severity"] == "urgent" and msg["figures"]["alerts"] == 2
    assert msg["summary"].splitlines() == ["summary of spread:incident:9", "summary of ticket:1:opened"]
    assert [e["url"] for e in msg["evidence"]] == ["https://x/2", "https://x/1"]
    assert send(db, [alert("ticket:3:opened")], hook, clock.advance(MIN), policy).sent == 0
    assert send(db, [], hook, clock.advance(2 * MIN), policy).sent == 1


def test_quiet_hours_defer_non_urgent_alerts_and_urgent_ones_override(db, hook, clock):
    policy = DeliverySettings.model_validate({"quiet_hours": {"start": "22:00", "end": "08:00"}})
    clock.at = clock.at.replace(hour=16)                 # 00:00 in Shanghai
    report = send(db, [alert("a", severity="important"), alert("b", severity="urgent", target="优选商城")],
                  hook, clock.now(), policy)
    assert (report.sent, report.waiting) == (1, 1) and received(hook) == ["b"]
    assert send(db, [], hook, clock.advance(timedelta(hours=7, minutes=59)), policy).sent == 0
    assert send(db, [], hook, clock.advance(MIN), policy).sent == 1      # 08:00 local
    assert received(hook) == ["b", "a"]


def test_repeat_interval_resends_a_still_firing_alert_with_fresh_figures(db, hook, clock):
    policy = DeliverySettings(repeat_interval=timedelta(hours=4))
    firing = lambda n: alert("spread:tc:快送外卖/delivery", kind="spike", repeatable=True,  # noqa: E731
                             figures={"count": n})
    send(db, [firing(6)], hook, clock.now(), policy)
    assert send(db, [firing(9)], hook, clock.advance(timedelta(hours=3)), policy).sent == 0
    assert send(db, [firing(12)], hook, clock.advance(timedelta(hours=1)), policy).sent == 1
    assert [m["json"]["figures"]["count"] for m in hook.accepted] == [6, 12]
    assert send(db, [alert()], hook, clock.advance(timedelta(hours=9)), policy).sent == 1
    assert send(db, [alert()], hook, clock.advance(timedelta(hours=9)), policy).sent == 0, "one-shot alerts never repeat"
    assert rows(db)[0][3] == 2


def test_a_crash_after_the_receiver_took_it_resends_under_the_same_idempotency_key(db, hook, clock):
    """The one duplicate a log cannot prevent (the worker dies after the receiver accepted, before the
    log is written) reaches the receiver with the key of the first try, so it can drop it; a still-firing
    alert announced again after repeat_interval is a new delivery with a new key."""
    def die():
        raise RuntimeError("worker died before writing the log")

    with pytest.raises(RuntimeError), db.session() as s:
        dispatch(s, [alert()], [notifier(hook)], clock.now(), commit=die, policy=DeliverySettings(), tz=TZ)
    assert rows(db) == [], "nothing of the first try was logged"
    send(db, [alert()], hook, clock.advance(MIN))
    keys = [m["headers"]["idempotency-key"] for m in hook.accepted]
    assert received(hook) == ["ticket:1:opened"] * 2 and keys[0] == keys[1] != "ticket:1:opened"

    policy = DeliverySettings(repeat_interval=timedelta(hours=4))
    firing = alert("spread:tc:快送外卖/delivery", kind="spike", repeatable=True)
    send(db, [firing], hook, clock.advance(MIN), policy)
    send(db, [firing], hook, clock.advance(timedelta(hours=5)), policy)
    repeat_keys = [m["headers"]["idempotency-key"] for m in hook.accepted[2:]]
    assert len(repeat_keys) == 2 and len(set(repeat_keys + keys[:1])) == 3


def test_silences_mute_a_target_or_an_incident_until_they_end(db, hook, clock):
    now = clock.now()
    with db.session() as s:
        s.add(Incident(id=9, key="k9", target="快送外卖", title="t", severity="important", signals=[], first_seen=now,
                       last_seen=now, mention_count=1, reach=0, status="open"))
        s.flush()
        by_target = silences.add(s, now=now, ends_at=now + timedelta(hours=2), created_by="cli:li", target="优选商城")
        silences.add(s, now=now, ends_at=now + timedelta(hours=2), created_by="cli:li", incident_id=9)
        silences.add(s, now=now - timedelta(days=2), ends_at=now - timedelta(days=1), created_by="cli:li",
                     target="快送外卖")   # over: mutes nothing
        target_silence = by_target.id
    report = send(db, [alert("a", target="优选商城"), alert("b", incident_id=9), alert("c"),
                       alert("d", target="优选商城", severity="urgent")], hook, now)
    assert (report.sent, report.silenced) == (1, 3) and received(hook) == ["c"]
    with db.session() as s:
        muted = s.scalar(select(Notification).where(Notification.key == "a@team-hook"))
        assert muted.status == "silenced" and f"silence {target_silence}" in muted.last_error
        ends = local_time(now + timedelta(hours=2), TZ)   # the one clock: the team's zone, labelled
        assert muted.last_error.endswith(f"until {ends}") and ends.endswith("CST")
        silences.expire(s, target_silence, clock.advance(MIN))
    assert send(db, [alert("e", target="优选商城")], hook, clock.now()).sent == 1


def test_each_channel_gets_only_the_severities_it_asked_for(db, hook, clock):
    report = send(db, [alert("g", severity="general"), alert("u", severity="urgent")], hook, clock.now(),
                  min_severity="important")
    assert report.sent == 1 and received(hook) == ["u"] and [r[0] for r in rows(db)] == ["u@team-hook"]
