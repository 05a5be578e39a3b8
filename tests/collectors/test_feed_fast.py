"""The plain-RSS fast path (collectors/feed_fast.py) gives exactly what feedparser gives, or steps aside.

Every feed fixture and every hostile feed is parsed both ways, and so are generated feeds: plain
ones (which must take the fast path, so this test fails if the fast path quietly stops working) and
ones with something feedparser must handle (markup, entities, namespaces, a DOCTYPE, relative links,
odd dates), which must go to feedparser."""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from collectors import feed as feed_module
from collectors.exceptions import CollectError
from collectors.feed import parse_feed
from collectors.feed_fast import parse_plain_rss
from collectors.feed_xml import prepare_xml

from .conftest import read_expect

HERE = Path(__file__).parent
FIXTURES = sorted((HERE / "feeds").glob("*.xml")) + sorted((HERE / "hostile_feeds").glob("*.xml"))
TEXTS = ["骑手态度恶劣，送餐晚了一个小时", "退款一直没处理", "  spaced   out\ttext  ", "味道不错 ", "x" * 300, "",
         "引号\"和'单引号'", "emoji 🎉 and ünïcode"]


def both_ways(content: bytes, content_type: str, monkeypatch):
    """(fast-path result or None, feedparser's result); each is items and problems, or the error."""
    def run():
        try:
            r = parse_feed(content, {"Content-Type": content_type}, "feed")
            return [dataclasses.asdict(m) for m in r.items], [(p.kind, p.message, p.warning) for p in r.problems]
        except CollectError as exc:
            return ("error", exc.kind)
    fast = run()
    with monkeypatch.context() as m:
        m.setattr(feed_module, "parse_plain_rss", lambda data, ctype: None)
        slow = run()
    data, headers, _ = prepare_xml(content, {"Content-Type": content_type}, "feed")
    took_fast = parse_plain_rss(data, headers["content-type"]) is not None
    return took_fast, fast, slow


def rss(items: list[str], head: str = '<?xml version="1.0" encoding="utf-8"?>', root: str = '<rss version="2.0">') -> bytes:
    return (f"{head}{root}<channel><title>t</title><link>http://example.com/</link><description>d</description>"
            + "".join(items) + "</channel></rss>").encode()


def plain_item(rng: random.Random, n: int) -> str:
    parts = [f"<guid>g-{n}</guid>", f"<link>https://example.com/p/{n}?a=1</link>",
             f"<title>{rng.choice(TEXTS)}</title>", f"<description>{rng.choice(TEXTS)}</description>",
             f"<pubDate>{rng.choice(['Mon', 'Tue', 'Sun'])}, {rng.randint(1, 28)} Nov 2026 "
             f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} "
             f"{rng.choice(['GMT', 'UTC', '+0800', '-0530'])}</pubDate>"]
    rng.shuffle(parts)
    return "<item>" + "".join(parts[:rng.randint(2, 5)] if rng.random() < 0.3 else parts) + "</item>"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixtures_give_the_same_either_way(path, monkeypatch):
    ctype = read_expect(path).get("content_type", "application/rss+xml") if "hostile" in str(path) else "application/rss+xml"
    _, fast, slow = both_ways(path.read_bytes(), ctype, monkeypatch)
    assert fast == slow


def test_plain_feeds_take_the_fast_path_and_agree(monkeypatch):
    rng = random.Random(18)
    taken = 0
    for n in range(60):
        took_fast, fast, slow = both_ways(rss([plain_item(rng, 100 * n + k) for k in range(rng.randint(0, 6))]),
                                          rng.choice(["application/rss+xml", "text/xml; charset=utf-8",
                                                      "application/xml"]), monkeypatch)
        assert fast == slow
        taken += took_fast
    assert taken >= 40   # items missing a guid or link go to feedparser; the rest must not


@pytest.mark.parametrize("item, root", [
    ("<item><guid>a</guid><link>https://e.com/a</link><description>&lt;p&gt;markup&lt;/p&gt;</description></item>", None),
    ("<item><guid>a</guid><link>https://e.com/a</link><description><![CDATA[<b>bold</b> &amp; more]]></description></item>", None),
    ("<item><guid>a</guid><link>https://e.com/a</link><description>AT&amp;T</description></item>", None),
    ("<item><guid>a</guid><link>/relative</link><description>x</description></item>", None),
    ("<item><guid>a</guid><link>https://e.com/a</link><pubDate>2026-11-23T01:00:00Z</pubDate>"
     "<description>x</description></item>", None),
    ("<item><guid isPermaLink=\"true\">https://e.com/a</guid><description>x</description></item>", None),
    ("<item><guid>a</guid><link>https://e.com/a</link><author>me@example.com</author><description>x</description></item>", None),
    ("<item><guid>a</guid><link>https://e.com/a</link><description>x</description></item>",
     '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'),
    ("<item><guid>a</guid><link>https://e.com/a</link><description>x</description></item>", '<rss version="0.91">'),
])
def test_anything_feedparser_must_handle_goes_to_feedparser(item, root, monkeypatch):
    took_fast, fast, slow = both_ways(rss([item], root=root or '<rss version="2.0">'), "application/rss+xml",
                                      monkeypatch)
    assert not took_fast
    assert fast == slow


def test_a_doctype_or_an_html_content_type_goes_to_feedparser(monkeypatch):
    item = "<item><guid>a</guid><link>https://e.com/a</link><description>x</description></item>"
    doc = rss([item], head='<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]>')
    assert both_ways(doc, "application/rss+xml", monkeypatch)[0] is False
    took_fast, fast, slow = both_ways(rss([item]), "text/html", monkeypatch)
    assert not took_fast and fast == slow
