"""Run one Scrapy crawl and get its items back: `crawl(spec)` (a coroutine) and `run_crawl(spec)` (sync).

Scrapy 2.19 pitfalls this module exists for (see docs/ARCHITECTURE.md):
- CrawlerProcess cannot run twice in one process (ReactorNotRestartable). We use AsyncCrawlerRunner in
  reactorless mode (TWISTED_REACTOR_ENABLED=False) on a fresh asyncio loop per crawl: nothing global is
  installed, so the scheduler, cron runs and Celery workers can crawl any number of times.
- Signal receivers are weak references: the receivers here are bound methods of a Harvest that the
  coroutine holds until the crawl is over, so no scraped item can silently vanish.
- `start_requests()` is gone; spiders use `async def start()`."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from collectors.base import Problem
from collectors.exceptions import CollectError
from collectors.fields import Built, FieldError
from storage.records import MentionIn


class _QuietExperimental(logging.Filter):
    # Reactorless mode uses Scrapy's aiohttp handler, which announces itself as experimental on every
    # crawl. We chose it knowingly (it is what lets a long-lived process crawl repeatedly).
    def filter(self, record: logging.LogRecord) -> bool:
        return "is experimental and is not recommended" not in record.getMessage()


logging.getLogger("scrapy.core.downloader.handlers._base_streaming").addFilter(_QuietExperimental())


@dataclass
class Failure:
    url: str
    kind: str
    message: str
    http_status: int | None = None


@dataclass
class Harvest:
    """Everything one crawl produced. Its bound methods are the signal receivers (held strongly)."""

    to_mention: Callable[[dict, str | None], Built] | None = None
    items: list[MentionIn] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    pages_ok: int = 0
    close_reason: str | None = None
    stats: dict = field(default_factory=dict)

    def on_item(self, item: Any, response=None, spider=None) -> None:
        if isinstance(item, MentionIn):
            self.items.append(item)
            return
        # A plugged-in spider may yield plain dicts with the mention field names.
        from itemadapter import ItemAdapter

        where = getattr(response, "url", None)
        if self.to_mention is None:   # a crawl without a field mapping takes only MentionIn items
            self.problems.append(Problem("item", f"a {type(item).__name__} item, and no field mapping", where))
            return
        try:
            built = self.to_mention(ItemAdapter(item).asdict(), where)
        except (FieldError, TypeError) as exc:
            self.problems.append(Problem("item", str(exc), where))
            return
        self.problems.extend(Problem("field", note, where, warning=True) for note in built.notes)
        self.items.append(built.mention)

    def on_closed(self, spider=None, reason: str | None = None) -> None:
        self.close_reason = reason

    def on_error(self, failure) -> None:
        """Errback for every request: a failure becomes a countable kind and a message a person can act on."""
        request = failure.request
        kind, message, status = classify(failure.value, request.url)
        self.failures.append(Failure(request.url, kind, message, status))


def classify(exc: BaseException, url: str) -> tuple[str, str, int | None]:
    from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                                   DownloadTimeoutError, IgnoreRequest)
    from scrapy.spidermiddlewares.httperror import HttpError

    from collectors.http import parse_retry_after

    if isinstance(exc, HttpError):
        response = exc.response
        status = response.status
        if status in (429, 503):
            wait = parse_retry_after(response.headers.get(b"Retry-After"), response.headers.get(b"Date"))
            if wait is not None:
                kind = "rate_limited" if status == 429 else "http_5xx"
                return kind, (f"{url}: HTTP {status}, the site asks us to wait {wait:.0f}s (more than "
                              "max_retry_after); the next scheduled run tries again"), status
        if status == 429:
            return "rate_limited", f"{url}: HTTP 429 Too Many Requests after retries; raise `delay`", status
        kind = "http_4xx" if status < 500 else "http_5xx"
        hint = " (retried with backoff)" if status >= 500 else ""
        return kind, f"{url}: HTTP {status}{hint}", status
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots", (f"{url}: forbidden by the site's robots.txt; repwatch obeys it (set "
                              "obey_robots: false only with the site owner's permission)"), None
        if "redirect" in text:
            return "redirects", f"{url}: too many redirects (a redirect loop?)", None
        return "ignored", f"{url}: request dropped: {text}", None
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return "timeout", f"{url}: no complete answer in time (after retries); the server is slow or down", None
    if isinstance(exc, (DownloadConnectionRefusedError, CannotResolveHostError, ConnectionError)):
        return "connect", f"{url}: cannot connect ({type(exc).__name__})", None
    if isinstance(exc, DownloadCancelledError) and "max size" in str(exc):
        return "too_large", f"{url}: page is over the size cap (http.max_bytes) and was abandoned", None
    return "network", f"{url}: {type(exc).__name__}: {exc}"[:500], None


@dataclass
class CrawlSpec:
    spider_cls: type
    settings: dict
    spider_kwargs: dict = field(default_factory=dict)
    to_mention: Callable[[dict, str | None], Built] | None = None


async def crawl(spec: CrawlSpec) -> Harvest:
    """One crawl on the running asyncio loop, without a Twisted reactor."""
    from scrapy import signals
    from scrapy.crawler import AsyncCrawlerRunner

    harvest = Harvest(to_mention=spec.to_mention)   # held here until the crawl ends: receivers stay alive
    runner = AsyncCrawlerRunner({**spec.settings, "TWISTED_REACTOR_ENABLED": False})
    crawler = runner.create_crawler(spec.spider_cls)
    crawler.signals.connect(harvest.on_item, signal=signals.item_scraped)
    crawler.signals.connect(harvest.on_closed, signal=signals.spider_closed)
    await runner.crawl(crawler, harvest=harvest, **spec.spider_kwargs)
    harvest.stats = dict(crawler.stats.get_stats() or {})
    return harvest


def run_crawl(spec: CrawlSpec) -> Harvest:
    """Blocking entry point for the scheduler, cron runs and Celery workers.

    Each call gets a fresh event loop. Called from a thread that is already running a loop (an async
    web handler), the crawl runs on a short-lived worker thread instead, as asyncio.run() cannot nest."""
    from scrapy.utils.reactor import is_reactor_installed

    if is_reactor_installed():
        raise CollectError("config", "a Twisted reactor is installed in this process (something imported "
                           "twisted.internet.reactor); the web collector runs Scrapy without one. Run "
                           "repwatch's collection in its own process (scheduler, cron or Celery worker)")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(crawl(spec))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="repwatch-crawl") as pool:
        return pool.submit(lambda: asyncio.run(crawl(spec))).result()
