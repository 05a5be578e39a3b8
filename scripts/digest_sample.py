"""Usage: python scripts/digest_sample.py sqlite:////tmp/digest.db, then
    repwatch --database sqlite:////tmp/digest.db digest --date 2026-11-22 --html out.html
and render out.html with headless Chromium (docs/digest.md) to refresh docs/digest.png.

Builds a realistic week for the digest screenshot: the bundled real posts (repwatch/demo_data), served
from loopback sources with publish times spread over 2026-11-16..22 (Shanghai), collected by the real
pipeline (feeds + a JSON API with follower counts), scored by the real analyzer, with incidents, tickets
and spread detection by the alerts stage, a source that keeps failing and one that went quiet."""
from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from repwatch.config import parse_config
from repwatch.demo import load_posts
from repwatch.loopback import LoopbackHTTPServer, Response
from repwatch.pipeline import run_once
from sentiment import Analyzer
from storage import Database

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 22)
rng = random.Random(20261122)
HOUR_WEIGHTS = [1, 1, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3, 3, 3.5, 4, 3.5, 3, 3, 3, 3.2, 3.5, 4, 4.5, 4, 3, 2]


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH).astimezone(timezone.utc)


def pick_hour(spike: bool = False) -> int:
    if spike:
        return rng.choice([11, 12, 12, 13, 13, 13, 14])
    return rng.choices(range(24), HOUR_WEIGHTS)[0]


