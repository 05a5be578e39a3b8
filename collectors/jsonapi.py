"""JSON APIs: a URL template, JMESPath expressions from the response to mention fields, and page-,
cursor- or next-URL pagination.

Incremental the same way as the web collector: newest-first APIs are re-read from the first page and
paging stops at the first page holding an already-stored item (the first `refresh_pages` pages are
always read, so engagement counts of recent posts are refreshed). APIs that page forward in time
(`resume: true`) continue from the cursor the last run stopped at."""
from __future__ import annotations

import json
import time
from typing import Literal, Optional
from urllib.parse import quote, urlencode, urljoin
from zoneinfo import ZoneInfo

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import Field, SecretStr, field_validator, model_validator

from collectors.base import CollectResult, Collector, Problem, SourceState
from collectors.encoding import charset_of, decode
from collectors.exceptions import CollectError
from collectors.fields import FieldName, FieldError, build_mention
from collectors.http import fetch_polite
from collectors.options import MappingOptions, Paging, Politeness
from storage.types import Strict


def _compile(expr: str, where: str):
    try:
        return jmespath.compile(expr)
    except JMESPathError as exc:
        raise ValueError(f"{where}: {expr!r} is not a JMESPath expression ({exc}); "
                         'quote keys with colons or dashes, e.g. "im:rating".label') from None


class Pagination(Strict):
    type: Literal["none", "page", "cursor", "next_url"] = "none"
    param: Optional[str] = Field(default=None, description="query parameter for the page number or cursor; "
                                 "otherwise {page} / {cursor} in the url template")
    start: int = Field(default=1, ge=0, description="first page number")
    next: Optional[str] = Field(default=None, description="JMESPath to the next cursor or next URL")
    max_pages: int = Field(default=5, ge=1, le=1000)
    resume: bool = Field(default=False, description="cursor only: the next run starts where this one stopped")

    @model_validator(mode="after")
    def _check(self):
        if self.type in ("cursor", "next_url") and not self.next:
            raise ValueError(f"pagination type {self.type} needs `next`: the JMESPath of the next "
                             f"{'cursor' if self.type == 'cursor' else 'URL'} in the response")
        if self.next:
            _compile(self.next, "pagination.next")
        if self.resume and self.type != "cursor":
            raise ValueError("resume only applies to pagination type cursor")
        return self


class JsonApiOptions(MappingOptions, Paging, Politeness):
    url: str = Field(description="URL template; {page} and {cursor} are filled in when paging")
    items: str = Field(default="@", description="JMESPath to the list of items in a response")
    fields: dict[FieldName, str] = Field(description="mention field → JMESPath within one item")
    pagination: Pagination = Pagination()
    params: dict[str, str | int] = Field(default_factory=dict)
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="e.g. Authorization: Bearer ${TOKEN}")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the url template must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _check(self):
        _compile(self.items, "items")
        for name, expr in self.fields.items():
            _compile(expr, f"fields.{name}")
        if "text" not in self.fields and "title" not in self.fields:
            raise ValueError("fields must map at least `text` (or `title`)")
        p = self.pagination
        if p.type == "page" and not p.param and "{page}" not in self.url:
            raise ValueError("page pagination needs {page} in the url or pagination.param")
        if p.type == "cursor" and not p.param and "{cursor}" not in self.url:
            raise ValueError("cursor pagination needs {cursor} in the url or pagination.param")
        return self


