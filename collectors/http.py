"""One polite HTTP fetch path for feed-like sources: timeouts, a size cap, a clear User-Agent,
a redirect limit and conditional GET. feedparser gets bytes from here, never a URL (it has no timeout).
`fetch_polite` adds what a paging client needs: Retry-After honoured on 429/503 and backoff on 5xx."""
from __future__ import annotations

import http.cookiejar
import ssl
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from email.utils import parsedate_to_datetime
from typing import Any, Callable

import httpx

from collectors.exceptions import CollectError
from collectors.settings import HttpSettings
from storage.deadline import Cancelled, DeadlinePassed, call_within


@dataclass
class Fetched:
    status: int
    content: bytes
    headers: dict[str, str]
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Building a verifying TLS context loads the CA bundle: ~25 ms, more than a whole 304 round trip
    # on a LAN. One context serves every client in the process (SSLContext is safe to share).
    return httpx.create_ssl_context()


def client(settings: HttpSettings, *, shared: bool = False) -> httpx.Client:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout.total_seconds(),
        read=settings.read_timeout.total_seconds(),
        write=settings.read_timeout.total_seconds(),
        pool=settings.connect_timeout.total_seconds(),
    )
    pooled: dict[str, Any] = (dict(cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
                                   limits=httpx.Limits(max_connections=POOL_CONNECTIONS,
                                                       max_keepalive_connections=POOL_KEEPALIVE))
                              if shared else {})
    return httpx.Client(
        timeout=timeout,
        verify=_tls_context(),
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        **pooled,
    )


# One client (one connection pool) per distinct settings, shared by every fetch in the process: feeds
# and JSON APIs of a run reuse connections instead of opening (and TLS-handshaking) one per fetch.
# httpx.Client is safe to share between threads. It keeps no cookies, so nothing one source's server
# sets is ever sent on another source's behalf (a fresh client per fetch never carried cookies over).
# At most POOL_CONNECTIONS connections in all (POOL_KEEPALIVE kept idle); per host, fetch() runs at
# most http.per_host requests at once (host_slot), which bounds each host's load.
POOL_CONNECTIONS, POOL_KEEPALIVE = 32, 16
_shared: dict[tuple, httpx.Client] = {}
_shared_lock = threading.Lock()


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:
        return False


def shared_client(settings: HttpSettings) -> httpx.Client:
    key = (settings.user_agent, settings.connect_timeout, settings.read_timeout, settings.max_redirects)
    with _shared_lock:
        found = _shared.get(key)
        if found is None or found.is_closed:
            found = _shared[key] = client(settings, shared=True)
        return found


def close_shared_clients() -> None:
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for c in clients:
        c.close()


class HttpStatusError(CollectError):
    """An HTTP error status, with the server's Retry-After (seconds) when it sent one."""

    def __init__(self, kind: str, message: str, *, http_status: int | None, retry_after: float | None = None):
        super().__init__(kind, message, http_status=http_status)
        self.retry_after = retry_after


def parse_retry_after(value: str | bytes | None, date_header: str | bytes | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). The date is read against
    the server's own Date header when there is one, so clock skew between us and the server cancels out."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(date_header, bytes):
        date_header = date_header.decode("latin-1")
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
        reference = parsedate_to_datetime(date_header).timestamp() if date_header else time.time()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - reference)


_hosts: dict[str, threading.BoundedSemaphore] = {}
_hosts_lock = threading.Lock()


def host_slot(url: str, settings: HttpSettings) -> threading.BoundedSemaphore:
    """The per-host limit (http.per_host): one semaphore per host and port in the process. A redirect to
    another host is counted against the first host only (the limit is politeness, not a guarantee)."""
    try:
        parsed = httpx.URL(url)
        host = f"{parsed.host}:{parsed.port or ''}"
    except Exception:   # an invalid URL fails in the fetch itself, with a clear message
        host = ""
    with _hosts_lock:
        slot = _hosts.get(host)
        if slot is None:
            slot = _hosts[host] = threading.BoundedSemaphore(settings.per_host)
        return slot


