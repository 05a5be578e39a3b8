"""RSS/Atom feeds: fetched by collectors.http, parsed from bytes by feedparser."""
from __future__ import annotations

import calendar
import html
import re
from abc import abstractmethod
from datetime import datetime, timezone
from typing import TypeVar

import feedparser
from pydantic import AnyHttpUrl

from collectors.base import CollectResult, Collector, Problem, SourceState
from collectors.exceptions import CollectError
from collectors.feed_fast import parse_plain_rss
from collectors.feed_xml import ends_properly, prepare_xml
from collectors.http import fetch
from storage.clean import clean_text
from storage.records import MentionIn, content_hash
from storage.types import Strict

_TAGS = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\s+")
# feedparser flags these when the declared charset or content type was wrong but it recovered;
# the entries are fine, so they are warnings, not failures.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def strip_html(value: str | None) -> str:
    """Collected text is stored as plain text: markup from strangers never reaches a page or an email."""
    if not value:
        return ""
    # Cleaned after unescaping: &#0; or &#xD800; in a stranger's markup becomes nothing, not a NUL.
    return _BLANKS.sub(" ", clean_text(html.unescape(_TAGS.sub(" ", value)))).strip()


def entry_time(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    return None


def entry_to_mention(entry) -> MentionIn | None:
    title = strip_html(entry.get("title"))
    body = ""
    if entry.get("content"):
        body = strip_html(entry["content"][0].get("value"))
    body = body or strip_html(entry.get("summary") or entry.get("description"))
    text = body or title
    if not text:
        return None
    link = entry.get("link")
    # Dedup by guid, else link, else content hash (issue #2).
    external_id = entry.get("id") or link or content_hash(f"{title} {text}")
    author = entry.get("author")
    return MentionIn(
        external_id=str(external_id),
        text=text,
        title=title if title and title != text else None,
        url=link,
        author=strip_html(author) or None,
        published_at=entry_time(entry),
        raw={k: entry.get(k) for k in ("id", "link", "tags") if entry.get(k) is not None},
    )


def parse_feed(content: bytes, headers: dict[str, str], where: str) -> CollectResult:
    data, headers, problems = prepare_xml(content, headers, where)
    plain = parse_plain_rss(data, headers.get("content-type", ""))
    if plain is not None:   # a well-formed, plain RSS 2.0 feed: read without feedparser (feed_fast.py)
        return _mentions(plain, CollectResult(problems=problems), where)
    parsed = feedparser.parse(data, response_headers=headers)
    result = CollectResult(problems=problems)
    exc = parsed.get("bozo_exception")
    if not parsed.entries and not parsed.get("version"):
        # An HTML error page, a login wall, JSON: nothing feed-like came back.
        reason = f" ({exc})" if exc else ""
        raise CollectError("parse", f"{where}: the response is not an RSS or Atom feed{reason}")
    if not ends_properly(data.decode("utf-8")):
        raise CollectError("truncated", f"{where}: the feed ends before its last closing tag (the connection "
                           "was cut, or the server sent less than it meant to); nothing was stored, the next "
                           "run tries again")
    if parsed.bozo:
        if isinstance(exc, _BENIGN_BOZO):
            kind = "encoding" if isinstance(exc, feedparser.CharacterEncodingOverride) else "content_type"
            result.problems.append(Problem(kind, f"recovered: {exc} (decoded as {parsed.get('encoding')})",
                                           where, warning=True))
        else:
            result.problems.append(Problem("malformed", f"feed is not well-formed ({exc}); "
                                           f"kept the {len(parsed.entries)} entries that parsed", where))
    return _mentions(parsed.entries, result, where)


def _mentions(entries, result: CollectResult, where: str) -> CollectResult:
    for index, entry in enumerate(entries):
        try:
            mention = entry_to_mention(entry)
        except Exception as exc:  # one odd entry never costs the rest
            result.problems.append(Problem("entry", f"entry {index}: {type(exc).__name__}: {exc}", where))
            continue
        if mention is None:
            result.problems.append(Problem("empty", f"entry {index} has no text", where))
        else:
            result.items.append(mention)
    return result


class FeedOptions(Strict):
    url: AnyHttpUrl


FO = TypeVar("FO", bound=Strict)


class FeedReader(Collector[FO]):
    """What every feed-shaped source shares (the fetch path, conditional GET, parsing); a subclass says
    where its feed is, from its own options: `feed` (a URL) and `rsshub` (an instance and a route)."""

    @abstractmethod
    def feed_url(self) -> str:
        """The URL to fetch."""

    def collect(self, state: SourceState) -> CollectResult:
        url = self.feed_url()
        fetched = fetch(url, self.http, etag=state.etag, last_modified=state.last_modified,
                        accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5")
        if fetched.not_modified:   # the pipeline keeps the stored validators; a 304 may carry new ones
            return CollectResult(not_modified=True, http_status=304, etag=fetched.headers.get("etag"),
                                 last_modified=fetched.headers.get("last-modified"))
        result = parse_feed(fetched.content, fetched.headers, url)
        result.http_status = fetched.status
        result.etag = fetched.headers.get("etag")
        result.last_modified = fetched.headers.get("last-modified")
        return result


class FeedCollector(FeedReader[FeedOptions]):
    kind = "feed"
    Options = FeedOptions

    def feed_url(self) -> str:
        return str(self.options.url)
