"""The HTTP path shared by the webhook, chat and tracker notifiers (httpx).

Transport errors, timeouts, 5xx and 429 are retried here with a doubling backoff, then reported as
Retryable so the notification log tries again on a later run (a 429 as Deferred: the server asked us to
slow down, which is no failure, so it waits `Retry-After` without using up an attempt); other 4xx are the
caller's mistake (a wrong token, a bad payload) and fail at once with what the server said."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Callable, Optional

import httpx
from pydantic import BeforeValidator, Field, SecretStr, field_validator
from typing_extensions import Annotated

from alerts.notify.base import Deferred, Failed, Retryable
from storage.deadline import Cancelled, DeadlinePassed, call_within
from storage.types import Duration, Strict

USER_AGENT = "repwatch-notifier/0.1"


# `secret: ${DINGTALK_SECRET:-}` with the variable unset means "no signing", not "sign with ''"
OptionalSecret = Annotated[Optional[SecretStr], BeforeValidator(lambda v: None if v in ("", None) else v)]


class HttpOptions(Strict):
    """Keys every HTTP notifier takes besides its own."""

    timeout: Duration = Field(default=timedelta(seconds=10), description="total per request: connect, send and "
                              "the whole answer; a server that answers a byte at a time is cut off here")
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts for 5xx, 429 and timeouts, in this run")
    backoff: Duration = Field(default=timedelta(seconds=1), description="wait before the first retry; doubles")


def check_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


class UrlOptions(HttpOptions):
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] + ("…" if len(text) > 300 else "")


def request(method: str, url: str, options: HttpOptions, *, json=None, content: bytes | None = None,
            headers: dict | None = None, params: dict | None = None, auth=None,
            sleep: Callable[[float], None] = time.sleep,
            throttled: float = 60.0) -> httpx.Response | Retryable | Deferred | Failed:
    """One logical request with in-run retries. Returns the response (2xx/3xx), or an outcome. A 429
    waits the answer's Retry-After, else `throttled` seconds."""
    wait = options.backoff.total_seconds()
    last: Optional[Retryable] = None
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if params:   # keep what the URL already carries (a robot's access_token), add the rest
        url, params = str(httpx.URL(url).copy_merge_params(params)), None
    with httpx.Client(timeout=options.timeout.total_seconds(), follow_redirects=False) as client:
        for attempt in range(options.retries + 1):
            if attempt:
                sleep(wait * 2 ** (attempt - 1))
            try:
                response = _send_within(client, client.build_request(
                    method, url, json=json, content=content, headers=all_headers, params=params),
                    options.timeout.total_seconds(), auth=auth)
            except httpx.TimeoutException as exc:
                last = Retryable(f"{method} {_safe(url)}: timed out ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                last = Retryable(f"{method} {_safe(url)}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code == 429:
                last = Deferred(f"{method} {_safe(url)}: HTTP 429 (too many requests): {_excerpt(response)}",
                                retry_after=retry_after(response, throttled))
                continue
            if response.status_code >= 500:
                last = Retryable(f"{method} {_safe(url)}: HTTP {response.status_code}: {_excerpt(response)}")
                continue
            if response.status_code >= 400:
                return Failed(f"{method} {_safe(url)}: HTTP {response.status_code}: {_excerpt(response)}"
                              f"{_hint(response.status_code)}")
            return response
    assert last is not None   # at least one attempt was made, and each failed one set it
    return last


def retry_after(response: httpx.Response, default: float = 60.0) -> float:
    """Seconds the server asked us to wait (Retry-After in seconds), within 1s and a day."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return default
    return min(max(seconds, 1.0), 86_400.0)


def _send_within(client: httpx.Client, request: httpx.Request, seconds: float, auth=None) -> httpx.Response:
    """Send and read the whole answer within `seconds` in total (storage.deadline): httpx's timeouts bound
    each read, so a trickling server could otherwise hold the alert stage for ever."""
    def work(cancel) -> httpx.Response:
        response = client.send(request, stream=True, auth=auth)
        try:
            raw = bytearray()
            for chunk in response.iter_raw():
                if cancel.is_set():
                    raise Cancelled()
                raw += chunk
        finally:
            response.close()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(raw), request=request)

    try:
        return call_within(seconds, work)
    except DeadlinePassed:
        raise httpx.TimeoutException(f"no complete answer within the {seconds:g}s timeout", request=request) from None


def _hint(status: int) -> str:
    return {401: " (check the credentials)", 403: " (check the token's permissions)",
            404: " (check the URL)"}.get(status, "")


def _safe(url: str) -> str:
    """Robot URLs carry their secret in the query string: never log it."""
    return url.split("?", 1)[0]
