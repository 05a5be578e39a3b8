"""Unit corner cases of collectors/fields.py: how counts, dates and ratings are written on Chinese sites."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from collectors.fields import FieldError, build_mention, parse_count, parse_date, parse_rating, safe_url

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)    # 10:00 in Shanghai
SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("raw,expected", [
    ("1,234", 1234), ("1.2万", 12000), ("3.4k", 3400), ("2亿", 200_000_000), ("赞 56", 56), ("56条回复", 56),
    ("赞", None), ("", None), (None, None), (7, 7), (7.9, 7), (True, None),
])
def test_parse_count(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("2026-11-20 14:03", "2026-11-20T06:03:00+00:00"),
    ("2026年11月20日 14:03", "2026-11-20T06:03:00+00:00"),
    ("11月20日", "2026-11-19T16:00:00+00:00"),
    ("12-30 08:00", "2025-12-30T00:00:00+00:00"),          # no year, would be in the future: last year
    ("3小时前", "2026-11-22T23:00:00+00:00"),
    ("5 minutes ago", "2026-11-23T01:55:00+00:00"),
    ("刚刚", "2026-11-23T02:00:00+00:00"),
    ("昨天 14:03", "2026-11-22T06:03:00+00:00"),
    ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00+00:00"),
    ("1795000000", "2026-11-18T11:06:40+00:00"),
    (1795000000000, "2026-11-18T11:06:40+00:00"),           # milliseconds
])
def test_parse_date(raw, expected):
    assert parse_date(raw, NOW, SH).isoformat() == expected


def test_parse_date_with_a_format_and_garbage():
    assert parse_date("20/11/2026", NOW, SH, "%d/%m/%Y").isoformat() == "2026-11-19T16:00:00+00:00"
    with pytest.raises(ValueError):
        parse_date("sometime last week", NOW, SH)


@pytest.mark.parametrize("raw,scale,expected", [
    ("★★★★☆", 5, 4.0), ("45", 50, 4.5), ("4.5分", 5, 4.5), (8, 10, 4.0), (None, 5, None), ("", 5, None),
])
def test_parse_rating(raw, scale, expected):
    assert parse_rating(raw, scale) == expected


def test_only_http_links_survive():
    assert safe_url("/r/1", "http://shop.example.com/reviews") == "http://shop.example.com/r/1"
    assert safe_url("javascript:alert(1)", "http://shop.example.com/") is None
    assert safe_url("data:text/html,x") is None


def test_build_mention_ids_notes_and_errors():
    built = build_mention({"text": ["客服", "不理人"], "date": "whenever", "rating": "n/a"}, now=NOW, tz=SH)
    assert built.mention.text == "客服不理人" and built.mention.published_at is None
    assert len(built.notes) == 2
    assert build_mention({"text": "<p>漏水</p>"}, now=NOW, tz=SH).mention.text == "漏水"
    same = build_mention({"text": "客服不理人", "date": "3小时前"}, now=NOW, tz=SH)
    later = build_mention({"text": "客服不理人", "date": "4小时前"}, now=NOW, tz=SH)
    assert same.mention.external_id == later.mention.external_id, "a relative date never changes the id"
    with pytest.raises(FieldError):
        build_mention({"text": "  ", "author": "x"}, now=NOW, tz=SH)
