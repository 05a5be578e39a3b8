"""The `json` collector: cursor and page pagination, JMESPath mapping, engagement, incremental stops,
resume, Retry-After, malformed JSON and a changed response format."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from collectors.http import fetch_polite
from collectors.settings import HttpSettings
from repwatch.exceptions import ConfigError
from repwatch.loopback import Response
from storage.models import CollectionRun, EngagementSnapshot, Mention, Source

# Paging JSON APIs and their faults is the subject: once, on PostgreSQL when configured. Storing what a
# collector returns is tested on every backend (test_feed.py, test_dedup.py, storage/).
pytestmark = pytest.mark.one_backend

CURSOR_FIELDS = {"id": "post_id", "text": "content", "author": "user.nick", "author_followers": "user.fans",
                 "likes": "stats.like", "reposts": "stats.share", "comments": "stats.reply", "date": "created"}


def api_source(site, **extra) -> dict:
    return {"name": "api", "kind": "json", "url": site.url("/api/reviews"), "items": "data.items",
            "fields": CURSOR_FIELDS, "delay": 0, "retry_backoff": "100ms",
            "pagination": {"type": "cursor", "param": "cursor", "next": "data.paging.next_cursor", "max_pages": 10},
            **extra}


def test_cursor_api_is_paged_to_the_end_with_engagement(db, site, clock, make_config, collect, count):
    config = make_config([api_source(site)])
    report = collect(db, config, "api", clock.now())
    assert (report.status, report.new) == ("ok", 12)
    assert len(site.hits["/api/reviews"]) == 3   # 5 + 5 + 2
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "r12"))
        assert (m.author, m.author_followers, m.likes, m.reposts, m.comments) == ("用户12", 1003, 3, 1, 0)
        assert m.published_at.timestamp() == 1795000000 + 12 * 60
    assert count(db, EngagementSnapshot) == 12


def test_rerun_reads_only_the_first_page_and_refreshes_its_counts(db, site, clock, make_config, collect, count):
    config = make_config([api_source(site)])
    collect(db, config, "api", clock.now())
    site.hits.clear()
    site.reviews[0]["likes"] = 500
    report = collect(db, config, "api", clock.advance(timedelta(minutes=30)))
    assert (report.new, report.duplicates) == (0, 5) and len(site.hits["/api/reviews"]) == 1
    with db.session() as s:
        assert s.scalar(select(Mention.likes).where(Mention.external_id == site.reviews[0]["id"])) == 500
    assert count(db, EngagementSnapshot) == 13


def test_resume_continues_from_the_stored_cursor(db, site, clock, make_config, collect, count):
    source = api_source(site)
    source["pagination"] = {**source["pagination"], "resume": True, "max_pages": 2}
    config = make_config([source])
    assert collect(db, config, "api", clock.now()).new == 10
    with db.session() as s:
        assert s.scalar(select(Source.state)) == {"cursor": "10"}   # the first page not yet read
    site.hits.clear()
    report = collect(db, config, "api", clock.advance(timedelta(minutes=30)))
    assert (report.new, report.duplicates) == (2, 0) and len(site.hits["/api/reviews"]) == 1
    assert count(db, Mention) == 12
    with db.session() as s:   # the end of the list: the next run re-reads this page for newer items
        assert s.scalar(select(Source.state)) == {"cursor": "10"}


def test_app_store_shaped_feed_with_page_numbers(db, site, clock, make_config, collect):
    source = {"name": "appstore", "kind": "json", "url": site.url("/appstore/page={page}/json"), "delay": 0,
              "items": "feed.entry", "pagination": {"type": "page", "max_pages": 10},
              "fields": {"id": "id.label", "title": "title.label", "text": "content.label",
                         "author": "author.name.label", "rating": '"im:rating".label', "likes": '"im:voteSum".label',
                         "date": "updated.label"}}
    report = collect(db, make_config([source]), "appstore", clock.now())
    assert (report.status, report.new) == ("ok", 12)
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "r1"))
        assert (m.rating, m.likes, m.title) == (2.0, 3, m.text[:8])
        assert m.published_at.isoformat() == "2026-11-20T17:00:00+00:00"


def test_malformed_json_on_the_first_page_fails_clearly(db, site, clock, make_config, collect, http_server, count):
    http_server.routes["/api/reviews"] = Response(b'{"data": {"items": [', headers={"Content-Type": "application/json"})
    report = collect(db, make_config([api_source(site)]), "api", clock.now())
    assert report.status == "failed" and "not valid JSON" in report.error
    assert count(db, Mention) == 0


def test_malformed_json_on_a_later_page_keeps_the_first(db, site, clock, make_config, collect, http_server):
    good = http_server.routes["/api/reviews"]
    http_server.routes["/api/reviews"] = lambda req: (Response(b"<html>502 Bad Gateway</html>")
                                                      if "cursor=5" in req.query else good(req))
    report = collect(db, make_config([api_source(site)]), "api", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 5, 1)


def test_changed_response_format_is_a_layout_problem(db, site, clock, make_config, collect, http_server):
    http_server.routes["/api/reviews"] = Response(b'{"code": 0, "result": {"list": []}}')
    report = collect(db, make_config([api_source(site)]), "api", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 0, 1)
    with db.session() as s:
        run = s.scalar(select(CollectionRun))
    assert [p["kind"] for p in run.problems] == ["layout"] and "data.items" in run.problems[0]["message"]


def test_items_without_text_are_reported_and_the_rest_kept(db, site, clock, make_config, collect):
    site.reviews[1]["text"] = ""
    report = collect(db, make_config([api_source(site)]), "api", clock.now())
    assert (report.new, report.failed) == (11, 1)


def test_gbk_json_declared_in_the_header(db, site, clock, make_config, collect, http_server):
    body = '{"data": {"items": [{"post_id": "g1", "content": "退款一直没到账"}], "paging": {}}}'.encode("gbk")
    http_server.routes["/api/reviews"] = Response(body, headers={"Content-Type": "application/json; charset=GBK"})
    collect(db, make_config([api_source(site)]), "api", clock.now())
    with db.session() as s:
        assert s.scalar(select(Mention.text)) == "退款一直没到账"


def test_fetch_polite_honours_retry_after_then_succeeds(http_server):
    calls = []
    http_server.routes["/x"] = lambda req: (Response(b"", 429, {"Retry-After": "7"}) if not calls.append(1)
                                            and len(calls) == 1 else Response(b"{}"))
    waits = []
    fetched = fetch_polite(http_server.url("/x"), HttpSettings(), sleep=waits.append)
    assert fetched.status == 200 and waits == [7.0] and len(calls) == 2


def test_fetch_polite_backs_off_exponentially_on_5xx_then_gives_up(http_server):
    from collectors.exceptions import CollectError

    http_server.routes["/x"] = Response(b"", 503)
    waits = []
    with pytest.raises(CollectError) as err:
        fetch_polite(http_server.url("/x"), HttpSettings(), retries=3, backoff=0.5, sleep=waits.append)
    assert err.value.kind == "http_5xx" and waits == [0.5, 1.0, 2.0]


def test_config_errors_name_the_key(site, make_config):
    bad = api_source(site, fields={"text": "content[", "likes": "stats.like"})
    with pytest.raises(ConfigError) as err:
        make_config([bad])
    assert "fields.text" in str(err.value) and "JMESPath" in str(err.value)
    nocursor = api_source(site, url="http://api.example.com/reviews")
    nocursor["pagination"] = {"type": "cursor", "next": "next"}
    with pytest.raises(ConfigError) as err:
        make_config([nocursor])
    assert "{cursor}" in str(err.value)


@pytest.mark.parametrize("route,kind,words", [
    (Response(b"", 302, {"Location": "/api/reviews"}), "redirects", "redirect loop"),
    (Response(b"[" + b"1," * 150_000 + b"1]"), "too_large", "cap"),
    (Response(b"{}", delay=2.0), "timeout", "slow or down"),
    (Response(b"nope", 404), "http_4xx", "HTTP 404"),
])
def test_bad_responses_fail_the_api_source_clearly(db, site, clock, make_config, collect, http_server, count,
                                                   route, kind, words):
    http_server.routes["/api/reviews"] = route
    report = collect(db, make_config([api_source(site, retries=0)]), "api", clock.now())
    assert report.status == "failed" and words in report.error
    with db.session() as s:
        assert s.scalar(select(Source.error_counts)) == {kind: 1}
