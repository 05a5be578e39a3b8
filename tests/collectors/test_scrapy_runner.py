"""Scrapy inside a long-lived process: crawl twice (no ReactorNotRestartable, no lost items even when
the garbage collector runs mid-crawl), from a worker thread, from inside a running event loop, with a
plugged-in spider, and with the politeness settings actually in force."""
from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
from datetime import datetime, timezone

import pytest

from collectors.base import SourceState
from collectors.settings import HttpSettings
from collectors.web import WebCollector, WebOptions

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)

SPIDER = '''
import gc

from collectors.review_spider import ReviewSpider


class GcSpider(ReviewSpider):
    """Runs the garbage collector while items are in flight: weakly held signal receivers would vanish."""

    seen_settings = {}

    def parse(self, response):
        gc.collect()
        GcSpider.seen_settings = {
            "robots": self.settings.getbool("ROBOTSTXT_OBEY"),
            "autothrottle": self.settings.getbool("AUTOTHROTTLE_ENABLED"),
            "per_domain": self.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
            "maxsize": self.settings.getint("DOWNLOAD_MAXSIZE"),
            "middlewares": [type(m).__name__ for m in self.crawler.engine.downloader.middleware.middlewares],
        }
        yield from super().parse(response)


class DictSpider(ReviewSpider):
    """A site that needs code and yields plain dicts with mention field names."""

    def parse(self, response):
        for node in response.css("div.review"):
            yield {"id": node.attrib["data-id"], "text": node.css("p.text ::text").getall(), "likes": "1.2万"}
        yield {"id": "broken", "text": ""}
'''


@pytest.fixture
def spider_module(tmp_path, monkeypatch):
    (tmp_path / "rw_test_spiders.py").write_text(textwrap.dedent(SPIDER), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "rw_test_spiders"
    sys.modules.pop("rw_test_spiders", None)


def make(site, web_source, path="/shop/reviews", **extra) -> WebCollector:
    raw = web_source(site, path, **extra)
    options = WebOptions.model_validate({k: v for k, v in raw.items() if k not in ("name", "kind")})
    return WebCollector("t", options, HttpSettings(max_bytes=200_000))


def test_crawl_twice_in_one_process_loses_no_item(site, web_source, spider_module):
    first = make(site, web_source, spider=f"{spider_module}:GcSpider").collect(SourceState(now=NOW))
    second = make(site, web_source, "/other/reviews", spider=f"{spider_module}:GcSpider").collect(SourceState(now=NOW))
    third = make(site, web_source).collect(SourceState(now=NOW))
    assert [len(r.items) for r in (first, second, third)] == [12, 12, 12]
    assert {m.external_id for m in first.items} == {r["id"] for r in site.reviews}
    assert "twisted.internet.reactor" not in sys.modules, "no Twisted reactor was installed"


def test_politeness_settings_reach_scrapy(site, web_source, spider_module):
    from rw_test_spiders import GcSpider

    options = dict(obey_robots=True, autothrottle=True, delay="10ms", concurrency_per_domain=1, max_pages=1)
    make(site, web_source, spider=f"{spider_module}:GcSpider", **options).collect(SourceState(now=NOW))
    seen = GcSpider.seen_settings
    assert (seen["robots"], seen["autothrottle"], seen["per_domain"], seen["maxsize"]) == (True, True, 1, 200_000)
    assert "PoliteRetryMiddleware" in seen["middlewares"] and "RetryMiddleware" not in seen["middlewares"]
    assert "RobotsTxtMiddleware" in seen["middlewares"]


def test_default_options_are_polite():
    o = WebOptions.model_validate({"start_urls": ["http://reviews.example.com/"], "item": "div",
                                   "fields": {"text": "p"}})
    s = WebCollector("t", o, HttpSettings()).settings()
    assert s["ROBOTSTXT_OBEY"] and s["AUTOTHROTTLE_ENABLED"] and s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert s["DOWNLOAD_DELAY"] == 1.0 and s["RETRY_TIMES"] == 2 and s["REPWATCH_RETRY_BACKOFF"] == 2.0
    assert s["DOWNLOAD_TIMEOUT"] == 25.0 and s["CLOSESPIDER_TIMEOUT"] == 300.0
    assert s["DOWNLOAD_MAXSIZE"] == HttpSettings().max_bytes and s["REDIRECT_MAX_TIMES"] == 5


def test_plugged_in_spider_may_yield_plain_dicts(site, web_source, spider_module):
    result = make(site, web_source, spider=f"{spider_module}:DictSpider", max_pages=1).collect(SourceState(now=NOW))
    assert len(result.items) == 4 and {m.likes for m in result.items} == {12000}
    assert [p.kind for p in result.problems] == ["item"] and "no text" in result.problems[0].message


def test_crawl_from_a_worker_thread(site, web_source):
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=make(site, web_source).collect(SourceState(now=NOW))))
    worker.start()
    worker.join(timeout=60)
    assert len(out["r"].items) == 12


def test_crawl_from_inside_a_running_event_loop(site, web_source):
    async def handler():   # e.g. an async web handler calling the sync collector
        return make(site, web_source).collect(SourceState(now=NOW))

    assert len(asyncio.run(handler()).items) == 12
