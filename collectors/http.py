"""One polite HTTP fetch path for feed-like sources: timeouts, a size cap, a clear User-Agent,
a redirect limit and conditional GET. feedparser gets bytes from here, never a URL (it has no timeout).
`fetch_polite` adds what a paging client needs: Retry-After honoured on 429/503 and backoff on 5xx.

It is built on urllib3 rather than httpx (which the notifiers use): a conditional GET answered 304 costs
half the CPU (0.34 against 0.67 ms on loopback, bench/collect.py's 304 pass), and a collection process
does not load httpx's command-line extras (rich, click, pygments: ~7 MiB). Redirects are followed here,
not by urllib3, so every hop is checked (scheme, count) and credentials never follow to another origin."""
from __future__ import annotations

import os
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Callable
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, HTTPError, LocationValueError, NewConnectionError,
                                ProtocolError, ReadTimeoutError, SSLError)

from collectors.exceptions import CollectError
from collectors.settings import HttpSettings
from storage.deadline import Cancelled, DeadlinePassed, call_within

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 65536
# Sent to the first origin only: a redirect elsewhere never carries a source's token (as httpx does).
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass
class Fetched:
    status: int
    content: bytes
    headers: dict[str, str]   # names in lower case; a repeated header's values joined by ", "
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Building a verifying TLS context loads the CA bundle: ~25 ms, more than a whole 304 round trip
    # on a LAN. One context serves every connection in the process (SSLContext is safe to share).
    # certifi's bundle, as httpx uses, unless SSL_CERT_FILE names another (a company CA).
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())


# One pool manager (one connection pool per host) per distinct settings, shared by every fetch in the
# process: feeds and JSON APIs of a run reuse connections instead of opening (and TLS-handshaking) one
# per fetch. urllib3's pools are safe to share between threads, and keep no cookies, so nothing one
# source's server sets is ever sent on another source's behalf. POOL_HOSTS hosts' pools are kept (least
# recently used dropped first); per host, fetch() runs at most http.per_host requests at once
# (host_slot), which bounds each host's load and the connections kept for it.
# The proxy environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) is honoured, as httpx did.
POOL_HOSTS = 32
_shared: dict[tuple, urllib3.PoolManager] = {}
_shared_lock = threading.Lock()


def _manager(settings: HttpSettings, proxy: str | None) -> urllib3.PoolManager:
    key = (settings.connect_timeout, settings.read_timeout, settings.per_host, proxy)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            common = dict(num_pools=POOL_HOSTS, maxsize=settings.per_host, block=False, retries=False,
                          timeout=urllib3.Timeout(connect=settings.connect_timeout.total_seconds(),
                                                  read=settings.read_timeout.total_seconds()),
                          ssl_context=_tls_context())
            found = _shared[key] = (urllib3.ProxyManager(proxy, **common) if proxy else  # type: ignore[arg-type]
                                    urllib3.PoolManager(**common))  # type: ignore[arg-type]
        return found


def _proxy_for(url: str) -> str | None:
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):   # NO_PROXY on POSIX
        return None
    return proxy


def close_shared_clients() -> None:
    with _shared_lock:
        managers = list(_shared.values())
        _shared.clear()
    for m in managers:
        m.clear()


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
        parsed = urlsplit(url)
        host = f"{parsed.hostname}:{parsed.port or ''}"
    except ValueError:   # an invalid URL fails in the fetch itself, with a clear message
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
            return call_within(seconds, lambda cancel: _fetch(url, settings, cancel=cancel, **kwargs))
    except DeadlinePassed:
        raise CollectError("deadline", f"{url}: no complete answer within the {seconds:g}s deadline "
                           "(http.fetch_deadline); the server is too slow or sends a trickle; nothing from this "
                           "fetch was kept") from None


