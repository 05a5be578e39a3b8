"""The digest's figures for a local day: day boundaries, hourly buckets, the 7-day trend, and a quiet day."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alerts.digest.data import gather
from alerts.digest.queries import Scope, day_bounds


def at(world, hour: int) -> datetime:
    return datetime(world.day.year, world.day.month, world.day.day, hour, tzinfo=world.tz).astimezone(timezone.utc)


def test_a_local_day_is_midnight_to_midnight_in_its_timezone_even_across_dst():
    start, end = day_bounds(date(2026, 11, 22), ZoneInfo("Asia/Shanghai"))
    assert (start.isoformat(), end.isoformat()) == ("2026-11-21T16:00:00+00:00", "2026-11-22T16:00:00+00:00")
    spring = day_bounds(date(2026, 3, 8), ZoneInfo("America/New_York"))
    autumn = day_bounds(date(2026, 11, 1), ZoneInfo("America/New_York"))
    assert spring[1] - spring[0] == timedelta(hours=23) and autumn[1] - autumn[0] == timedelta(hours=25)


def test_hourly_buckets_trend_and_day_before_follow_local_time(db, world):
    with db.session() as s:
        d = gather(s, world.day, world.tz)
    # (hour, mentions, analysed, negative): the hostile post at 00:10, a post at 23:50
    assert d.hourly[0] == (0, 1, 1, 1) and d.hourly[23] == (23, 1, 1, 0)
    assert sum(m for _, m, _, _ in d.hourly) == world.mentions_day
    assert [f.day for f in d.trend] == [world.day - timedelta(days=6 - i) for i in range(7)]
    assert [f.mentions for f in d.trend] == [10, 10, 10, 10, 10, world.mentions_before, world.mentions_day]
    assert d.yesterday.negative == world.negative_before          # its 23:50 post stays on its own day
    assert [(c, n, b) for c, n, b in d.categories] == [("delivery", 6, 1), ("service", 3, 0), ("product", 0, 2)]
    assert [i.title for i in d.incidents] == ["快送外卖 配送延迟 三天没到"]
    assert d.incidents[0].evidence[0].id == world.hostile_id      # evidence ordered by reach
    assert (d.tickets.new, d.tickets.open, d.tickets.overdue) == (1, 2, 1)
    assert (d.tickets_before.new, d.tickets_before.open, d.tickets_before.overdue) == (0, 1, 1)
    assert [(s.name, s.health) for s in d.sources] == [("blog-quiet", "silent"), ("forum-broken", "failing")]


def test_a_source_filter_narrows_volumes_and_health(db, world):
    with db.session() as s:
        d = gather(s, world.day, world.tz, Scope(sources=frozenset({"shop-reviews"})))
    assert d.today.mentions == world.target_b_day and d.sources == []
    assert d.incidents and d.tickets.open == 2      # incidents and tickets follow targets, not sources


def test_a_quiet_week_renders_a_short_digest_without_empty_charts(db):
    from alerts.digest.render import render

    with db.session() as s:
        d = gather(s, date(2026, 11, 22), ZoneInfo("Asia/Shanghai"))
    assert d.quiet and d.today.negative_share is None
    rendered = render(d, locale="en")
    assert "No mentions, incidents or open tickets that day." in rendered.text
    assert "Negative share: – (–)" in rendered.text
    assert rendered.charts == {} and rendered.document()["images"] == []
    assert "No complaints that day and no mentions in the 7 days before, so no charts." in rendered.text
    assert "cid:" not in rendered.html and "<img" not in rendered.html and "so no charts" in rendered.html
    zh = render(d, locale="zh")
    assert "当日没有投诉，近7日也没有提及，故无图表。" in zh.text and "<img" not in zh.html


def test_a_day_without_mentions_in_a_busy_week_keeps_only_the_trend_chart(db, world):
    from alerts.digest.render import render

    with db.session() as s:
        d = gather(s, world.day + timedelta(days=1), world.tz)
    assert d.today.mentions == 0 and d.trend[-2].mentions == world.mentions_day
    rendered = render(d, locale="zh")
    assert list(rendered.charts) == ["trend"]
    assert "当日没有提及，故无每小时图表。" in rendered.html and "近7日趋势" in rendered.html
    assert rendered.html.count("<img") == 1


def test_chart_images_carry_no_words_so_every_locale_reads_its_own_labels(db, world):
    """The charts are drawn once with numbers only; each language's titles, axes and legend are text in the
    email beside them, so a Chinese digest is Chinese whatever fonts the machine drawing it has."""
    from alerts.digest.labels import LABELS
    from alerts.digest.render import draw_charts, render

    with db.session() as s:
        d = gather(s, world.day, world.tz)
    charts = draw_charts(d)
    assert set(charts) == {"hourly", "trend"}
    zh, en = render(d, locale="zh", charts=charts), render(d, locale="en", charts=charts)
    for locale, rendered in (("zh", zh), ("en", en)):
        words = LABELS[locale]
        for key in ("chart_trend", "mentions", "negative", "negative_share", "axis_left", "axis_right",
                    "chart_hourly_alt", "chart_trend_alt"):
            assert words[key] in rendered.html, (locale, key)
        assert words["chart_hourly"].format(tz="Asia/Shanghai") in rendered.html
    assert LABELS["en"]["chart_trend"] not in zh.html and LABELS["zh"]["chart_trend"] not in en.html
    assert [png for _, png in zh.charts.values()] == [png for _, png in en.charts.values()]


def test_top_lists_show_the_most_serious_first_and_count_the_rest(db, world):
    from sqlalchemy import select

    from storage.models import Incident, IncidentMention, Mention, SpreadAlarm

    with db.session() as s:
        urgent = Incident(key="优选商城/product/safety", target="优选商城", category="product", title="起火",
                          severity="urgent", signals=["safety"], first_seen=at(world, 10),
                          last_seen=at(world, 10), mention_count=1, reach=10, status="open")
        s.add(urgent)
        s.flush()
        s.add(IncidentMention(incident_id=urgent.id, mention_id=world.hostile_id, added_at=at(world, 10)))
        # a spike on a target/category series: no incident, its posts named in the detail
        ids = list(s.scalars(select(Mention.id).order_by(Mention.id).limit(3)))
        s.add(SpreadAlarm(series="tc:优选商城/product", bin_start=at(world, 11), value=5, expected=0.5,
                          score=4.0, detail={"target": "优选商城", "category": "product", "mention_ids": ids}))
    with db.session() as s:
        d = gather(s, world.day, world.tz, top=1)
    assert d.incidents_total == 2 and [i.severity for i in d.incidents] == ["urgent"]
    assert d.spikes_total == 2 and len(d.spikes) == 1 and d.spikes[0].score == 8.2
    with db.session() as s:
        d = gather(s, world.day, world.tz, Scope(targets=frozenset({"优选商城"})))
    assert [(sp.target, sp.category, sp.incident) for sp in d.spikes] == [("优选商城", "product", None)]
    reaches = [p.reach for p in d.spikes[0].evidence]
    assert len(reaches) == 2 and reaches == sorted(reaches, reverse=True)
