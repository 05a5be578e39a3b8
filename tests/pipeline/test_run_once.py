"""`run_once` end to end on real parts: loopback feeds, a real database, aiosmtpd."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from repwatch.loopback import Response
from repwatch.pipeline import run_once
from storage.models import Analysis, CollectionRun, Mention, Notification, Source, Ticket, TicketEvent


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_first_run_collects_scores_opens_tickets_and_emails(db, config, analyzer, clock, smtp):
    report = run_once(db, config, analyzer, clock.now())
    assert [(s.name, s.status, s.new) for s in report.sources] == [("good", "ok", 3), ("down", "failed", 0)]
    assert count(db, Mention) == 3 and count(db, Analysis) == 3
    with db.session() as s:
        by_guid = {m.external_id: m.analysis for m in s.scalars(select(Mention))}
        assert by_guid["p-1"].severity == "urgent" and by_guid["p-1"].complaint
        assert by_guid["p-2"].complaint and by_guid["p-2"].severity in ("important", "urgent")
        assert not by_guid["p-3"].complaint and by_guid["p-3"].severity == "none"
        assert all(a.targets == ["快送外卖"] for a in by_guid.values())
        tickets = list(s.scalars(select(Ticket)))
    assert len(tickets) == report.evaluation.tickets_opened == 2
    assert len(smtp.messages) == 2 == count(db, Notification)
    msg = smtp.messages[0]
    assert msg["To"] == "team@example.com" and "[repwatch]" in msg["Subject"]
    assert {p.get_content_type() for p in msg.iter_parts()} == {"text/plain", "text/html"}


def test_second_run_gets_304_and_duplicates_nothing(db, config, analyzer, clock, smtp, feeds):
    run_once(db, config, analyzer, clock.now())
    counts = [count(db, m) for m in (Mention, Analysis, Ticket, TicketEvent, Notification)]
    report = run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert report.sources[0].status == "not_modified" and report.sources[0].http_status == 304
    assert [count(db, m) for m in (Mention, Analysis, Ticket, TicketEvent, Notification)] == counts
    assert len(smtp.messages) == 2
    assert count(db, CollectionRun) == 4


def test_rerun_without_etag_support_is_still_idempotent(db, config, analyzer, clock, smtp, feeds, posts, make_rss):
    feeds.routes["/good.xml"] = Response(make_rss(posts))  # no ETag: the whole feed comes back
    run_once(db, config, analyzer, clock.now())
    report = run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert (report.sources[0].status, report.sources[0].new, report.sources[0].duplicates) == ("ok", 0, 3)
    assert count(db, Mention) == 3 and count(db, Ticket) == 2 and len(smtp.messages) == 2


def test_new_matching_mention_attaches_to_the_open_ticket(db, config, analyzer, clock, smtp, feeds, posts, make_rss):
    run_once(db, config, analyzer, clock.now())
    more = posts + [("p-4", "快送外卖的外卖又吃出问题，全家食物中毒，已经联系记者曝光")]
    feeds.routes["/good.xml"] = Response(make_rss(more), etag=True)
    report = run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert report.sources[0].new == 1
    with db.session() as s:
        urgent = s.scalars(select(Ticket).where(Ticket.severity == "urgent")).all()
        assert len(urgent) == 1, "the second poisoning post joins the open urgent ticket"
        kinds = [e.kind for e in urgent[0].events]
    assert kinds == ["opened", "evidence"]
    assert count(db, Ticket) == 2 and len(smtp.messages) == 2


def test_failing_source_is_recorded_and_never_loses_stored_data(db, config, analyzer, clock, feeds):
    run_once(db, config, analyzer, clock.now())
    feeds.routes["/good.xml"] = Response(b"<html>maintenance</html>", 200)  # the feed breaks
    report = run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert report.sources[0].status == "failed" and "not an RSS or Atom feed" in report.sources[0].error
    assert count(db, Mention) == 3
    with db.session() as s:
        down = s.scalar(select(Source).where(Source.name == "down"))
        good = s.scalar(select(Source).where(Source.name == "good"))
        assert down.consecutive_failures == 2 and down.error_counts == {"http_5xx": 2}
        assert "HTTP 500" in down.last_error
        assert good.consecutive_failures == 1 and good.last_success_at is not None


def test_exact_repost_with_link_and_spacing_is_linked(db, feeds, posts, make_rss, make_config, analyzer, clock):
    # Same words, other spacing and punctuation width, plus a short link: normalised hashes match.
    feeds.routes["/repost.xml"] = Response(make_rss([("r-1", posts[0][1].replace("，", " , ") + " http://t.cn/xyz")]))
    cfg = make_config([{"name": "repost", "kind": "feed", "url": feeds.url("/repost.xml")}])
    run_once(db, cfg, analyzer, clock.now())
    with db.session() as s:
        repost = s.scalar(select(Mention).where(Mention.external_id == "r-1"))
        original = s.scalar(select(Mention).where(Mention.external_id == "p-1"))
        assert repost.duplicate_of_id == original.id
    assert count(db, Ticket) == 2, "a repost does not open or count as a new complaint"


def test_alerts_survive_a_crash_between_ticket_and_email(db, config, analyzer, clock, smtp, monkeypatch):
    """The ticket and its pending notification commit together; a process that dies before sending
    leaves the alert in the log, and the next run delivers it once."""
    import alerts.notify.dispatch
    import repwatch.pipeline

    def crash(*args, **kwargs):
        raise SystemExit("worker lost before sending")

    monkeypatch.setattr(repwatch.pipeline, "deliver_due", crash)
    try:
        run_once(db, config, analyzer, clock.now())
    except SystemExit:
        pass
    with db.session() as s:
        pending = s.scalars(select(Notification.status)).all()
    assert pending == ["pending", "pending"] and count(db, Ticket) == 2 and smtp.messages == []
    monkeypatch.setattr(repwatch.pipeline, "deliver_due", alerts.notify.dispatch.deliver_due)
    run_once(db, config, analyzer, clock.advance(timedelta(minutes=5)))
    assert len(smtp.messages) == 2 and count(db, Ticket) == 2 and count(db, Notification) == 2
