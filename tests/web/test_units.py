"""Unit-level corner cases of the dashboard's small parts: link and redirect rules, escaping helpers,
SVG charts with hostile labels, and the login throttle travelling in time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from repwatch.clock import FrozenClock
from repwatch.web.charts import bar_line_chart, hbars
from repwatch.web.render import highlight
from repwatch.web.security import safe_next, safe_url
from repwatch.web.throttle import LoginThrottle


@pytest.mark.parametrize("url, ok", [
    ("https://weibo.com/123/abc", True),
    ("http://127.0.0.1:8080/post/1", True),
    ("javascript:alert(1)", False),
    (" JavaScript:alert(1)", False),
    ("java\tscript:alert(1)", False),
    ("data:text/html,<script>alert(1)</script>", False),
    ("vbscript:x", False),
    ("//evil.example/x", False),
    ("/relative/path", False),
    ("https:///no-host", False),
    ("http://x/\nSet-Cookie: a=b", False),
    (None, False),
])
def test_only_http_links(url, ok):
    assert (safe_url(url) is not None) is ok


@pytest.mark.parametrize("target, expected", [
    ("/tickets/3?x=1", "/tickets/3?x=1"), ("//evil.example", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("", "/"), ("/ok\r\nLocation: x", "/"),
])
def test_login_redirect_stays_on_site(target, expected):
    assert safe_next(target) == expected


def test_highlight_escapes_around_matches():
    out = str(highlight('<b onmouseover="x">退款</b> & 退款', "退款 amp"))
    assert out == '&lt;b onmouseover=&#34;x&#34;&gt;<mark>退款</mark>&lt;/b&gt; &amp; <mark>退款</mark>'
    assert str(highlight("<i>", "")) == "&lt;i&gt;"


def test_charts_escape_labels():
    tz = ZoneInfo("UTC")
    bins = [datetime(2026, 11, 20, h, tzinfo=timezone.utc) for h in range(3)]
    svg = str(bar_line_chart(bins, [1, 0, 2], [0.5, 0.5, 0.5], tz=tz, time_fmt="%H:%M",
                             bar_name="<script>x</script>", line_name='"><img src=x>', caption="a&b"))
    assert "<script>" not in svg and "<img" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
    assert svg.count('<rect class="bar"') == 3          # two non-empty bins and the legend swatch
    bars = str(hbars([("<svg onload=x>", 3), ("ok", 1)]))
    assert "<svg onload" not in bars and "&lt;svg onload=x&gt;" in bars


def test_throttle_counts_per_user_and_address_and_forgets_after_the_window():
    clock = FrozenClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    t = LoginThrottle(clock, max_failures=3, window=timedelta(minutes=15))
    for _ in range(3):
        assert t.blocked_until("Agent", "10.0.0.1") is None
        t.failed("Agent", "10.0.0.1")
    assert t.blocked_until("agent", "10.0.0.1") == clock.now() + timedelta(minutes=15)   # that name, that address
    assert t.blocked_until("viewer", "10.0.0.1") is None     # a colleague behind the same NAT is not locked out
    assert t.blocked_until("agent", "10.0.0.2") is None      # nor is the agent herself, from her own address
    clock.advance(timedelta(minutes=15))
    assert t.blocked_until("agent", "10.0.0.1") is None


def test_throttle_stops_a_spray_of_names_from_one_address():
    clock = FrozenClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    t = LoginThrottle(clock, max_failures=3, window=timedelta(minutes=15), per_address=10)
    for i in range(10):
        assert t.blocked_until(f"name{i}", "10.0.0.9") is None
        t.failed(f"name{i}", "10.0.0.9")
    assert t.blocked_until("someone-else", "10.0.0.9") is not None
    assert t.blocked_until("someone-else", "10.0.0.8") is None


def test_a_correct_password_clears_the_pair_count_only():
    clock = FrozenClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    t = LoginThrottle(clock, max_failures=2, window=timedelta(minutes=15), per_address=3)
    t.failed("agent", "10.0.0.1")
    t.succeeded("agent", "10.0.0.1")
    t.failed("agent", "10.0.0.1")
    assert t.blocked_until("agent", "10.0.0.1") is None
    t.failed("other", "10.0.0.1")
    assert t.blocked_until("someone", "10.0.0.1") is not None   # the address's three failures still count
