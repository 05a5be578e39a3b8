"""The feed collector against a real loopback HTTP server: normal, GBK, malformed, 304-aware,
oversized, slow, redirect loop, HTTP errors, not-a-feed."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from collectors import CollectError, SourceState
from collectors.feed import FeedCollector, FeedOptions
from collectors.settings import HttpSettings
from repwatch.loopback import Response
from storage.records import content_hash

FIXTURES = Path(__file__).with_name("feeds")


def feed(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make(url: str, **http) -> FeedCollector:
    return FeedCollector("test-feed", FeedOptions(url=url), HttpSettings(**http))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.xml")), ids=lambda p: p.name)
def test_each_fixture_gives_what_its_expect_comment_states(path, http_server, clock, expect_of):
    expect = expect_of(path)
    http_server.routes["/f.xml"] = Response(path.read_bytes(), headers={"Content-Type": expect["content_type"]})
    result = make(http_server.url("/f.xml")).collect(SourceState(now=clock.now()))
    assert len(result.items) == expect["entries"]
    assert [m.external_id for m in result.items][:len(expect.get("ids", []))] == expect.get("ids", [])
    assert [p.kind for p in result.problems] == expect["problems"]
    stored = " ".join(f"{m.title or ''} {m.text}" for m in result.items)
    for unwanted in expect.get("absent", []):
        assert unwanted not in stored, f"{unwanted!r} reached the stored text of {path.name}"


def test_normal_feed_yields_entries_with_ids_by_guid_link_then_hash(http_server, clock):
    http_server.routes["/f.xml"] = Response(feed("normal.xml"), headers={"Content-Type": "application/rss+xml"})
    result = make(http_server.url("/f.xml")).collect(SourceState(now=clock.now()))
    assert [m.external_id for m in result.items][:2] == ["g-1", "http://example.com/p/2"]
    third = result.items[2]
    assert third.external_id == content_hash(f"{third.title} {third.text}")
    assert third.hash == content_hash(third.text)
    first = result.items[0]
    assert first.text == "等了三天才 送到 ，客服也不回复"
    assert first.author == "小王"
    assert first.published_at.isoformat() == "2026-11-23T01:00:00+00:00"
    assert result.problems == []
    assert "repwatch" in http_server.requests[-1].headers["user-agent"]


def test_gbk_feed_decodes_from_bytes(http_server, clock):
    http_server.routes["/gbk.xml"] = Response(feed("gbk.xml"), headers={"Content-Type": "application/rss+xml; charset=gbk"})
    result = make(http_server.url("/gbk.xml")).collect(SourceState(now=clock.now()))
    assert [m.text for m in result.items] == ["外卖送餐员态度恶劣，再也不点了", "味道很好，下次还来"]


def test_gbk_feed_with_wrong_declared_charset_is_a_warning_not_a_failure(http_server, clock):
    # The server claims utf-8 but the document says gbk: feedparser recovers and flags an override.
    http_server.routes["/gbk.xml"] = Response(feed("gbk.xml"), headers={"Content-Type": "text/xml; charset=utf-8"})
    result = make(http_server.url("/gbk.xml")).collect(SourceState(now=clock.now()))
    assert [m.text for m in result.items] == ["外卖送餐员态度恶劣，再也不点了", "味道很好，下次还来"]
    assert [p.kind for p in result.problems] == ["encoding"]
    assert result.problems[0].warning and "decoded as gbk" in str(result.problems[0])


def test_malformed_feed_keeps_entries_that_parsed(http_server, clock):
    http_server.routes["/bad.xml"] = Response(feed("malformed.xml"))
    result = make(http_server.url("/bad.xml")).collect(SourceState(now=clock.now()))
    assert [m.external_id for m in result.items][:2] == ["m-1", "m-2"]
    # the third entry broke off before it had any text: counted, not fatal
    assert [p.kind for p in result.problems] == ["malformed", "empty"]
    assert "kept the" in str(result.problems[0])


def test_atom_content_is_plain_text_without_markup(http_server, clock):
    http_server.routes["/a.xml"] = Response(feed("atom.xml"))
    (item,) = make(http_server.url("/a.xml")).collect(SourceState(now=clock.now())).items
    assert "<script" not in item.text and "退货流程复杂" in item.text
    assert item.url == "http://example.com/a/1"


def test_conditional_get_304_costs_no_parsing(http_server, clock):
    http_server.routes["/f.xml"] = Response(feed("normal.xml"), etag=True)
    collector = make(http_server.url("/f.xml"))
    first = collector.collect(SourceState(now=clock.now()))
    assert first.etag and len(first.items) == 3
    second = collector.collect(SourceState(now=clock.now(), etag=first.etag))
    assert second.not_modified and second.items == [] and second.http_status == 304
    assert http_server.requests[-1].headers["if-none-match"] == first.etag


def test_oversized_feed_is_refused_with_the_cap_named(http_server, clock):
    big = b"<rss><channel>" + b"<item><title>x</title></item>" * 5000 + b"</channel></rss>"
    http_server.routes["/big.xml"] = Response(big)
    with pytest.raises(CollectError) as err:
        make(http_server.url("/big.xml"), max_bytes=10_000).collect(SourceState(now=clock.now()))
    assert err.value.kind == "too_large" and "max_bytes" in str(err.value)


def test_oversized_chunked_feed_without_length_is_cut_off(http_server, clock):
    big = b"<rss><channel>" + b"<item><title>x</title></item>" * 5000 + b"</channel></rss>"
    # Lie about the length so the cap has to be enforced while streaming.
    http_server.routes["/big.xml"] = Response(big, headers={"Content-Length": str(len(big))})
    with pytest.raises(CollectError) as err:
        make(http_server.url("/big.xml"), max_bytes=len(big) - 1).collect(SourceState(now=clock.now()))
    assert err.value.kind == "too_large"


def test_slow_server_times_out(http_server, clock):
    http_server.routes["/slow.xml"] = Response(feed("normal.xml"), delay=1.5)
    with pytest.raises(CollectError) as err:
        make(http_server.url("/slow.xml"), read_timeout=timedelta(seconds=0.3)).collect(SourceState(now=clock.now()))
    assert err.value.kind == "timeout" and "slow or down" in str(err.value)


def test_redirect_loop_is_reported(http_server, clock):
    http_server.routes["/loop"] = Response(b"", 302, headers={"Location": "/loop2"})
    http_server.routes["/loop2"] = Response(b"", 302, headers={"Location": "/loop"})
    with pytest.raises(CollectError) as err:
        make(http_server.url("/loop"), max_redirects=3).collect(SourceState(now=clock.now()))
    assert err.value.kind == "redirects"


@pytest.mark.parametrize("status,kind", [(404, "http_4xx"), (503, "http_5xx")])
def test_http_errors_are_classified(http_server, clock, status, kind):
    http_server.routes["/e.xml"] = Response(b"nope", status)
    with pytest.raises(CollectError) as err:
        make(http_server.url("/e.xml")).collect(SourceState(now=clock.now()))
    assert err.value.kind == kind and err.value.http_status == status


def test_html_page_is_not_a_feed(http_server, clock):
    http_server.routes["/page"] = Response(b"<html><body><p>hello</p></body></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(CollectError) as err:
        make(http_server.url("/page")).collect(SourceState(now=clock.now()))
    assert err.value.kind == "parse"


def test_connection_refused_is_a_connect_error(clock):
    from repwatch.loopback import free_port

    with pytest.raises(CollectError) as err:
        make(f"http://127.0.0.1:{free_port()}/f.xml").collect(SourceState(now=clock.now()))
    assert err.value.kind == "connect"
