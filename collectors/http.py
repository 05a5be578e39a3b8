"""One polite HTTP fetch path for feed-like sources: timeouts, a size cap, a clear User-Agent,
a redirect limit and conditional GET. feedparser gets bytes from here, never a URL (it has no timeout)."""
from __future__ import annotations

from dataclasses import dataclass

import httpx

from collectors.exceptions import CollectError
from collectors.settings import HttpSettings


@dataclass
class Fetched:
    status: int
    content: bytes
    headers: dict[str, str]
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def client(settings: HttpSettings) -> httpx.Client:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout.total_seconds(),
        read=settings.read_timeout.total_seconds(),
        write=settings.read_timeout.total_seconds(),
        pool=settings.connect_timeout.total_seconds(),
    )
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def fetch(url: str, settings: HttpSettings, *, etag: str | None = None, last_modified: str | None = None,
          accept: str = "*/*", http: httpx.Client | None = None) -> Fetched:
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own = http is None
    http = http or client(settings)
    try:
        with http.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > settings.max_bytes:
                raise CollectError("too_large", f"{url}: response is {int(declared):,} bytes, "
                                   f"over the {settings.max_bytes:,}-byte cap (http.max_bytes)")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
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
    except httpx.HTTPError as exc:
        raise CollectError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            http.close()
    if fetched.status >= 400:
        kind = "http_4xx" if fetched.status < 500 else "http_5xx"
        raise CollectError(kind, f"{url}: HTTP {fetched.status}", http_status=fetched.status)
    return fetched
