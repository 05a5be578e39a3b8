"""The digest as a recipient gets it: sent over SMTP to a real server on loopback, parsed, and checked
for its parts, the inline chart and its cid, the encoded Chinese subject, hostile text rendered inert,
and figures that agree with the database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from repwatch.config import parse_config
from repwatch.digests import send_digest
from repwatch.loopback import SMTPSink
from storage.models import Analysis, Mention, Notification, Ticket

# The local day 2026-11-22 in Asia/Shanghai, written out by hand rather than computed by the code under test.
START = datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 23, 0, 5, tzinfo=timezone.utc)       # 08:05 local, the morning after


def digest_config(port: int, recipients=None, extra=None, **digest):
    return parse_config({**(extra or {}),
        "timezone": "Asia/Shanghai", "base_url": "http://127.0.0.1:8080",
        "watch": [{"name": "快送外卖"}, {"name": "优选商城"}],
        "sources": [{"name": n, "kind": "feed", "url": f"https://{n}.example.com/feed.xml"}
                    for n in ("weibo-keyword", "shop-reviews", "forum-broken", "blog-quiet")],
        "digests": [{"name": "daily", "from": "repwatch@example.com", "smtp": {"host": "127.0.0.1", "port": port},
                     "recipients": recipients or ["team@example.com"], **digest}],
    }, "<test>")


def day_counts(db, target: str | None = None) -> tuple[int, int, int]:
    """(mentions, analysed, negative) for the day, straight from the tables."""
    when = func.coalesce(Mention.published_at, Mention.collected_at)
    with db.session() as s:
        rows = s.execute(select(Analysis.negative, Analysis.targets).select_from(Mention)
                         .outerjoin(Analysis, Analysis.mention_id == Mention.id)
                         .where(when >= START, when < END)).all()
    rows = [r for r in rows if target is None or target in (r.targets or [])]
    return len(rows), sum(r.negative is not None for r in rows), sum(bool(r.negative) for r in rows)


def parts(message) -> list[str]:
    return [p.get_content_type() for p in message.walk()]


def test_digest_arrives_with_text_html_and_inline_chart_and_figures_from_the_database(db, world, smtp):
    outcomes = send_digest(db, digest_config(smtp.port), "daily", world.day, NOW)
    assert [(o.to, o.status) for o in outcomes] == [("team@example.com", "sent")]
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert parts(msg) == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png",
                          "image/png"]

    # the charts (the day's hours, the 7-day trend): real PNGs, inline, referenced from the HTML by Content-ID
    html = msg.get_body(("html",)).get_content()
    for image in (p for p in msg.walk() if p.get_content_type() == "image/png"):
        png = image.get_content()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        assert image.get_content_disposition() == "inline"
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    # their titles, axes and legend are Chinese words beside them, from the digest's labels
    assert "当日每小时提及量与负面占比（Asia/Shanghai）" in html and "近7日趋势" in html
    assert "负面占比 (右轴)" in html and "Negative share" not in html and "7-day trend" not in html

    # the subject travels RFC 2047-encoded and decodes to the Chinese headline with the real figures
    mentions, analysed, negative = day_counts(db)
    assert (mentions, analysed, negative) == (world.mentions_day, world.analyzed_day, world.negative_day)
    share = f"{100 * negative / analysed:.0f}%"
    headers = smtp.envelopes[0].original_content.split(b"\r\n\r\n", 1)[0]
    headers.decode("ascii")                           # no raw UTF-8 on the wire: every header is 7-bit
    subject = headers[headers.index(b"Subject:"):].split(b"\r\nFrom:")[0]
    assert b"=?utf-8?b?" in subject
    assert msg["Subject"] == f"[repwatch] 舆情日报 2026-11-22：提及 {mentions}，负面 {share}"

    # the same figures, with the day before, in the text part
    text = msg.get_body(("plain",)).get_content()
    before = world.mentions_before
    assert f"提及: {mentions} (+{mentions - before})" in text
    assert f"负面占比: {share}" in text
    with db.session() as s:
        new_tickets = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.opened_at >= START,
                                                                              Ticket.opened_at < END))
        open_at_end = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.opened_at < END, (Ticket.closed_at.is_(None)) | (Ticket.closed_at >= END)))
    assert f"新工单: {new_tickets} (+1)" in text and f"未关闭工单: {open_at_end} (+1)" in text
    assert "- 交付物流: 6 / 1 (+5)" in text and "- 产品质量: 0 / 2 (−2)" in text
    assert "== 传播异常（突增） (1) ==" in text and "- 快送外卖 / 交付物流 11-22 09:00: 实际 12, 预期 1.5" in text
    assert "#2 [重要] 优选商城 商品质量问题: 解决超时, 已超 2天 (品控部)" in text
    assert "- forum-broken: 失败" in text and "- blog-quiet: 沉默" in text
    assert "weibo-keyword" not in text.split("== 数据源状况 ==")[1]     # healthy sources are not listed


def test_hostile_post_text_and_links_arrive_inert(db, world, smtp):
    send_digest(db, digest_config(smtp.port), "daily", world.day, NOW)
    msg = smtp.messages[0]
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html and "onerror=" not in html.replace("onerror=alert(1)&gt;", "")
    assert "javascript:" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    # it is still the top negative post by reach, shown as text with no link
    top = html.split("影响力最高的负面帖子")[1]
    assert top.index("&lt;script&gt;") < top.index("第8条")
    text = msg.get_body(("plain",)).get_content()
    assert "1. 快送外卖 <script>alert(\"x\")</script> 三天没到" in text and "javascript:" not in text


def test_a_recipient_sees_only_their_targets_and_sources_in_english(db, world, smtp):
    config = digest_config(smtp.port, recipients=[
        {"to": "manager@example.com", "locale": "en", "targets": ["优选商城"], "sources": ["shop-reviews"]}])
    send_digest(db, config, "daily", world.day, NOW)
    msg = smtp.messages[0]
    mentions, analysed, negative = day_counts(db, "优选商城")
    assert (mentions, negative) == (world.target_b_day, world.target_b_negative)
    share = f"{100 * negative / analysed:.0f}%"
    assert msg["Subject"] == f"[repwatch] [优选商城] Reputation digest 2026-11-22: {mentions} mentions, {share} negative"
    text = msg.get_body(("plain",)).get_content()
    assert f"Mentions: {mentions} " in text
    assert "快送外卖" not in text                      # nothing about the other brand: posts, incidents, spikes
    assert "#2 [important] 优选商城" in text           # its overdue ticket is there
    assert "forum-broken" not in text                  # a source outside the filter


def test_a_day_and_recipient_is_sent_once_even_after_a_restart(db, database_url, world, smtp):
    from storage import Database

    config = digest_config(smtp.port)
    assert send_digest(db, config, "daily", world.day, NOW)[0].status == "sent"
    restarted = Database(database_url)                # a new process: nothing remembered but the database
    try:
        again = send_digest(restarted, config, "daily", world.day, NOW)
    finally:
        restarted.dispose()
    assert [(o.status, o.detail) for o in again] == [("skipped", "already sent")]
    assert len(smtp.messages) == 1
    with db.session() as s:
        rows = s.execute(select(Notification.key, Notification.kind, Notification.status, Notification.attempts)).all()
    # one row in the alerts' notification log: the digest is an alert of kind "digest" on its email channel
    assert rows == [("digest:daily:2026-11-22:team@example.com@digest:daily", "digest", "sent", 1)]


class FlakySink(SMTPSink):
    """A real SMTP server that answers DATA with the given replies first, then accepts."""

    def __init__(self, replies: list[str]):
        super().__init__()
        self.replies = list(replies)

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


def test_a_temporary_smtp_failure_is_retried_after_the_alert_backoff_by_a_later_run(db, world):
    """The alerts' retry policy (alerts.delivery: retry_backoff 5m, doubling), not a second one."""
    with FlakySink(["451 4.3.0 try again later"]) as sink:
        config = digest_config(sink.port)
        first = send_digest(db, config, "daily", world.day, NOW)
        assert [(o.status, o.attempts) for o in first] == [("retry_later", 1)]
        assert "SMTP 451" in first[0].detail and "next try after 2026-11-23 08:10 CST" in first[0].detail
        early = send_digest(db, config, "daily", world.day, NOW + timedelta(minutes=4))
        assert [(o.status, o.attempts) for o in early] == [("retry_later", 1)] and sink.messages == []
        later = send_digest(db, config, "daily", world.day, NOW + timedelta(minutes=5))
        assert [(o.status, o.attempts) for o in later] == [("sent", 2)]
        again = send_digest(db, config, "daily", world.day, NOW + timedelta(minutes=10))
    assert [o.status for o in again] == ["skipped"] and len(sink.messages) == 1