def _fetch(url: str, settings: HttpSettings, *, cancel: threading.Event, etag: str | None = None,
           last_modified: str | None = None, accept: str = "*/*", headers: dict[str, str] | None = None) -> Fetched:
    # all of a request's headers: urllib3 sends a manager's default headers only when a request has none
    headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate", "Accept": accept,
               **(headers or {})}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    asked, origin = url, _origin(url)
    try:
        for hop in range(settings.max_redirects + 1):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                raise CollectError("config" if hop == 0 else "redirects",
                                   f"{asked}: {url!r} is not an http(s) URL")
            response = _manager(settings, _proxy_for(url)).request(
                "GET", url, headers=headers, preload_content=False, redirect=False, retries=False)
            try:
                location = response.headers.get("location")
                if response.status in REDIRECTS and location:
                    response.close()   # its body is not wanted; a hostile one could be endless
                    url = urljoin(url, location.strip())
                    if _origin(url) != origin:
                        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
                    continue
                return Fetched(response.status, _body(response, url, settings, cancel),
                               {k.lower(): response.headers[k] for k in response.headers}, url)
            except BaseException:
                response.close()   # a connection with an unread or cut body is never reused
                raise
            finally:
                response.release_conn()
        raise CollectError("redirects", f"{asked}: more than {settings.max_redirects} redirects "
                           "(a redirect loop?)")
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        if isinstance(exc, NewConnectionError):   # refused, unreachable, unknown name: not slowness
            raise CollectError("connect", f"{url}: cannot connect: {_reason(exc)}") from exc
        raise CollectError("timeout", f"{url}: no answer in time ({type(exc).__name__}); "
                           "the server is slow or down") from exc
    except SSLError as exc:
        raise CollectError("connect", f"{url}: cannot connect: {_reason(exc)}") from exc
    except LocationValueError as exc:
        raise CollectError("config", f"{url!r} is not a valid URL: {exc}") from exc
    except ProtocolError as exc:
        if "IncompleteRead" in str(exc) or "InvalidChunkLength" in str(exc) or "prematurely" in str(exc):
            # Fewer bytes than Content-Length, or a chunked body cut off: never parse half a body.
            raise CollectError("truncated", f"{url}: the connection closed before the whole response arrived "
                               f"({exc}); nothing from this fetch was kept, the next run tries again") from exc
        raise CollectError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
    except (DecodeError, HTTPError) as exc:
        raise CollectError("network", f"{url}: {type(exc).__name__}: {exc}") from exc


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), parts.hostname, port


def _reason(exc: Exception) -> str:
    # urllib3 prefixes the connection object's repr; the reason after it is what a person needs
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("<") and ": " in text else text


def _body(response: urllib3.BaseHTTPResponse, url: str, settings: HttpSettings, cancel: threading.Event) -> bytes:
    """The whole (decoded) body, within http.max_bytes; an error status still raises afterwards."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        raise CollectError("too_large", f"{url}: response is {int(declared):,} bytes, "
                           f"over the {settings.max_bytes:,}-byte cap (http.max_bytes)")
    chunks, size = [], 0
    for chunk in response.stream(CHUNK, decode_content=True):
        if cancel.is_set():
            raise Cancelled()
        size += len(chunk)
        if size > settings.max_bytes:
            raise CollectError("too_large", f"{url}: response exceeded the {settings.max_bytes:,}-byte "
                               "cap (http.max_bytes) and was abandoned")
        chunks.append(chunk)
    content = b"".join(chunks)
    if response.status >= 400:
        headers = response.headers
        kind = "http_4xx" if response.status < 500 else "http_5xx"
        retry_after = None
        if response.status in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"), headers.get("date"))
        if response.status == 429:
            kind = "rate_limited"
        wait = f"; the server asked us to wait {retry_after:.0f}s" if retry_after is not None else ""
        raise HttpStatusError(kind, f"{url}: HTTP {response.status}{wait}", http_status=response.status,
                              retry_after=retry_after)
    return content


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
