"""Every fetch has a total deadline, and a body that did not end properly is never parsed:
real sockets on loopback that trickle, cut the connection short, or cut a chunked body."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from collectors import CollectError, SourceState
from collectors.feed import FeedCollector, FeedOptions
from collectors.settings import HttpSettings
from repwatch.loopback_faults import cut, drip

FEED = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        '<item><guid>t-1</guid><title>一</title><description>优选商城卖假货，退款一直不处理</description></item>'
        '<item><guid>t-2</guid><title>二</title><description>快送外卖的骑手态度恶劣</description></item>'
        '</channel></rss>').encode()


def collect(url: str, **http):
    http.setdefault("read_timeout", timedelta(seconds=5))
    return FeedCollector("t", FeedOptions(url=url), HttpSettings(**http)).collect(SourceState(now=None))


def test_trickling_server_is_cut_off_at_the_fetch_deadline(raw_server):
    # One byte every 0.2 s never trips the 5 s read timeout; the body would take ~90 s.
    raw_server.routes["/drip.xml"] = trickle = drip(FEED, every=0.2)
    started = time.monotonic()
    with pytest.raises(CollectError) as err:
        collect(raw_server.url("/drip.xml"), fetch_deadline=timedelta(seconds=1))
    assert err.value.kind == "deadline"
    assert "http.fetch_deadline" in str(err.value) and "1s" in str(err.value)
    assert trickle.sent < len(FEED)   # the body was still arriving when we gave up
    assert time.monotonic() - started < 10   # generous: far below the ~90 s the body would take


def test_fetch_deadline_is_strict_config():
    with pytest.raises(ValueError, match="at most 10m"):
        HttpSettings(fetch_deadline="1h")
    with pytest.raises(ValueError):
        HttpSettings(fetch_deadline="0s")
    assert HttpSettings().fetch_deadline == timedelta(seconds=30)


def test_connection_closed_before_content_length_is_truncated_not_parsed(raw_server):
    half = FEED[: len(FEED) * 2 // 3]
    raw_server.routes["/short.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                          b"Content-Length: %d" % len(FEED), half)
    with pytest.raises(CollectError) as err:
        collect(raw_server.url("/short.xml"))
    assert err.value.kind == "truncated" and "nothing from this fetch was kept" in str(err.value)


def test_chunked_body_cut_off_is_truncated(raw_server):
    half = FEED[: len(FEED) // 2]
    raw_server.routes["/chunked.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                            b"Transfer-Encoding: chunked", b"%x\r\n%s\r\n" % (len(half), half))
    with pytest.raises(CollectError) as err:
        collect(raw_server.url("/chunked.xml"))
    assert err.value.kind == "truncated"


def test_body_ended_by_close_mid_feed_is_truncated(raw_server):
    # No Content-Length, no chunking: HTTP cannot tell a cut, the unclosed document can.
    upto = FEED.index(b"</description></item></channel>")
    raw_server.routes["/closed.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                           b"Connection: close", FEED[:upto])
    with pytest.raises(CollectError) as err:
        collect(raw_server.url("/closed.xml"))
    assert err.value.kind == "truncated" and "closing tag" in str(err.value)


def test_whole_body_ended_by_close_is_fine(raw_server):
    raw_server.routes["/whole.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                          b"Connection: close", FEED)
    result = collect(raw_server.url("/whole.xml"))
    assert [m.external_id for m in result.items] == ["t-1", "t-2"]


@pytest.mark.parametrize("document,ends", [
    ('<?xml version="1.0"?><!-- <b>x</b> --><!DOCTYPE rss [<!ENTITY a "b">]><rss><channel/></rss>\n<!-- end -->\n', True),
    ('<rdf:RDF xmlns:rdf="x"><item/></rdf:RDF >', True),
    ("<feed><entry></entry></feed", False),
    ("<rss><channel><item><title>半", False),
    ("<!--" * 10_000, False),                     # hostile prologs cost one pass, not a hang
    ("<rss>" + " " * 100_000 + "x", False),
])
def test_ends_properly(document, ends):
    from collectors.feed_xml import ends_properly

    assert ends_properly(document) is ends


def test_character_references_to_forbidden_code_points_are_dropped():
    from collectors.feed_xml import drop_bad_charrefs

    text, dropped = drop_bad_charrefs("a&#xD800;b&#0;c&#x41;&#20013;&#99999999999999;&#x" + "F" * 5000 + ";d"
                                      "&amp;#xDFFF;&amp;#x4E2D;")
    assert (text, dropped) == ("abc&#x41;&#20013;d&amp;#x4E2D;", 5)


def test_json_api_page_that_trickles_fails_at_the_deadline_and_is_not_retried(raw_server):
    from collectors.jsonapi import JsonApiCollector, JsonApiOptions

    raw_server.routes["/api"] = drip(b'[{"id": "1", "text": "' + "退款不处理".encode() + b'"}]', every=0.2)
    options = JsonApiOptions(url=raw_server.url("/api"), fields={"id": "id", "text": "text"}, retries=2,
                             retry_backoff="10ms", delay=0)
    collector = JsonApiCollector("api", options, HttpSettings(fetch_deadline="1s"))
    with pytest.raises(CollectError) as err:
        collector.collect(SourceState(now=None))
    assert err.value.kind == "deadline"
    assert raw_server.hits == ["/api"]   # a trickling server is not given three deadlines in one run


def test_json_api_in_gb18030_labelled_iso_8859_1_is_not_mojibake(http_server):
    from collectors.jsonapi import JsonApiCollector, JsonApiOptions
    from repwatch.loopback import Response

    body = '[{"id": "1", "text": "优选商城卖假货，客服一直推脱，我要投诉到消费者协会"}]'.encode("gb18030")
    http_server.routes["/api"] = Response(body, headers={"Content-Type": "application/json; charset=iso-8859-1"})
    options = JsonApiOptions(url=http_server.url("/api"), fields={"id": "id", "text": "text"}, delay=0)
    result = JsonApiCollector("api", options, HttpSettings()).collect(SourceState(now=None))
    assert [m.text for m in result.items] == ["优选商城卖假货，客服一直推脱，我要投诉到消费者协会"]
    (warning,) = result.problems
    assert warning.kind == "encoding" and warning.warning and "declared iso-8859-1" in str(warning)


def test_credentials_never_follow_a_redirect_to_another_host():
    from collectors.http import fetch
    from repwatch.loopback import LoopbackHTTPServer, Response

    with LoopbackHTTPServer({"/data": Response(b"{}")}, host="127.0.0.2") as elsewhere, \
            LoopbackHTTPServer({"/here": Response(b"{}"), "/moved": Response(b"", 302, headers={"Location": "/here"}),
                                "/away": Response(b"", 302, headers={"Location": elsewhere.url("/data")})}) as home:
        token = {"Authorization": "Bearer s3cret"}
        assert fetch(home.url("/moved"), HttpSettings(), headers=token).url == home.url("/here")
        assert home.requests[-1].headers.get("authorization") == "Bearer s3cret"   # same origin: kept
        fetched = fetch(home.url("/away"), HttpSettings(), headers=token)
        assert fetched.status == 200 and fetched.url == elsewhere.url("/data")
        assert "authorization" not in elsewhere.requests[-1].headers
        assert elsewhere.requests[-1].headers["user-agent"].startswith("repwatch/")