def test_a_digest_that_keeps_failing_gives_up_after_max_attempts(db, world):
    with FlakySink(["451 busy"] * 10) as sink:
        config = digest_config(sink.port, extra={"alerts": {"delivery": {"max_attempts": 3}}})
        statuses, at = [], NOW
        for _ in range(6):                           # a run every 20 minutes; backoff 5, then 10 minutes
            statuses += [(o.status, o.attempts) for o in send_digest(db, config, "daily", world.day, at)]
            at += timedelta(minutes=20)
    assert statuses == [("retry_later", 1), ("retry_later", 2), ("failed", 3), ("skipped", 3), ("skipped", 3),
                        ("skipped", 3)]
    assert sink.messages == []


def test_a_permanent_refusal_is_not_retried(db, world):
    with FlakySink(["554 5.7.1 relay denied", "554 5.7.1 relay denied"]) as sink:
        config = digest_config(sink.port)
        first = send_digest(db, config, "daily", world.day, NOW)
        second = send_digest(db, config, "daily", world.day, NOW + timedelta(hours=1))
    assert [(o.status, o.attempts) for o in first] == [("failed", 1)]
    assert [o.status for o in second] == ["skipped"] and sink.messages == []


def test_a_crash_between_the_send_and_its_record_resends_once_under_the_same_message_id(db, world, smtp):
    """At least once, like alerts: the one duplicate a log cannot prevent carries the first try's
    Message-ID (the delivery id), which mail systems collapse; after it, nothing more is sent."""
    from alerts.digest.deliver import send
    from repwatch.digests import digest_zone

    config = digest_config(smtp.port)
    job = config.digests[0]
    commits = []

    def commit_then_die():
        if commits:                                   # the first commit logs the row; the second records the send
            raise RuntimeError("the process died after the SMTP server took the digest")
        commits.append(1)
        s.commit()

    with pytest.raises(RuntimeError), db.session() as s:
        send(s, job, world.day, digest_zone(config, job), NOW, policy=config.alerts.delivery, commit=commit_then_die)
    assert len(smtp.messages) == 1
    with db.session() as s:
        assert s.scalar(select(Notification.status)) == "pending"    # logged before the send, never recorded
    rerun = send_digest(db, config, "daily", world.day, NOW + timedelta(minutes=1))
    assert [o.status for o in rerun] == ["sent"]
    third = send_digest(db, config, "daily", world.day, NOW + timedelta(minutes=2))
    assert [o.status for o in third] == ["skipped"]
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"] and first["Subject"] == second["Subject"]


@pytest.mark.parametrize("url, shown", [
    ("https://weibo.example.com/p/1", True), ("HTTP://EXAMPLE.COM/x", True), ("javascript:alert(1)", False),
    (" JavaScript:alert(1)", False), ("data:text/html,<script>", False), ("/relative/path", False),
    ("http:///no-host", False), (None, False)])
def test_only_http_links_are_rendered(url, shown):
    from alerts.digest.render import http_url

    assert (http_url(url) is not None) is shown
