"""`web`: review pages crawled with Scrapy, politely and incrementally.

Politeness is Scrapy's own machinery, configured per source: robots.txt obeyed by default, AutoThrottle,
one request at a time per site with a delay, download and whole-crawl timeouts, retries with backoff and
Retry-After (collectors/polite_retry.py), and the global size and redirect caps from `http:`.
The crawl itself runs through collectors/scrapy_runner.py, safe to repeat in one process."""
from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from collectors.base import CollectResult, Collector, Problem, SourceState
from collectors.exceptions import CollectError
from collectors.fields import FieldName, build_mention
from collectors.options import MappingOptions, Paging, Politeness
from storage.types import Duration, format_duration

RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
XPATH_PREFIX = "xpath:"   # selectors are CSS unless written xpath:...


def check_selector(expr: str, where: str) -> str:
    """Selectors are compiled at config load, so a typo is a config error, not a silent empty crawl."""
    from lxml import etree
    from parsel.csstranslator import HTMLTranslator

    try:
        if expr.startswith(XPATH_PREFIX):
            etree.XPath(expr[len(XPATH_PREFIX):])
        else:
            HTMLTranslator().css_to_xpath(expr)
    except Exception as exc:   # cssselect and lxml raise several unrelated types
        kind = "XPath" if expr.startswith(XPATH_PREFIX) else "CSS selector"
        raise ValueError(f"{where}: {expr!r} is not a valid {kind} ({exc})") from None
    return expr


class WebOptions(MappingOptions, Paging, Politeness):
    start_urls: list[AnyHttpUrl] = Field(min_length=1)
    item: Optional[str] = Field(default=None, description="selector of one review on a page")
    fields: dict[FieldName, str] = Field(default_factory=dict, description="mention field → selector "
                                               "within one review")
    next_page: Optional[str] = Field(default=None, description="selector of the next page's link")
    max_pages: int = Field(default=5, ge=1, le=500)
    spider: Optional[str] = Field(default=None, description="dotted path of a Spider class for sites that "
                                  "need code, e.g. mypkg.spiders:ShopSpider")
    encoding: Optional[str] = Field(default=None, description="force a page charset, e.g. gbk")
    obey_robots: bool = True
    concurrency_per_domain: int = Field(default=1, ge=1, le=8)
    autothrottle: bool = True
    max_delay: Duration = Field(default=timedelta(seconds=60), description="AutoThrottle's longest delay")
    download_timeout: Optional[Duration] = Field(default=None, description="per request; default "
                                                 "http.connect_timeout + http.read_timeout")
    crawl_timeout: Duration = Field(default=timedelta(minutes=5), description="the whole crawl stops after this")

    @field_validator("item", "next_page")
    @classmethod
    def _selector(cls, value, info):
        return check_selector(value, info.field_name) if value else value

    @model_validator(mode="after")
    def _check(self):
        for name, expr in self.fields.items():
            check_selector(expr, f"fields.{name}")
        if self.spider is None:
            if not self.item:
                raise ValueError("give `item` (the selector of one review) or a custom `spider`")
            if "text" not in self.fields and "title" not in self.fields:
                raise ValueError("fields must map at least `text` (or `title`) to a selector")
        else:
            module = self.spider.replace(":", ".").rpartition(".")[0]
            try:
                found = importlib.util.find_spec(module) if module else None
            except (ImportError, ValueError):
                found = None
            if found is None:
                raise ValueError(f"spider {self.spider!r}: cannot find module {module!r}; give "
                                 "package.module:SpiderClass importable by repwatch")
        if self.encoding:
            try:
                "".encode(self.encoding)
            except LookupError:
                raise ValueError(f"unknown encoding {self.encoding!r}; e.g. gbk, gb18030, utf-8") from None
        return self


