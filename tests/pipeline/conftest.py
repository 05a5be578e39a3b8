from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

from repwatch.config import parse_config
from repwatch.loopback import Response

POSTS = [
    # (guid, text) -- real-world shaped complaints and one praise
    ("p-1", "快送外卖的送餐员态度恶劣，吃了以后食物中毒住院了，我要投诉到12315"),
    ("p-2", "快送外卖的退款一直没处理，快一个月了，客服电话打不通，售后太差了"),
    ("p-3", "快送外卖味道很好，送餐也快，下次还点"),
]


def rss(posts, encoding="utf-8") -> bytes:
    items = "".join(f"<item><guid>{g}</guid><title>{escape(t[:10])}</title><link>http://example.com/{g}</link>"
                    f"<description>{escape(t)}</description></item>" for g, t in posts)
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>'
            f"<link>http://example.com/</link><description>d</description>{items}</channel></rss>").encode(encoding)


@pytest.fixture
def posts():
    return list(POSTS)


@pytest.fixture
def make_rss():
    return rss


@pytest.fixture
def make_config(feeds, smtp):
    return lambda extra_sources=(): parse_config(pipeline_config(feeds, smtp.port, extra_sources), "<test>")


@pytest.fixture
def feeds(http_server):
    http_server.routes["/good.xml"] = Response(rss(POSTS), etag=True)
    http_server.routes["/down.xml"] = Response(b"oops", 500)
    return http_server


def pipeline_config(http_server, smtp_port: int | None = None, extra_sources=()) -> dict:
    data = {
        "watch": [{"name": "快送外卖", "aliases": ["快送"]}],
        "sources": [
            {"name": "good", "kind": "feed", "url": http_server.url("/good.xml")},
            {"name": "down", "kind": "feed", "url": http_server.url("/down.xml")},
            *extra_sources,
        ],
        "alerts": {"open_ticket_at": "important"},
    }
    if smtp_port:
        data["notify"] = [{"name": "team", "kind": "email", "from": "repwatch@example.com",
                           "to": ["team@example.com"], "smtp": {"host": "127.0.0.1", "port": smtp_port}}]
    return data


@pytest.fixture
def config(feeds, smtp):
    return parse_config(pipeline_config(feeds, smtp.port), "<test>")


@pytest.fixture(scope="session")
def analyzer():
    from sentiment import Analyzer

    return Analyzer(targets={"快送外卖": ["快送"]})