def main(url: str) -> None:
    posts = load_posts()
    rng.shuffle(posts)
    waimai = [p for p in posts if p["feed"] == "waimai"]
    shopping = [p for p in posts if p["feed"] == "shopping"]
    weibo = [p for p in posts if p["feed"] == "weibo"]
    # Delivery complaints pile up on the last day around lunch: the spike the digest should show.
    late = [p for p in waimai if p["label"] == 0 and any(w in p["text"] for w in ("送", "慢", "小时", "超时"))]
    spike = late[:22]
    rest_waimai = [p for p in waimai if p not in spike]
    timeline: list[tuple[datetime, dict]] = []
    days = [DAY - timedelta(days=i) for i in range(6, -1, -1)]
    volume = {d: n for d, n in zip(days, (9, 11, 10, 12, 10, 14, 18))}
    for d in days:
        for _ in range(volume[d]):
            if rest_waimai:
                timeline.append((at(d, pick_hour(), rng.randrange(60)), rest_waimai.pop()))
    for p in spike:
        timeline.append((at(DAY, pick_hour(spike=True), rng.randrange(60)), p))
    for i, p in enumerate(shopping[:80]):
        d = days[min(6, i * 7 // 80 + (1 if rng.random() < 0.25 else 0))]
        timeline.append((at(d, pick_hour(), rng.randrange(60)), p))
    for i, p in enumerate(weibo[:45]):
        d = days[min(6, i * 7 // 45 + (1 if rng.random() < 0.3 else 0))]
        p = dict(p, followers=int(rng.lognormvariate(7, 2.2)), reposts=int(rng.lognormvariate(2, 1.5)))
        timeline.append((at(d, pick_hour(), rng.randrange(60)), p))
    quiet = shopping[80:86]                  # a blog that wrote early in the week and then stopped
    timeline.sort(key=lambda t: t[0])
    with open("/tmp/digest_timeline.json", "w") as fh:
        json.dump([(t.isoformat(), p) for t, p in timeline], fh, ensure_ascii=False)
    return timeline, quiet


def rss(items, base: str) -> bytes:
    out = []
    for when, p in items:
        out.append(f"<item><title>{escape(p['text'][:24])}</title><link>{base}/post/{p['id']}</link>"
                   f"<guid isPermaLink=\"false\">{p['id']}</guid><author>{escape(p['author'])}</author>"
                   f"<pubDate>{format_datetime(when)}</pubDate><description>{escape(p['text'])}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>{base}</link>'
            f"<description>d</description>{''.join(out)}</channel></rss>").encode()


AGENTS = ["王芳", "李强", "张敏", "陈晨"]


def handle_tickets(db, now: datetime) -> None:
    """The team at work: most tickets get a first response within hours, many are resolved within days."""
    from sqlalchemy import select

    from alerts.tickets.process import move
    from storage.models import Ticket

    if not 9 <= now.astimezone(SH).hour <= 21:
        return
    steps = {"new": ("assigned", timedelta(hours=2), 0.7), "assigned": ("investigating", timedelta(hours=20), 0.6),
             "investigating": ("resolved", timedelta(days=2), 0.6), "resolved": ("closed", timedelta(hours=6), 0.8)}
    with db.session() as s:
        for t in s.scalars(select(Ticket).where(Ticket.state.in_(list(steps))).order_by(Ticket.id)):
            to, after, chance = steps[t.state]
            if now - t.updated_at >= after and rng.random() < chance:
                move(s, t, to, actor=rng.choice(AGENTS), now=now)


def run(database_url: str) -> None:
    db = Database(database_url)
    with LoopbackHTTPServer() as http:
        base = http.url("")
        timeline, quiet = main(base)
        quiet_times = [(at(DAY - timedelta(days=6 - i), 10, 5), p) for i, p in enumerate(quiet[:3])]
        config = parse_config({
            "timezone": "Asia/Shanghai", "base_url": "http://127.0.0.1:8080",
            "watch": [{"name": "快送外卖", "aliases": ["快送"]}, {"name": "优选商城", "aliases": ["优选"]}],
            "sources": [
                {"name": "waimai-reviews", "kind": "feed", "url": f"{base}/waimai.xml", "targets": ["快送外卖"]},
                {"name": "shop-reviews", "kind": "feed", "url": f"{base}/shop.xml", "targets": ["优选商城"]},
                {"name": "weibo-keyword", "kind": "json", "url": f"{base}/weibo.json", "items": "posts",
                 "delay": "0s", "targets": ["优选商城"],
                 "fields": {"id": "id", "text": "text", "author": "author", "url": "url", "date": "date",
                            "author_followers": "followers", "reposts": "reposts"}},
                {"name": "consumer-forum", "kind": "feed", "url": f"{base}/forum.xml"},
                {"name": "lifestyle-blog", "kind": "feed", "url": f"{base}/blog.xml", "targets": ["优选商城"]},
            ],
            "alerts": {"open_ticket_at": "important",
                       "routing": {"delivery": {"department": "物流部"}, "product": {"department": "品控部"},
                                   "service": {"department": "客服中心"}, "after_sales": {"department": "售后部"}}},
        }, "<sample>")
        analyzer = Analyzer(config.analysis, config.targets())
        http.routes["/forum.xml"] = Response(b"<html>503 Service Unavailable</html>", 503)
        times = [at(d, h, 0) for d in [DAY - timedelta(days=i) for i in range(6, -1, -1)] for h in (9, 12, 15, 18, 21)]
        times.append(at(DAY + timedelta(days=1), 0, 30))
        for now in times:
            seen = [(t, p) for t, p in timeline if t <= now]
            http.routes["/waimai.xml"] = Response(rss([x for x in seen if x[1]["feed"] == "waimai"][-60:], base))
            http.routes["/shop.xml"] = Response(rss([x for x in seen if x[1]["feed"] == "shopping"][-60:], base))
            http.routes["/blog.xml"] = Response(rss([x for x in quiet_times if x[0] <= now], base))
            http.routes["/weibo.json"] = Response(json.dumps({"posts": [
                {"id": p["id"], "text": p["text"], "author": p["author"], "url": f"https://weibo.example.com/{p['id']}",
                 "date": t.isoformat(), "followers": p["followers"], "reposts": p["reposts"]}
                for t, p in seen if p["feed"] == "weibo"][-60:]}, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"})
            report = run_once(db, config, analyzer, now)
            handle_tickets(db, now)
            ev = report.evaluation
            print(now.astimezone(SH).strftime("%m-%d %H:%M"), f"new {report.new} analyzed {report.analyzed} "
                  f"incidents +{ev.incidents_opened} tickets +{ev.tickets_opened} alarms {getattr(ev, 'spread_alarms', '?')}",
                  file=sys.stderr)
    db.dispose()


if __name__ == "__main__":
    run(sys.argv[1])
