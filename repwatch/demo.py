"""`repwatch demo`: the whole pipeline, offline, on real posts served from loopback.

A loopback HTTP server serves three feeds (RSS, Atom, and a GB18030-encoded RSS) made from real
posts shipped in repwatch/demo_data; a loopback SMTP server receives the alert emails. The pipeline
runs twice: the second pass gets 304 Not Modified and stores nothing twice."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from importlib import resources
from xml.sax.saxutils import escape

from repwatch.loopback import LoopbackHTTPServer, Response, SMTPSink

BASE_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
TARGETS = {"waimai": "快送外卖", "shopping": "优选商城", "weibo": "优选商城"}


def load_posts() -> list[dict]:
    data = resources.files("repwatch").joinpath("demo_data/posts.json").read_text(encoding="utf-8")
    return json.loads(data)["posts"]


def _when(i: int) -> datetime:
    return BASE_TIME + timedelta(minutes=7 * i)


def rss(posts: list[dict], title: str, base: str, encoding: str = "utf-8") -> bytes:
    items = []
    for i, p in enumerate(posts):
        extra = ""
        if "followers" in p:
            extra = f"<followers>{p['followers']}</followers>"
        items.append(
            f"<item><title>{escape(p['text'][:24])}</title><link>{base}/post/{p['id']}</link>"
            f"<guid isPermaLink=\"false\">{p['id']}</guid><author>{escape(p['author'])}</author>"
            f"<pubDate>{format_datetime(_when(i))}</pubDate><description>{escape(p['text'])}</description>{extra}</item>")
    doc = (f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>{escape(title)}</title>'
           f"<link>{base}</link><description>{escape(title)}</description>{''.join(items)}</channel></rss>")
    return doc.encode(encoding)


def atom(posts: list[dict], title: str, base: str) -> bytes:
    entries = []
    for i, p in enumerate(posts):
        entries.append(
            f"<entry><id>urn:demo:{p['id']}</id><title>{escape(p['text'][:24])}</title>"
            f"<link href=\"{base}/post/{p['id']}\"/><author><name>{escape(p['author'])}</name></author>"
            f"<updated>{_when(i).isoformat()}</updated><content type=\"text\">{escape(p['text'])}</content></entry>")
    doc = (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
           f"<title>{escape(title)}</title><id>urn:demo:{escape(title)}</id><updated>{BASE_TIME.isoformat()}</updated>"
           f"{''.join(entries)}</feed>")
    return doc.encode("utf-8")


def demo_routes(base: str) -> dict[str, Response]:
    posts = load_posts()
    by_feed = {f: [p for p in posts if p["feed"] == f] for f in TARGETS}
    return {
        "/feeds/waimai.xml": Response(rss(by_feed["waimai"], "快送外卖 · 用户评价", base),
                                      headers={"Content-Type": "application/rss+xml; charset=utf-8"}, etag=True),
        "/feeds/shopping.atom": Response(atom(by_feed["shopping"], "优选商城 · 商品评价", base),
                                         headers={"Content-Type": "application/atom+xml; charset=utf-8"}, etag=True),
        # Many Chinese sites still serve GBK/GB18030; the collector must decode it from the bytes.
        "/feeds/weibo-gb18030.xml": Response(rss(by_feed["weibo"], "微博 · 关键词 优选商城", base, "gb18030"),
                                             headers={"Content-Type": "application/rss+xml; charset=gb18030"}, etag=True),
    }


def demo_config(http_base: str, smtp_port: int, dashboard: str = "http://127.0.0.1:8080") -> dict:
    return {
        "timezone": "Asia/Shanghai",
        "base_url": dashboard,
        "watch": [{"name": "快送外卖", "aliases": ["快送"]}, {"name": "优选商城", "aliases": ["优选"]}],
        "sources": [
            {"name": "demo-waimai-reviews", "kind": "feed", "url": f"{http_base}/feeds/waimai.xml",
             "targets": ["快送外卖"], "schedule": "*/10 * * * *"},
            {"name": "demo-shopping-reviews", "kind": "feed", "url": f"{http_base}/feeds/shopping.atom",
             "targets": ["优选商城"], "schedule": {"every": "15m"}},
            {"name": "demo-weibo-keyword", "kind": "feed", "url": f"{http_base}/feeds/weibo-gb18030.xml",
             "targets": ["优选商城"], "schedule": {"every": "5m"}},
        ],
        "alerts": {"open_ticket_at": "important",
                   "routing": {"delivery": {"department": "物流部"}, "product": {"department": "品控部"},
                               "service": {"department": "客服中心"}, "after_sales": {"department": "售后部"}}},
        "notify": [{"name": "team-email", "kind": "email", "from": "repwatch@example.com",
                    "to": ["reputation-team@example.com"], "smtp": {"host": "127.0.0.1", "port": smtp_port}}],
    }


def run_demo(database_url: str | None, echo=print) -> int:
    from sqlalchemy import func, select

    from repwatch.config import parse_config
    from repwatch.pipeline import run_once
    from sentiment import Analyzer
    from storage import Database, default_url
    from storage.models import Analysis, Mention, Ticket
    from alerts import mention_text

    with LoopbackHTTPServer() as http, SMTPSink() as smtp:
        http.routes.update(demo_routes(http.url("")))
        config = parse_config(demo_config(http.url(""), smtp.port), "<demo config>")
        db = Database(database_url or default_url())
        echo(f"repwatch demo: feeds on {http.url('/feeds/')}, SMTP sink on 127.0.0.1:{smtp.port}, "
             f"database {db.safe_url}")
        echo("loading the sentiment models (SnowNLP and the domain model) ...")
        analyzer = Analyzer(config.analysis, config.targets())
        now = datetime.now(timezone.utc)
        for n in (1, 2):
            echo(f"\n== pass {n} ==")
            report = run_once(db, config, analyzer, now + timedelta(minutes=10 * (n - 1)))
            for source in report.sources:
                echo(f"  {source.line()}  [HTTP {source.http_status}]")
            ev = report.evaluation
            assert ev is not None and report.dispatch is not None   # run_once runs the alert stage
            echo(f"  analyzed {report.analyzed}; incidents +{ev.incidents_opened}; tickets +{ev.tickets_opened}; "
                 f"evidence attached {ev.attached}; emails sent {report.dispatch.sent}")

        with db.session() as s:
            mentions = s.scalar(select(func.count(Mention.id))) or 0
            negative = s.scalar(select(func.count(Analysis.id)).where(Analysis.negative.is_(True))) or 0
            complaints = s.scalar(select(func.count(Analysis.id)).where(Analysis.complaint.is_(True))) or 0
            tickets = list(s.scalars(select(Ticket).order_by(Ticket.priority, Ticket.id)))
            echo("\n== summary ==")
            echo(f"  mentions stored: {mentions}; negative: {negative} ({negative / max(mentions, 1):.0%}); "
                 f"complaints: {complaints}")
            echo(f"  tickets: {len(tickets)}")
            for t in tickets[:10]:
                echo(f"   #{t.id} [{t.severity}] {t.category or '-'} → {t.department or '-'}: {t.title[:50]}")
                posts = [s.get(Mention, link.mention_id) for link in t.incident.mentions]
                # the post the title comes from (the one that set the severity), else the first
                lead = next((m for m in posts if m is not None and mention_text(m)[:1000] == t.incident.title),
                            posts[0] if posts else None)
                if lead is not None:
                    # what raised it first (safety, regulator, ...), the ever-present company cues last
                    signals = sorted(t.incident.signals or [], key=lambda x: x.startswith(("company:", "intensity:")))
                    size = f"{len(posts)} post" + ("s" if len(posts) != 1 else "")
                    echo(f"        evidence: {lead.url} (of {size})  signals: {', '.join(signals[:4]) or '-'}")
        echo(f"  alert emails received by the loopback SMTP server: {len(smtp.messages)}")
        for msg in smtp.messages[:3]:
            echo(f"   - {msg['Subject']}")
        db.dispose()
    echo("\nNext:")
    echo("  repwatch tickets                      # the queue")
    echo("  repwatch ticket show 1                # evidence and audit trail")
    echo("  repwatch ticket assign 1 --to 王芳    # 责任到人")
    echo("  echo '{\"text\": \"快递三天没到，客服也不回复，我要投诉到12315\"}' | repwatch analyze")
    echo("  repwatch serve                        # the dashboard at http://127.0.0.1:8080 (admin password printed once)")
    day = BASE_TIME.astimezone(config.tz).date().isoformat()  # the day the demo's posts were published
    echo(f"  repwatch digest --date {day} --to you@example.com --out digest.eml   # that day's digest, not sent")
    echo("  repwatch check-config -c schedules.yaml")
    return 0
