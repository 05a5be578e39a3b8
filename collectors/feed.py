"""RSS/Atom feeds: fetched by collectors.http, parsed from bytes by feedparser."""
from __future__ import annotations

import calendar
import html
import re
from datetime import datetime, timezone

import feedparser
from pydantic import AnyHttpUrl

from collectors.base import CollectResult, Collector, Problem, SourceState
from collectors.encoding import charset_of, decode, xml_declared
from collectors.exceptions import CollectError
from collectors.http import fetch
from storage.clean import clean_text, has_unsafe
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


# A numeric character reference to a code point XML forbids (NUL, C0 controls, surrogate halves,
# U+FFFE/FFFF, beyond U+10FFFF). feedparser turns &#xD800; into a traceback and &#0; into a NUL that
# PostgreSQL refuses, so they are removed before parsing.
_CHARREF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_XML_DECL_ENCODING = re.compile(r'^(\s*<\?xml[^>]*?encoding\s*=\s*)["\'][^"\']*["\']')
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _xml_char(cp: int) -> bool:
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def drop_bad_charrefs(text: str) -> tuple[str, int]:
    dropped = 0

    def keep(m: re.Match) -> str:
        nonlocal dropped
        digits = (m.group(1) or m.group(2)).lstrip("0")
        # more than 8 digits is beyond U+10FFFF anyway (and int() refuses 4,300+ digits)
        cp = -1 if len(digits) > 8 else int(digits or "0", 16 if m.group(1) else 10)
        if _xml_char(cp):
            return m.group(0)
        dropped += 1
        return ""

    return _CHARREF.sub(keep, text), dropped


def ends_properly(text: str) -> bool:
    """Whether the document's root element is closed. A body cut off mid-feed (a connection closed
    early with no Content-Length to tell) would otherwise give half an item, stored under a content
    hash, and the whole item next run as a second row."""
    root = _root_name(text)
    if root is None:
        return False
    body = _strip_tail(text[-4096:])
    return re.search(rf"</\s*{re.escape(root)}\s*>\Z", body) is not None


def _root_name(text: str) -> str | None:
    """The first element's name, past the declaration, comments and doctype. Scanned with find(),
    always forward, so no hostile prolog costs more than one pass."""
    i = 0
    while True:
        i = text.find("<", i)
        if i < 0:
            return None
        if text.startswith("<!--", i):
            i = text.find("-->", i + 4)
        elif text.startswith("<?", i):
            i = text.find("?>", i + 2)
        elif text.startswith("<!", i):   # doctype, perhaps with an internal subset in [...]
            end, bracket = text.find(">", i), text.find("[", i)
            if -1 < bracket < end:
                close = text.find("]", bracket)
                i = text.find(">", close) if close >= 0 else -1
            else:
                i = end
        else:
            m = _ROOT.match(text, i)
            return m.group(1) if m else None
        if i < 0:
            return None


def _strip_tail(body: str) -> str:
    """Comments, processing instructions and blanks may follow the root element. (A loop, not a
    regex: a hostile tail of blanks would make a nested-quantifier regex backtrack for ever.)"""
    body = body.rstrip()
    for closing, opening in (("-->", "<!--"), ("?>", "<?")) * 50:
        if body.endswith(closing) and opening in body:
            body = body[:body.rfind(opening)].rstrip()
    return body


def prepare_xml(content: bytes, headers: dict[str, str], where: str) -> tuple[bytes, dict[str, str], list[Problem]]:
    """Bytes feedparser can read without guessing: UTF-8, declared as such, with no character it
    would choke on. The charset is chosen here (collectors/encoding.py), never by feedparser's
    windows-1252 fallback."""
    headers = {k.lower(): v for k, v in headers.items()}
    ctype = headers.get("content-type", "")
    decoded = decode(content, [charset_of(ctype), xml_declared(content)], where)
    problems = []
    if decoded.warning:
        problems.append(Problem("encoding", f"recovered: {decoded.warning}", where, warning=True))
    text, dropped = drop_bad_charrefs(decoded.text)
    if dropped:
        problems.append(Problem("charref", f"removed {dropped} character reference(s) to characters XML does "
                                "not allow (such as &#xD800; or &#0;)", where, warning=True))
    if has_unsafe(text):
        text = clean_text(text)
        problems.append(Problem("control", "removed control characters XML does not allow", where, warning=True))
    text = _XML_DECL_ENCODING.sub(r'\1"utf-8"', text, count=1)
    media = ctype.split(";")[0].strip() or "application/xml"
    headers["content-type"] = f"{media}; charset=utf-8"
    return text.encode("utf-8"), headers, problems


def parse_feed(content: bytes, headers: dict[str, str], where: str) -> CollectResult:
    data, headers, problems = prepare_xml(content, headers, where)
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
    for index, entry in enumerate(parsed.entries):
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


class FeedCollector(Collector):
    kind = "feed"
    Options = FeedOptions

    def feed_url(self) -> str:
        return str(self.options.url)

    def collect(self, state: SourceState) -> CollectResult:
        url = self.feed_url()
        fetched = fetch(url, self.http, etag=state.etag, last_modified=state.last_modified,
                        accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5")
        if fetched.not_modified:
            return CollectResult(not_modified=True, http_status=304, etag=state.etag,
                                 last_modified=state.last_modified)
        result = parse_feed(fetched.content, fetched.headers, url)
        result.http_status = fetched.status
        result.etag = fetched.headers.get("etag")
        result.last_modified = fetched.headers.get("last-modified")
        return result
