"""The loopback fixture site for the web, json and rsshub collectors: real HTTP on 127.0.0.1.

It serves a paginated review site (newest first, with engagement counts that can grow), a robots.txt
that forbids /private/, a 429 with Retry-After, GBK pages (undeclared and mis-declared), a page whose
layout changed, malformed HTML, a redirect loop, 404/500, a huge page, a slow page, a JSON API with
cursors, an App Store shaped JSON feed, and an RSSHub-shaped feed."""
from __future__ import annotations

import codecs
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest
from sqlalchemy import func, select

from repwatch.config import parse_config
from repwatch.loopback import LoopbackHTTPServer, Response
from repwatch.loopback_faults import RawHTTPServer
from repwatch.pipeline import collect_source

COMPLAINTS = [
    "快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人",
    "优选商城的退款一直没处理，快一个月了",
    "买的手机经常死机，换了三次还是坏",
    "客服电话打不通，售后太差了",
    "结算金额超出预期，事先没告知要收服务费",
    "快递延迟了五天，问了也没人回",
    "菜里吃出头发，要求退款被拒绝",
    "包装破损，东西洒了一半",
    "店员不耐烦，问两句就甩脸色",
    "承诺的赠品一直没发",
    "点的辣的送来不辣，备注完全没看",
    "会员充值后优惠没有到账",
]
HTML = "text/html; charset=utf-8"
# Polite in production, quick on loopback: no delay, no AutoThrottle, short backoff.
FAST = {"delay": 0, "autothrottle": False, "retry_backoff": "100ms"}


def review_html(r: dict, layout: str = "v1") -> str:
    cls = "review" if layout == "v1" else "comment-card"
    return (f'<div class="{cls}" data-id="{r["id"]}"><p class="text">{r["text"]}</p>'
            f'<a class="user">{r["author"]}</a><span class="likes">赞 {r["likes"]}</span>'
            f'<span class="comments">{r["comments"]}条回复</span><time>{r["date"]}</time>'
            f'<span class="stars">{"★" * r["stars"]}{"☆" * (5 - r["stars"])}</span>'
            f'<a class="link" href="/r/{r["id"]}">#</a></div>')


WEB_FIELDS = {"id": "::attr(data-id)", "text": "p.text ::text", "author": ".user::text", "likes": ".likes::text",
              "comments": ".comments::text", "date": "time::text", "rating": ".stars::text",
              "url": "a.link::attr(href)"}


@dataclass
class ReviewSite:
    """A review site whose content tests change between runs."""

    server: LoopbackHTTPServer
    reviews: list[dict] = field(default_factory=list)
    per_page: int = 4
    layout: str = "v1"
    hits: dict[str, list[float]] = field(default_factory=dict)

    def add(self, text: str, likes: int = 0) -> dict:
        n = len(self.reviews) + 1
        review = {"id": f"r{n}", "text": text, "author": f"用户{n}", "likes": likes, "comments": n % 3,
                  "date": f"2026-11-{10 + n % 12:02d} 1{n % 10}:30", "stars": 1 + n % 5}
        self.reviews.insert(0, review)   # newest first, like every review site
        return review

    def page(self, req, path: str = "/shop/reviews") -> Response:
        self.hits.setdefault(path, []).append(time.monotonic())
        n = int(parse_qs(req.query).get("page", ["1"])[0])
        chunk = self.reviews[(n - 1) * self.per_page:n * self.per_page]
        more = n * self.per_page < len(self.reviews)
        nxt = f'<a class="next" href="{path}?page={n + 1}">下一页</a>' if more else ""
        body = "".join(review_html(r, self.layout) for r in chunk)
        return Response(f"<html><body><h1>评价</h1>{body}{nxt}</body></html>".encode(), headers={"Content-Type": HTML})

    def url(self, path: str) -> str:
        return self.server.url(path)


def _limited(site: ReviewSite):
    def route(req):
        hits = site.hits.setdefault("/limited/reviews", [])
        hits.append(time.monotonic())
        if len(hits) == 1:
            return Response(b"slow down", 429, {"Retry-After": "1"})
        return site.page(req, "/limited/reviews")
    return route