def load_spider(path: str):
    import scrapy

    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr, None)
    except ImportError as exc:
        raise CollectError("config", f"spider {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, scrapy.Spider)):
        raise CollectError("config", f"spider {path!r} is not a scrapy.Spider subclass")
    return cls


class WebCollector(Collector[WebOptions]):
    kind = "web"
    Options = WebOptions

    def settings(self) -> dict:
        """Scrapy settings for this source: politeness first, then the global `http:` caps."""
        o, http = self.options, self.http
        # Scrapy's DOWNLOAD_TIMEOUT is a total per request (aiohttp's ClientTimeout(total=...)),
        # so by default it is held to the same fetch deadline as every other fetch.
        timeout = o.download_timeout or min(http.connect_timeout + http.read_timeout, http.fetch_deadline)
        return {
            "ROBOTSTXT_OBEY": o.obey_robots,
            "USER_AGENT": http.user_agent,
            "CONCURRENT_REQUESTS_PER_DOMAIN": o.concurrency_per_domain,
            "DOWNLOAD_DELAY": o.delay.total_seconds(),
            "AUTOTHROTTLE_ENABLED": o.autothrottle,
            "AUTOTHROTTLE_START_DELAY": max(o.delay.total_seconds(), 1.0),
            "AUTOTHROTTLE_MAX_DELAY": o.max_delay.total_seconds(),
            "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
            "DOWNLOAD_TIMEOUT": timeout.total_seconds(),
            "CLOSESPIDER_TIMEOUT": o.crawl_timeout.total_seconds(),
            "DOWNLOAD_MAXSIZE": http.max_bytes,
            "DOWNLOAD_WARNSIZE": 0,
            "REDIRECT_MAX_TIMES": http.max_redirects,
            "RETRY_ENABLED": True,
            "RETRY_TIMES": o.retries,
            "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
            "DOWNLOADER_MIDDLEWARES": {"scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
                                       "collectors.polite_retry.PoliteRetryMiddleware": 550},
            "REPWATCH_RETRY_BACKOFF": o.retry_backoff.total_seconds(),
            "REPWATCH_MAX_RETRY_AFTER": o.max_retry_after.total_seconds(),
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }

    def collect(self, state: SourceState) -> CollectResult:
        from collectors.review_spider import ReviewSpider
        from collectors.scrapy_runner import CrawlSpec, run_crawl

        o, tz = self.options, ZoneInfo(self.options.timezone)
        spider_cls = load_spider(o.spider) if o.spider else ReviewSpider

        def to_mention(values: dict, base_url: str | None):
            return build_mention(values, now=state.now, tz=tz, rating_scale=o.rating_scale,
                                 date_format=o.date_format, base_url=base_url)

        spider_kwargs = dict(options=o, is_known=state.is_known, now=state.now, tz=tz)
        if issubclass(spider_cls, ReviewSpider):   # a custom spider gets only the documented kwargs
            spider_kwargs["known"] = state.known
        harvest = run_crawl(CrawlSpec(spider_cls, self.settings(), to_mention=to_mention,
                                      spider_kwargs=spider_kwargs))
        return self.outcome(harvest)

    def outcome(self, harvest) -> CollectResult:
        """No page read and nothing scraped is a source failure; anything less is a run with problems."""
        failures, limit = harvest.failures, format_duration(self.options.crawl_timeout)
        timed_out = harvest.close_reason == "closespider_timeout"
        if harvest.pages_ok == 0 and not harvest.items:
            if failures:
                first = failures[0]
                more = f" (and {len(failures) - 1} more failures)" if len(failures) > 1 else ""
                raise CollectError(first.kind, first.message + more, http_status=first.http_status)
            if timed_out:
                raise CollectError("timeout", f"the crawl hit crawl_timeout ({limit}) before any page arrived; "
                                   "the site is very slow")
            if self.options.spider is None:
                raise CollectError("internal", f"the crawl read no page (Scrapy closed: {harvest.close_reason})")
        result = CollectResult(items=list(harvest.items), problems=list(harvest.problems))
        result.problems.extend(Problem(f.kind, f.message) for f in failures)
        if timed_out:
            result.problems.append(Problem("timeout", f"the crawl hit crawl_timeout ({limit}); kept "
                                           f"{len(harvest.items)} items, the rest is read next run"))
        return result
