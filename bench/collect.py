"""Collection benchmark against loopback servers (not a test: figures for docs/collectors.md).

Phases, each through the real pipeline path (`collect_source`: fetch, parse, store in SQLite, health):
  1. feeds: 200 feed sources x 30 entries each, first run (everything new);
  2. 304 pass: the same 200 feeds again; every server answers 304 Not Modified (ETag);
  3. web: one review site of 50 pages x 10 reviews, crawled by Scrapy (politeness delays off:
     this measures repwatch and Scrapy, not the sleep a polite crawl adds on purpose);
  4. repeated crawls: 10 one-page crawls in the same process (per-crawl start-up cost).

The HTTP server runs in a child process, so its CPU and memory are not counted as the collector's.
Peak memory is the collector process's peak RSS (resource.getrusage) after each phase; with
--tracemalloc, also the peak of Python allocations per phase (slower; timings then include it).

    .venv/bin/python bench/collect.py [--feeds 200] [--entries 30] [--pages 50] [--tracemalloc] [--markdown]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEXTS = ["骑手态度恶劣，送餐晚了一个小时", "退款一直没处理，快一个月了", "手机经常死机，换了三次还是坏",
         "客服电话打不通，售后太差了", "结算金额超出预期，事先没告知", "味道不错，送得也快"]


def feed_xml(i: int, entries: int) -> bytes:
    items = "".join(f"<item><guid>f{i}-e{j}</guid><title>帖子 {i}-{j}</title><link>http://example.com/{i}/{j}</link>"
                    f"<description>{TEXTS[(i + j) % len(TEXTS)]}（{i}-{j}）</description>"
                    f"<pubDate>Mon, 23 Nov 2026 01:{j % 60:02d}:00 GMT</pubDate></item>" for j in range(entries))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>feed {i}</title>'
            f"<link>http://example.com/{i}</link><description>d</description>{items}</channel></rss>").encode()


def review_page(n: int, pages: int, per_page: int = 10) -> bytes:
    reviews = "".join(f'<div class="review" data-id="p{n}-{k}"><p class="text">{TEXTS[(n + k) % len(TEXTS)]}'
                      f'（第{n}页第{k}条）</p><span class="user">用户{k}</span><span class="likes">赞 {k}</span>'
                      f"<time>2026-11-20 10:{k:02d}</time></div>" for k in range(per_page))
    nxt = f'<a class="next" href="/reviews?page={n + 1}">下一页</a>' if n < pages else ""
    return f"<html><body>{reviews}{nxt}</body></html>".encode()


def serve(feeds: int, entries: int, pages: int) -> None:
    """Child process: the loopback site. Prints its port, then serves until stdin closes."""
    from urllib.parse import parse_qs

    from repwatch.loopback import LoopbackHTTPServer, Response

    routes = {f"/feed/{i}.xml": Response(feed_xml(i, entries), etag=True,
                                         headers={"Content-Type": "application/rss+xml"}) for i in range(feeds)}
    bodies = {n: review_page(n, pages) for n in range(1, pages + 1)}
    routes["/reviews"] = lambda req: Response(bodies[int(parse_qs(req.query).get("page", ["1"])[0])],
                                              headers={"Content-Type": "text/html; charset=utf-8"})
    routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n")
    with LoopbackHTTPServer(routes) as server:
        print(server.port, flush=True)
        sys.stdin.read()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB


class Phase:
    def __init__(self, name: str, use_tracemalloc: bool):
        self.name, self.use_tracemalloc = name, use_tracemalloc

    def __enter__(self):
        if self.use_tracemalloc:
            tracemalloc.start()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.traced_mib = None
        if self.use_tracemalloc:
            self.traced_mib = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        self.rss_mib = peak_rss_mib()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--entries", type=int, default=30)
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--crawls", type=int, default=10)
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.feeds, args.entries, args.pages)

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--feeds", str(args.feeds), "--entries",
                              str(args.entries), "--pages", str(args.pages)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        rows = run(args, f"http://127.0.0.1:{port}")
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    report(rows, args.markdown)


def run(args, base: str) -> list[dict]:
    from repwatch.config import parse_config
    from storage import Database

    fast = {"delay": 0, "autothrottle": False}
    sources = [{"name": f"feed-{i}", "kind": "feed", "url": f"{base}/feed/{i}.xml"} for i in range(args.feeds)]
    sources.append({"name": "reviews", "kind": "web", "start_urls": [f"{base}/reviews"], "item": "div.review",
                    "fields": {"id": "::attr(data-id)", "text": "p.text ::text", "author": ".user::text",
                               "likes": ".likes::text", "date": "time::text"},
                    "next_page": "a.next::attr(href)", "max_pages": args.pages, **fast})
    sources += [{"name": f"one-page-{k}", "kind": "web", "start_urls": [f"{base}/reviews?page={k + 1}"],
                 "item": "div.review", "fields": {"id": "::attr(data-id)", "text": "p.text ::text"},
                 "max_pages": 1, **fast} for k in range(args.crawls)]
    config = parse_config({"sources": sources}, "<bench>")
    now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        feeds = [s for s in config.sources if s.kind == "feed"]
        rows.append(measure(db, config, feeds, now, "feeds, first run", args))
        rows.append(measure(db, config, feeds, now + timedelta(minutes=5), "feeds, 304 pass", args))
        rows.append(measure(db, config, [config.source("reviews")], now, f"web, {args.pages} pages", args))
        crawls = [s for s in config.sources if s.name.startswith("one-page-")]
        rows.append(measure(db, config, crawls, now, f"web, {args.crawls} one-page crawls", args))
        db.dispose()
    return rows


def measure(db, config, sources, now, name: str, args) -> dict:
    from repwatch.pipeline import collect_source

    with Phase(name, args.tracemalloc) as phase:
        reports = [collect_source(db, config, s, now) for s in sources]
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} sources failed, e.g. {failed[0].error}")
    items = sum(r.new + r.duplicates for r in reports)
    return {"phase": name, "sources": len(sources), "items": items, "new": sum(r.new for r in reports),
            "statuses": sorted({r.status for r in reports}), "seconds": round(phase.seconds, 2),
            "items_per_s": round(items / phase.seconds, 1) if items else None,
            "ms_per_source": round(1000 * phase.seconds / len(sources), 1),
            "peak_rss_mib": round(phase.rss_mib, 1),
            "traced_peak_mib": round(phase.traced_mib, 1) if phase.traced_mib is not None else None}


def report(rows: list[dict], markdown: bool) -> None:
    if not markdown:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    cols = ["phase", "sources", "items", "new", "seconds", "items_per_s", "ms_per_source", "peak_rss_mib",
            "traced_peak_mib"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join("-" if row[c] is None else str(row[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