def _gbk(declared: str | None):
    def route(req):
        body = ('<html><body><div class="review" data-id="g1"><p class="text">这家店的服务态度太差了，等了一个小时'
                '</p></div></body></html>').encode("gbk")
        ctype = f"text/html; charset={declared}" if declared else "text/html"
        return Response(body, headers={"Content-Type": ctype})
    return route


MALFORMED = ('<html><body><div class="review" data-id="m1"><p class="text">漏水修了三次还是漏</div>'
             '<div class="review" data-id="m2"><p class="text">客服<b>根本不理人</i></p></div>'
             '<div class="review" data-id="m3"><p class="text"></p></div><<<>>> &bogus; <table><tr><td>').encode()


def cursor_api(site: ReviewSite, page_size: int = 5):
    """GET /api/reviews?cursor=N: {"data": {"items": [...], "paging": {"next_cursor": "..."}}}."""
    def route(req):
        site.hits.setdefault("/api/reviews", []).append(time.monotonic())
        start = int(parse_qs(req.query).get("cursor", ["0"])[0])
        chunk = site.reviews[start:start + page_size]
        nxt = str(start + page_size) if start + page_size < len(site.reviews) else None
        items = [{"post_id": r["id"], "content": r["text"], "user": {"nick": r["author"], "fans": 1000 + r["likes"]},
                  "stats": {"like": r["likes"], "share": r["likes"] // 2, "reply": r["comments"]},
                  "created": 1795000000 + int(r["id"][1:]) * 60} for r in chunk]
        body = {"code": 0, "data": {"items": items, "paging": {"next_cursor": nxt}}}
        return Response(json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"})
    return route


def appstore_page(site: ReviewSite):
    """Apple's customer-reviews RSS in JSON form: /appstore/page=N/json, labels under "label"."""
    def route(req):
        n = int(req.path.split("page=")[1].split("/")[0])
        chunk = site.reviews[(n - 1) * 4:n * 4]
        entries = [{"id": {"label": r["id"]}, "author": {"name": {"label": r["author"]}},
                    "title": {"label": r["text"][:8]}, "content": {"label": r["text"], "attributes": {"type": "text"}},
                    "im:rating": {"label": str(r["stars"])}, "im:voteSum": {"label": str(r["likes"])},
                    "updated": {"label": "2026-11-20T10:00:00-07:00"}} for r in chunk]
        return Response(json.dumps({"feed": {"entry": entries}}, ensure_ascii=False).encode(),
                        headers={"Content-Type": "application/json"})
    return route


RSSHUB_ROUTE = "/weibo/keyword/快送外卖"


def rsshub_feed(texts: list[str]) -> bytes:
    """What RSSHub's weibo/keyword route returns: RSS 2.0, CDATA HTML descriptions, RSSHub generator."""
    items = "".join(
        f"<item><title><![CDATA[{t[:20]}]]></title><description><![CDATA[{t}<br><img src=\"https://wx1.example.com/"
        f"{i}.jpg\" referrerpolicy=\"no-referrer\">]]></description><pubDate>Mon, 23 Nov 2026 0{i}:00:00 GMT</pubDate>"
        f"<guid isPermaLink=\"false\">https://weibo.com/123/{i}</guid><link>https://weibo.com/123/{i}</link>"
        f"<author><![CDATA[微博用户{i}]]></author></item>" for i, t in enumerate(texts))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">'
            "<channel><title><![CDATA[又有人在微博提到快送外卖了]]></title><link>https://s.weibo.com/weibo?q=快送外卖</link>"
            "<atom:link href=\"http://127.0.0.1:1200/weibo/keyword/快送外卖\" rel=\"self\" type=\"application/rss+xml\"/>"
            "<description>快送外卖 - Powered by RSSHub</description><generator>RSSHub</generator>"
            f"<webMaster>contact@rsshub.app (RSSHub)</webMaster><language>zh-cn</language><ttl>5</ttl>{items}"
            "</channel></rss>").encode()


@pytest.fixture
def site(http_server) -> ReviewSite:
    s = ReviewSite(http_server)
    for text in COMPLAINTS:
        s.add(text, likes=3)
    r = http_server.routes
    r["/robots.txt"] = Response(b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    r["/shop/reviews"] = s.page
    r["/other/reviews"] = lambda req: s.page(req, "/other/reviews")
    r["/private/reviews"] = lambda req: s.page(req, "/private/reviews")
    r["/limited/reviews"] = _limited(s)
    r["/gbk/reviews"] = _gbk(None)
    r["/gbk-wrong/reviews"] = _gbk("utf-8")
    r["/malformed/reviews"] = Response(MALFORMED, headers={"Content-Type": HTML})
    r["/loop/a"] = Response(b"", 302, {"Location": "/loop/b"})
    r["/loop/b"] = Response(b"", 302, {"Location": "/loop/a"})
    r["/gone/reviews"] = Response(b"not here", 404)
    r["/broken/reviews"] = Response(b"oops", 500)
    r["/huge/reviews"] = Response(b"<html>" + b"x" * 300_000 + b"</html>", headers={"Content-Type": HTML})
    r["/slow/reviews"] = Response(b"<html></html>", delay=2.0, headers={"Content-Type": HTML})
    r["/api/reviews"] = cursor_api(s)
    for n in range(1, 5):
        r[f"/appstore/page={n}/json"] = appstore_page(s)
    r[quote(RSSHUB_ROUTE)] = Response(rsshub_feed(COMPLAINTS[:5]), etag=True,
                                      headers={"Content-Type": "application/xml; charset=utf-8"})
    return s


def _web_source(site: ReviewSite, path: str = "/shop/reviews", name: str = "shop", **extra) -> dict:
    return {"name": name, "kind": "web", "start_urls": [site.url(path)], "item": "div.review",
            "fields": WEB_FIELDS, "next_page": "a.next::attr(href)", "max_pages": 5, **FAST, **extra}


def _make_config(sources: list[dict], *, smtp_port: int | None = None, **http) -> object:
    data = {"http": {"read_timeout": "1s", "connect_timeout": "1s", "max_bytes": 200_000, **http},
            "sources": sources}
    if smtp_port:
        data["notify"] = [{"name": "team", "kind": "email", "from": "repwatch@example.com",
                           "to": ["team@example.com"], "smtp": {"host": "127.0.0.1", "port": smtp_port}}]
    return parse_config(data, "<test>")


def _count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _collect(db, config, name: str, now):
    return collect_source(db, config, config.source(name), now)


# Helpers as fixtures: with --import-mode=importlib test modules cannot import each other.
@pytest.fixture
def web_source():
    return _web_source


@pytest.fixture
def make_config():
    return _make_config


@pytest.fixture
def count():
    return _count


@pytest.fixture
def collect():
    return _collect


@pytest.fixture
def raw_server():
    """A raw loopback server for faults a well-behaved HTTP server cannot produce (repwatch/loopback_faults.py)."""
    with RawHTTPServer() as server:
        yield server


_EXPECT = re.compile(r"<!--\s*Expect:\s*(\{.*?\})\s*-->", re.S)


def read_expect(path: Path) -> dict:
    """The JSON in a fixture's own `<!-- Expect: {...} -->` comment: what collecting it must give.
    The comment is ASCII, so decoding as Latin-1 (or by the BOM) finds it in any charset the fixture uses."""
    raw = path.read_bytes()
    codec = next((c for bom, c in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                                   (codecs.BOM_UTF16_BE, "utf-16")) if raw.startswith(bom)), "latin-1")
    m = _EXPECT.search(raw.decode(codec))
    assert m, f"{path.name} has no <!-- Expect: {{...}} --> comment"
    return json.loads(m.group(1))


@pytest.fixture
def expect_of():
    return read_expect