class JsonApiCollector(Collector[JsonApiOptions]):
    kind = "json"
    Options = JsonApiOptions
    sleep = staticmethod(time.sleep)   # tests and the bench replace it; delays are never skipped in production
    encoding_warning: str | None = None   # the last recovered encoding problem of this collect()

    def _url(self, page: int | None, cursor: str | None) -> str:
        opts = self.options
        url = opts.url.replace("{page}", str(page if page is not None else "")).replace(
            "{cursor}", quote(cursor or "", safe=""))
        query: dict[str, str | int | None] = dict(opts.params)
        if opts.pagination.param and opts.pagination.type == "page":
            query[opts.pagination.param] = page
        if opts.pagination.param and opts.pagination.type == "cursor" and cursor:
            query[opts.pagination.param] = cursor
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        return url

    def _load(self, url: str) -> object:
        opts = self.options
        fetched = fetch_polite(url, self.http, retries=opts.retries, backoff=opts.retry_backoff.total_seconds(),
                               max_wait=opts.max_retry_after.total_seconds(), sleep=self.sleep,
                               accept="application/json",
                               headers={k: v.get_secret_value() for k, v in opts.headers.items()})
        # JSON is UTF-8 by RFC 8259, but some Chinese APIs send GBK, labelled or not, or labelled wrongly.
        decoded = decode(fetched.content, [charset_of(fetched.headers.get("content-type"))], url)
        if decoded.warning:
            self.encoding_warning = decoded.warning
        text = decoded.text
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            snippet = text[:80].replace("\n", " ")
            raise CollectError("parse", f"{url}: not valid JSON ({exc}); the response starts with {snippet!r}")

    def collect(self, state: SourceState) -> CollectResult:
        opts = self.options
        p, tz = opts.pagination, ZoneInfo(opts.timezone)
        items_expr = jmespath.compile(opts.items)
        field_exprs = {name: jmespath.compile(expr) for name, expr in opts.fields.items()}
        result = CollectResult()
        self.encoding_warning = None
        page = p.start if p.type == "page" else None
        cursor = (state.cursor or {}).get("cursor") if p.resume else None
        url = self._url(page, cursor)
        seen_urls: set[str] = set()
        for page_index in range(1, p.max_pages + 1):
            seen_urls.add(url)
            try:
                data = self._load(url)
            except CollectError as exc:
                if page_index == 1:
                    raise
                result.problems.append(Problem(exc.kind, f"page {page_index}: {exc}; kept the earlier pages"))
                break
            found = items_expr.search(data)
            if found is None or not isinstance(found, list):
                what = "nothing" if found is None else f"a {type(found).__name__}, not a list"
                result.problems.append(Problem("layout", f"page {page_index}: items path {opts.items!r} matched "
                                               f"{what}; the API's response format may have changed", url))
                break
            page_ids = []
            for index, obj in enumerate(found):
                where = f"{url} item {index}"
                try:
                    values = {name: expr.search(obj) for name, expr in field_exprs.items()}
                    built = build_mention(values, now=state.now, tz=tz, rating_scale=opts.rating_scale,
                                          date_format=opts.date_format, base_url=url)
                except (FieldError, JMESPathError, TypeError) as exc:
                    result.problems.append(Problem("item", str(exc), where))
                    continue
                result.problems.extend(Problem("field", note, where, warning=True) for note in built.notes)
                result.items.append(built.mention)
                page_ids.append(built.mention.external_id)
            known = bool(page_ids) and bool(state.known(page_ids))   # one query for the page
            if not found or (known and page_index >= opts.refresh_pages and not p.resume):
                break
            next_url = self._next(p, data, page, cursor, url)
            if next_url is None or next_url in seen_urls:
                break
            if p.type == "page" and page is not None:   # a page number from the start, with type page
                page += 1
            elif p.type == "cursor" and p.next is not None:   # the validator requires `next` for cursors
                cursor = str(jmespath.search(p.next, data))
            url = next_url   # with resume, the cursor now names the first page not yet read
            if opts.delay and page_index < p.max_pages:
                self.sleep(opts.delay.total_seconds())
        if p.resume and cursor is not None:
            result.cursor = {"cursor": cursor}
        if self.encoding_warning:
            result.problems.append(Problem("encoding", f"recovered: {self.encoding_warning}", opts.url,
                                           warning=True))
        return result

    def _next(self, p: Pagination, data, page: int | None, cursor: str | None, url: str) -> str | None:
        if p.type == "page" and page is not None:
            return self._url(page + 1, None)
        if p.type in ("cursor", "next_url") and p.next is not None:   # the validator requires `next` for both
            value = jmespath.search(p.next, data)
            if value in (None, "", False):
                return None
            if p.type == "cursor":
                return None if str(value) == cursor else self._url(None, str(value))
            return urljoin(url, str(value))
        return None
