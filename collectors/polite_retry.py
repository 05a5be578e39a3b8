"""Scrapy's RetryMiddleware, made polite: exponential backoff between retries and Retry-After honoured
on 429/503. Scrapy retries at once and ignores Retry-After, which is exactly what gets a crawler banned.

The pause also raises the site's download-slot delay, so the other queued requests to that site slow
down too, not only the one being retried (AutoThrottle lowers it again once responses are healthy).
A Retry-After longer than REPWATCH_MAX_RETRY_AFTER is not waited out inside a run: the 429 goes to the
spider's errback with its header, and the collector reports when the site wants us back."""
from __future__ import annotations

import asyncio

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.response import response_status_message

from collectors.http import parse_retry_after


class PoliteRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("REPWATCH_RETRY_BACKOFF", 2.0)
        self.backoff_max = settings.getfloat("REPWATCH_RETRY_BACKOFF_MAX", 60.0)
        self.max_retry_after = settings.getfloat("REPWATCH_MAX_RETRY_AFTER", 120.0)

    # Scrapy ≥ 2.13 calls these without `spider` and awaits coroutines; its annotations still
    # describe the old synchronous signature, hence the override ignores.
    async def process_response(self, request, response):  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = None
        if response.status in (429, 503):
            wait = parse_retry_after(response.headers.get(b"Retry-After"), response.headers.get(b"Date"))
            if wait is not None and wait > self.max_retry_after:
                self.crawler.stats.inc_value("repwatch/retry_after_too_long")
                return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if wait is not None:
            self.crawler.stats.inc_value("repwatch/retry_after_honoured")
        await self._pause(request, self._backoff(request) if wait is None else wait)
        return retry

    async def process_exception(self, request, exception):  # type: ignore[override]
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await self._pause(request, self._backoff(request))
        return retry

    def _backoff(self, request) -> float:
        done = request.meta.get("retry_times", 0)   # retries already made before this one
        return min(self.backoff_max, self.backoff * 2 ** done)

    async def _pause(self, request, seconds: float) -> None:
        if seconds <= 0:
            return
        engine = getattr(self.crawler, "engine", None)
        slots = getattr(getattr(engine, "downloader", None), "slots", {})
        slot = slots.get(request.meta.get("download_slot"))
        if slot is not None and slot.delay < seconds:
            slot.delay = seconds
        # StatsCollector.inc_value adds any number; it is annotated as int only
        self.crawler.stats.inc_value("repwatch/retry_wait_seconds", seconds)  # type: ignore[arg-type]
        await asyncio.sleep(seconds)
