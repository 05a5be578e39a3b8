"""The `web` collector against the loopback review site: paging, incremental stops, engagement refresh,
politeness (robots.txt, Retry-After) and every kind of bad input, through the real pipeline and database."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import CollectionRun, EngagementSnapshot, Mention, Source

# Crawling (paging, robots.txt, Retry-After, charsets, faults) is the subject: once, on PostgreSQL when
# configured. Storing what a collector returns is tested on every backend (test_feed.py, test_dedup.py, storage/).
pytestmark = pytest.mark.one_backend


def test_paginated_site_is_crawled_and_rerun_adds_nothing(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site)])
    report = collect(db, config, "shop", clock.now())
    assert (report.status, report.new, report.failed) == ("ok", 12, 0)
    assert site.hits["/shop/reviews"].__len__() == 3   # 12 reviews, 4 per page
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "r1"))
        assert m.text == "快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人"
        assert (m.author, m.likes, m.comments) == ("用户1", 3, 1)
        assert m.url == site.url("/r/r1") and m.rating == 2.0
        assert m.published_at.isoformat() == "2026-11-11T03:30:00+00:00"   # 11:30 Asia/Shanghai
    again = collect(db, config, "shop", clock.advance(timedelta(hours=1)))
    assert (again.status, again.new) == ("ok", 0)
    assert count(db, Mention) == 12 and count(db, CollectionRun) == 2


def test_later_run_stops_at_known_reviews_and_picks_up_new_ones(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site)])
    collect(db, config, "shop", clock.now())
    site.hits.clear()
    site.add("新下单的外卖洒了一半，客服说不管")
    report = collect(db, config, "shop", clock.advance(timedelta(hours=1)))
    assert (report.new, report.duplicates) == (1, 3)   # page 1 only: the new review and 3 known ones
    assert len(site.hits["/shop/reviews"]) == 1, "paging stopped at the first page holding a stored review"
    assert count(db, Mention) == 13


def test_refresh_keeps_engagement_snapshots_of_recent_reviews(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site, refresh_pages=2)])
    collect(db, config, "shop", clock.now())
    assert count(db, EngagementSnapshot) == 12
    site.reviews[0]["likes"] = 250          # the newest review is taking off
    site.reviews[5]["likes"] = 40           # on page 2: still refreshed (refresh_pages: 2)
    site.reviews[10]["likes"] = 99          # page 3: older than we re-read
    report = collect(db, config, "shop", clock.advance(timedelta(hours=1)))
    assert report.new == 0 and len(site.hits["/shop/reviews"]) == 3 + 2
    with db.session() as s:
        newest = s.scalar(select(Mention).where(Mention.external_id == site.reviews[0]["id"]))
        snaps = s.scalars(select(EngagementSnapshot.likes).where(EngagementSnapshot.mention_id == newest.id)
                          .order_by(EngagementSnapshot.taken_at)).all()
        assert newest.likes == 250 and snaps == [3, 250]
        old = s.scalar(select(Mention).where(Mention.external_id == site.reviews[10]["id"]))
        assert old.likes == 3
    assert count(db, EngagementSnapshot) == 14


def test_robots_txt_forbidding_the_start_page_fails_the_source_clearly(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site, "/private/reviews", name="private")])
    report = collect(db, config, "private", clock.now())
    assert report.status == "failed" and "robots.txt" in report.error
    assert "/private/reviews" not in site.hits
    with db.session() as s:
        assert s.scalar(select(Source)).error_counts == {"robots": 1}


def test_robots_can_be_switched_off_per_source(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site, "/private/reviews", name="private", obey_robots=False)])
    assert collect(db, config, "private", clock.now()).new == 12


def test_429_with_retry_after_is_waited_out_then_collected(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site, "/limited/reviews", name="limited")])
    report = collect(db, config, "limited", clock.now())
    assert (report.status, report.new) == ("ok", 12)
    first, second = site.hits["/limited/reviews"][:2]
    assert second - first >= 0.95, "the retry waited for the server's Retry-After: 1"


def test_retry_after_longer_than_we_wait_fails_with_the_servers_wait(db, make_config, web_source, collect, count, site, clock, http_server):
    from repwatch.loopback import Response

    http_server.routes["/limited/reviews"] = Response(b"", 429, {"Retry-After": "3600"})
    config = make_config([web_source(site, "/limited/reviews", name="limited")])
    report = collect(db, config, "limited", clock.now())
    assert report.status == "failed" and "3600s" in report.error and report.http_status == 429
    assert sum(1 for r in http_server.requests if r.path == "/limited/reviews") == 1, "no hammering"


@pytest.mark.parametrize("path", ["/gbk/reviews", "/gbk-wrong/reviews"])
def test_gbk_pages_decode_whether_the_charset_is_missing_or_wrong(db, make_config, web_source, collect, count, site, clock, path):
    config = make_config([web_source(site, path, name="gbk")])
    report = collect(db, config, "gbk", clock.now())
    assert report.new == 1 and report.failed == 0
    with db.session() as s:
        assert s.scalar(select(Mention.text)) == "这家店的服务态度太差了，等了一个小时"


def test_layout_change_gives_zero_items_and_degrades_health(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site)])
    collect(db, config, "shop", clock.now())
    site.layout = "v2"
    report = collect(db, config, "shop", clock.advance(timedelta(hours=1)))
    assert (report.status, report.new, report.health) == ("partial", 0, "degraded")
    assert report.alarm is not None and report.alarm.reason == "zero_items"
    with db.session() as s:
        run = s.scalars(select(CollectionRun).order_by(CollectionRun.id.desc())).first()
        assert any("matched no reviews" in p["message"] for p in run.problems)
        assert s.scalar(select(Source)).error_counts == {"zero_items": 1}
    assert count(db, Mention) == 12, "stored reviews are untouched"


def test_malformed_html_keeps_what_parses_and_reports_the_rest(db, make_config, web_source, collect, count, site, clock):
    config = make_config([web_source(site, "/malformed/reviews", name="bad")])
    report = collect(db, config, "bad", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 2, 1)
    with db.session() as s:
        texts = sorted(s.scalars(select(Mention.text)))
    assert texts == ["客服根本不理人", "漏水修了三次还是漏"]


@pytest.mark.parametrize("path,kind,words", [
    ("/loop/a", "redirects", "redirect loop"),
    ("/gone/reviews", "http_4xx", "HTTP 404"),
    ("/broken/reviews", "http_5xx", "HTTP 500"),
    ("/huge/reviews", "too_large", "size cap"),
    ("/slow/reviews", "timeout", "in time"),
])
def test_bad_responses_fail_one_source_with_a_clear_error_and_lose_nothing(db, make_config, web_source, collect, count, site, clock, path, kind, words):
    config = make_config([web_source(site), web_source(site, path, name="bad", retries=1)])
    good = collect(db, config, "shop", clock.now())
    bad = collect(db, config, "bad", clock.now())
    assert good.new == 12 and bad.status == "failed" and words in bad.error
    with db.session() as s:
        source = s.scalar(select(Source).where(Source.name == "bad"))
        assert source.error_counts == {kind: 1} and source.health == "degraded"
    assert count(db, Mention) == 12
    if kind == "http_5xx":
        assert sum(1 for r in site.server.requests if r.path == path) == 2, "retried once, then gave up"


def test_a_failing_later_page_keeps_the_earlier_pages(db, make_config, web_source, collect, count, site, clock, http_server):
    from repwatch.loopback import Response

    def flaky(req):
        return Response(b"oops", 404) if "page=2" in req.query else site.page(req, "/flaky/reviews")

    http_server.routes["/flaky/reviews"] = flaky
    config = make_config([web_source(site, "/flaky/reviews", name="flaky")])
    report = collect(db, config, "flaky", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 4, 1)


def test_crawl_timeout_stops_paging_and_keeps_what_was_read(db, make_config, web_source, collect, site, clock,
                                                            http_server):
    def sluggish(req):
        page = site.page(req, "/sluggish/reviews")
        if "page=2" in req.query:
            page.delay = 2.0   # still in flight when crawl_timeout strikes: Scrapy lets it finish
        return page

    http_server.routes["/sluggish/reviews"] = sluggish
    config = make_config([web_source(site, "/sluggish/reviews", name="sluggish", crawl_timeout="1s",
                                     download_timeout="10s")])
    report = collect(db, config, "sluggish", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 8, 1)
    assert len(site.hits["/sluggish/reviews"]) == 2, "no new page was requested after the timeout"
    with db.session() as s:
        run = s.scalar(select(CollectionRun))
    assert [p["kind"] for p in run.problems] == ["timeout"] and "crawl_timeout (1s)" in run.problems[0]["message"]