def fetch(url: str, settings: HttpSettings, **kwargs) -> Fetched:
    """GET `url` within `http.fetch_deadline` in total. The fetch runs in a worker thread so that no
    server behaviour (a trickle of bytes, stalled headers, slow DNS) can hold the caller past the deadline;
    a worker left behind stops at its next chunk, or at the read timeout at the latest. At most
    http.per_host fetches run against one host at once; the wait for a turn is not part of the deadline."""
    seconds = settings.fetch_deadline.total_seconds()
    try:
        with host_slot(url, settings):
            return call_within(seconds, lambda cancel: _fetch(url, settings, cancel=cancel, **kwargs),
                               name="repwatch-fetch")
    except DeadlinePassed:
        raise CollectError("deadline", f"{url}: no complete answer within the {seconds:g}s deadline "
                           "(http.fetch_deadline); the server is too slow or sends a trickle; nothing from this "
                           "fetch was kept") from None


def _fetch(url: str, settings: HttpSettings, *, cancel: threading.Event, etag: str | None = None,
           last_modified: str | None = None, accept: str = "*/*", http: httpx.Client | None = None,
           headers: dict[str, str] | None = None) -> Fetched:
    headers = {"Accept": accept, **(headers or {})}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    http = http or shared_client(settings)
    try:
        with http.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > settings.max_bytes:
                raise CollectError("too_large", f"{url}: response is {int(declared):,} bytes, "
                                   f"over the {settings.max_bytes:,}-byte cap (http.max_bytes)")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                if cancel.is_set():
                    raise Cancelled()
                size += len(chunk)
                if size > settings.max_bytes:
                    raise CollectError("too_large", f"{url}: response exceeded the {settings.max_bytes:,}-byte "
                                       "cap (http.max_bytes) and was abandoned")
                chunks.append(chunk)
            fetched = Fetched(response.status_code, b"".join(chunks), dict(response.headers), str(response.url))
    except httpx.TooManyRedirects as exc:
        raise CollectError("redirects", f"{url}: more than {settings.max_redirects} redirects "
                           "(a redirect loop?)") from exc
    except httpx.TimeoutException as exc:
        raise CollectError("timeout", f"{url}: no answer in time ({type(exc).__name__}); "
                           "the server is slow or down") from exc
    except httpx.ConnectError as exc:
        raise CollectError("connect", f"{url}: cannot connect: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise CollectError("config", f"{url!r} is not a valid URL: {exc}") from exc
    except httpx.RemoteProtocolError as exc:
        if "complete message body" in str(exc) or "incomplete" in str(exc).lower():
            # Fewer bytes than Content-Length, or a chunked body cut off: never parse half a body.
            raise CollectError("truncated", f"{url}: the connection closed before the whole response arrived "
                               f"({exc}); nothing from this fetch was kept, the next run tries again") from exc
        raise CollectError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise CollectError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
    if fetched.status >= 400:
        kind = "http_4xx" if fetched.status < 500 else "http_5xx"
        retry_after = None
        if fetched.status in (429, 503):
            retry_after = parse_retry_after(fetched.headers.get("retry-after"), fetched.headers.get("date"))
        if fetched.status == 429:
            kind = "rate_limited"
        wait = f"; the server asked us to wait {retry_after:.0f}s" if retry_after is not None else ""
        raise HttpStatusError(kind, f"{url}: HTTP {fetched.status}{wait}", http_status=fetched.status,
                              retry_after=retry_after)
    return fetched


RETRYABLE_KINDS = ("timeout", "connect", "network", "http_5xx", "rate_limited")


def fetch_polite(url: str, settings: HttpSettings, *, retries: int = 2, backoff: float = 2.0,
                 max_wait: float = 120.0, sleep: Callable[[float], None] = time.sleep, **kwargs) -> Fetched:
    """fetch() with retries: Retry-After is honoured on 429/503 (up to `max_wait` seconds; a longer
    wait is left to the next scheduled run), other transient failures back off exponentially."""
    for attempt in range(retries + 1):
        try:
            return fetch(url, settings, **kwargs)
        except CollectError as exc:
            if exc.kind not in RETRYABLE_KINDS or attempt == retries:
                raise
            wait = getattr(exc, "retry_after", None)
            if wait is None:
                wait = backoff * 2 ** attempt
            elif wait > max_wait:
                raise HttpStatusError(exc.kind, f"{exc} (over the {max_wait:.0f}s we wait within a run; "
                                      "the next scheduled run tries again)", http_status=exc.http_status,
                                      retry_after=wait) from exc
            sleep(wait)
    raise AssertionError("unreachable")
