"""Raw field values → MentionIn, shared by the web, json and import collectors.

Sites write counts as "1.2万" or "3.4k", dates as "3小时前", "昨天 14:03" or "2026年11月20日", and
ratings as "★★★★☆" or "45" on a 50-point scale. One place turns all of that into numbers, aware
datetimes and a 1..5 rating, so every collector reads the same way and is tested once."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import urljoin, urlsplit
from typing import Literal, get_args
from collectors.feed import strip_html
from storage.clean import clean_text
from storage.records import MentionIn, content_hash

# The mention fields a source may map. `text` (or at least `title`) is required.
FieldName = Literal["id", "text", "title", "author", "url", "date", "rating",
                    "likes", "reposts", "comments", "author_followers"]
FIELDS: tuple[str, ...] = get_args(FieldName)
COUNT_FIELDS = ("likes", "reposts", "comments", "author_followers")

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
_MULTIPLIER = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "k": 1_000, "K": 1_000,
               "千": 1_000, "m": 1_000_000, "M": 1_000_000}
_COUNT = re.compile(r"([-+]?\d[\d,]*(?:\.\d+)?)\s*(万|亿|千|[wWkKmM])?")
_RELATIVE = re.compile(r"(\d+)\s*(秒|分钟|分|小时|天|周|seconds?|minutes?|mins?|hours?|days?|weeks?)\s*(前|ago)",
                       re.IGNORECASE)
_REL_UNIT = {"秒": 1, "分钟": 60, "分": 60, "小时": 3600, "天": 86400, "周": 604800,
             "second": 1, "minute": 60, "min": 60, "hour": 3600, "day": 86400, "week": 604800}
_CN_DATE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_DAY_WORDS = {"今天": 0, "昨天": 1, "前天": 2, "today": 0, "yesterday": 1}


class FieldError(ValueError):
    """An item that cannot become a mention; the message names the field and what to check."""


@dataclass
class Built:
    mention: MentionIn
    notes: list[str] = field(default_factory=list)   # fields dropped as unreadable; the item is still kept


def parse_count(value) -> int | None:
    """'1,234' → 1234, '1.2万' → 12000, '3.4k' → 3400, '赞' (no number shown) → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    m = _COUNT.search(str(value))
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    return int(round(number * _MULTIPLIER.get(m.group(2) or "", 1)))


def parse_rating(value, scale: float) -> float | None:
    """A 1..5 star rating: stars are counted, numbers are rescaled from `scale` (e.g. 50 for a 50-point site)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value)
        if "★" in text:
            return round(text.count("★") * 5.0 / scale, 3)
        m = _NUMBER.search(text)
        if not m:
            raise ValueError(f"no number in {text[:40]!r}")
        number = float(m.group(0).replace(",", ""))
    return round(number * 5.0 / scale, 3)


def _aware(dt: datetime, tz: tzinfo) -> datetime:
    return (dt.replace(tzinfo=tz) if dt.tzinfo is None else dt).astimezone(timezone.utc)


def parse_date(value, now: datetime, tz: tzinfo, fmt: str | None = None) -> datetime | None:
    """Absolute, epoch, Chinese and relative dates. Naive times are read in the source's timezone `tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _aware(value, tz)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value   # milliseconds, as most JSON APIs send
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = str(value).strip()
    if fmt:
        return _aware(datetime.strptime(text, fmt), tz)
    if text.isdigit():
        return parse_date(int(text), now, tz)
    local_now = now.astimezone(tz)
    if text in ("刚刚", "just now"):
        return now
    m = _RELATIVE.search(text)
    if m:
        unit = m.group(2).lower().rstrip("s") if m.group(2).isascii() else m.group(2)
        return now - timedelta(seconds=int(m.group(1)) * _REL_UNIT[unit])
    for word, days_back in _DAY_WORDS.items():
        if text.lower().startswith(word):
            rest = text[len(word):].strip() or "00:00"
            hh, _, mm = rest.partition(":")
            day = (local_now - timedelta(days=days_back)).replace(hour=int(hh), minute=int(mm[:2] or 0),
                                                                   second=0, microsecond=0)
            return day.astimezone(timezone.utc)
    m = _CN_DATE.search(text)
    if m:
        year = int(m.group(1)) if m.group(1) else local_now.year
        text = f"{year}-{int(m.group(2)):02d}-{int(m.group(3)):02d}{text[m.end():]}"
    from dateutil import parser as dateparser   # lazy: only sources with dates pay the import

    default = local_now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    parsed = _aware(dateparser.parse(text, default=default), tz)
    # "11-20 14:03" has no year: if that lands in the future it was last year's.
    if parsed > now + timedelta(days=1) and not re.search(r"\d{4}", text):
        parsed = parsed.replace(year=parsed.year - 1)
    return parsed


def safe_url(value, base: str | None = None) -> str | None:
    """Only absolute http(s) links are kept: a javascript: link from a stranger never reaches a page."""
    if not value:
        return None
    url = urljoin(base, str(value).strip()) if base else str(value).strip()
    return url if urlsplit(url).scheme in ("http", "https") else None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        # Text nodes carry their own spacing (like the DOM's textContent); adding spaces would split
        # Chinese words at every inline tag: 客服<b>根本不理人</b> must stay 客服根本不理人.
        value = "".join(str(v) for v in value if v is not None)
    return strip_html(str(value))


def build_mention(values: dict, *, now: datetime, tz: tzinfo, rating_scale: float = 5.0,
                  date_format: str | None = None, base_url: str | None = None, raw: dict | None = None) -> Built:
    """Raise FieldError when there is no text; unreadable optional fields are dropped with a note."""
    text, title = _text(values.get("text")), _text(values.get("title")) or None
    if not text and not title:
        raise FieldError("no text: the text field is empty or missing (check the text selector/column)")
    text = text or title or ""   # one of them has text
    notes: list[str] = []
    published = None
    if values.get("date") not in (None, ""):
        try:
            published = parse_date(values["date"], now, tz, date_format)
        except (ValueError, OverflowError, TypeError) as exc:
            notes.append(f"date {str(values['date'])[:40]!r} not understood ({exc}); set date_format")
    rating = None
    try:
        rating = parse_rating(values.get("rating"), rating_scale)
    except ValueError as exc:
        notes.append(f"rating: {exc}")
    author = _text(values.get("author")) or None
    url = safe_url(values.get("url"), base_url)
    ident = values.get("id")
    ident = clean_text(str(ident)).strip() if ident not in (None, "") else None
    # Without an id or link, the text and author identify a review; a relative date would not be stable.
    external_id = ident or url or content_hash(f"{author or ''}\n{title or ''}\n{text}")
    counts = {name: parse_count(values.get(name)) for name in COUNT_FIELDS}
    mention = MentionIn(external_id=external_id[:500], text=text, title=title if title != text else None,
                        url=url, author=author[:300] if author else None, published_at=published,
                        rating=rating, raw=raw or {}, **counts)
    return Built(mention, notes)
