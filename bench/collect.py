"""Collection benchmark against loopback servers (not a test: figures for README and docs/collectors.md).

Phases, each through the real pipeline path (`collect_sources`: fetch side by side, parse, store, health):
  1. feeds: 200 feed sources x 30 Chinese entries each, first run (everything new);
  2. 304 pass: the same 200 feeds again; every server answers 304 Not Modified (ETag);
  on SQLite, and on PostgreSQL with --pg URL (a private schema, dropped afterwards);
  with --latency 0.05 the server waits 50 ms before every answer (a far-away server; the wait is
  per request, so connection set-up is not slowed: a lower bound on real latency's cost);
  with --hosts N the feeds are spread over N loopback hosts (127.0.0.1 … 127.0.0.N, feed i on host
  i mod N), as real sources are spread over many servers; by default all are on one host, where
  http.per_host (8) bounds how many are fetched at once;
  with --web: a Scrapy review site of 50 pages x 10 reviews, and 10 one-page crawls.
The database is created and migrated by a child process first, as `repwatch` finds it in production
(a migration is a one-off, not part of a collection run's memory or time).

Per phase: wall seconds, CPU seconds of this process (time.process_time: every thread; the server is a
child process and is not counted), items/s of CPU and of wall time, SQL statements per item (counted
with SQLAlchemy's before_cursor_execute event), peak RSS. With --reader PYTHON, the same feeds are
also collected by `reader` (a feed library, installed in a separate environment: PYTHON is that
environment's interpreter; see bench/reader_peer.py), side by side in the same run.

    .venv/bin/python bench/collect.py [--feeds 200] [--entries 30] [--pg URL] [--latency 0.05]
        [--hosts 25] [--reader /tmp/venv/bin/python] [--reader-workers 8] [--per-host 16] [--concurrency 16] [--web] [--markdown]
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
from contextlib import contextmanager
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

def serve(feeds: int, entries: int, pages: int, latency: float, hosts: int) -> None:
    """Child process: the loopback site on `hosts` loopback addresses. Prints their base URLs (JSON),
    then serves until stdin closes."""
    import threading

    from urllib.parse import parse_qs

    from repwatch.loopback import LoopbackHTTPServer, Response

    routes = {f"/feed/{i}.xml": Response(feed_xml(i, entries), etag=True, delay=latency,
                                         headers={"Content-Type": "application/rss+xml"}) for i in range(feeds)}
    bodies = {n: review_page(n, pages) for n in range(1, pages + 1)}
    routes["/reviews"] = lambda req: Response(bodies[int(parse_qs(req.query).get("page", ["1"])[0])],
                                              headers={"Content-Type": "text/html; charset=utf-8"})
    routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n")
    servers = [LoopbackHTTPServer(routes, host=f"127.0.0.{h + 1}").start() for h in range(hosts)]
    for server in servers:
        server.requests = _Discard()   # the log of requests would grow the server for nothing
    print(json.dumps([server.url("") for server in servers]), flush=True)
    sys.stdin.read()
    # side by side: each stop waits up to half a second for its server's loop
    stopping = [threading.Thread(target=server.stop) for server in servers]
    for t in stopping:
        t.start()
    for t in stopping:
        t.join()


class _Discard(list):
    def append(self, item) -> None:
        pass


def peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec (a child would report its parent's peak)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phase:
    """Wall and CPU seconds, SQL statements and peak memory of one phase."""

    def __init__(self, name: str, engine, use_tracemalloc: bool):
        self.name, self.engine, self.use_tracemalloc = name, engine, use_tracemalloc
        self.statements = 0

    def _count(self, *args) -> None:
        self.statements += 1

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._count)
        if self.use_tracemalloc:
            tracemalloc.start()
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_started
        event.remove(self.engine, "before_cursor_execute", self._count)
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
    ap.add_argument("--hosts", type=int, default=1, help="loopback hosts the feeds are spread over")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before each feed answer")
    ap.add_argument("--pg", help="also on this PostgreSQL server (a private schema, dropped afterwards)")
    ap.add_argument("--reader", help="python of an environment with `reader` installed: collect the same feeds")
    ap.add_argument("--reader-workers", type=int, default=1)
    ap.add_argument("--per-host", type=int, help="http.per_host (default 8: every bench feed is on one host)")
    ap.add_argument("--concurrency", type=int, help="http.concurrency (default 16)")
    ap.add_argument("--only", choices=["first", "304"], help=argparse.SUPPRESS)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--web", action="store_true", help="also the Scrapy phases")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.feeds, args.entries, args.pages, args.latency, args.hosts)

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--feeds", str(args.feeds), "--entries",
                              str(args.entries), "--pages", str(args.pages), "--latency", str(args.latency), "--hosts", str(args.hosts)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        bases = json.loads(child.stdout.readline())
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                rows += run(args, bases, migrated(f"sqlite:///{tmp}/bench.db"), "SQLite")
        if args.pg:
            with pg_schema(args.pg) as url:
                rows += run(args, bases, migrated(url), "PostgreSQL")
        if args.reader:
            rows += run_reader(args, bases)
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    report(rows, args.markdown)


@contextmanager
def pg_schema(url: str):
    """A private schema, dropped afterwards (as storage.pgschema.private_schema, migrated by `migrated`)."""
    import uuid

    from sqlalchemy import create_engine, text

    from storage.pgschema import schema_url

    schema = f"rw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(schema_url(url, "public"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def migrated(url: str) -> str:
    subprocess.run([sys.executable, "-c", "import sys; from storage import Database; Database(sys.argv[1]).dispose()",
                    url], check=True, cwd=Path(__file__).resolve().parents[1])
    return url


def run(args, bases: list[str], url: str, backend: str) -> list[dict]:
    from repwatch.config import parse_config
    from storage import Database

    fast = {"delay": 0, "autothrottle": False}
    base = bases[0]
    sources = [{"name": f"feed-{i}", "kind": "feed", "url": f"{bases[i % len(bases)]}/feed/{i}.xml"}
               for i in range(args.feeds)]
    sources.append({"name": "reviews", "kind": "web", "start_urls": [f"{base}/reviews"], "item": "div.review",
                    "fields": {"id": "::attr(data-id)", "text": "p.text ::text", "author": ".user::text",
                               "likes": ".likes::text", "date": "time::text"},
                    "next_page": "a.next::attr(href)", "max_pages": args.pages, **fast})
    sources += [{"name": f"one-page-{k}", "kind": "web", "start_urls": [f"{base}/reviews?page={k + 1}"],
                 "item": "div.review", "fields": {"id": "::attr(data-id)", "text": "p.text ::text"},
                 "max_pages": 1, **fast} for k in range(args.crawls)]
    http = {k: v for k, v in (("per_host", args.per_host), ("concurrency", args.concurrency)) if v}
    config = parse_config({"sources": sources, **({"http": http} if http else {})}, "<bench>")
    now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    rows = []
    db = Database(url)
    feeds = [s for s in config.sources if s.kind == "feed"]
    rows.append(measure(db, config, feeds, now, "first pass", backend, args))
    rows.append(measure(db, config, feeds, now + timedelta(minutes=5), "304 pass", backend, args))
    if args.web:
        rows.append(measure(db, config, [config.source("reviews")], now, f"web, {args.pages} pages", backend, args))
        crawls = [s for s in config.sources if s.name.startswith("one-page-")]
        rows.append(measure(db, config, crawls, now, f"web, {args.crawls} one-page crawls", backend, args))
    db.dispose()
    return rows


def measure(db, config, sources, now, name: str, backend: str, args) -> dict:
    from repwatch.pipeline import collect_sources

    with Phase(name, db.engine, args.tracemalloc) as phase:
        reports = collect_sources(db, config, sources, now)
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} sources failed, e.g. {failed[0].error}")
    items = sum(r.new + r.duplicates for r in reports)
    return row("repwatch", backend, name, len(sources), items, sum(r.new for r in reports), phase.seconds,
               phase.cpu, phase.statements, phase.rss_mib, args.latency)


def row(tool, backend, name, sources, items, new, seconds, cpu, statements, rss, latency) -> dict:
    return {"tool": tool, "db": backend, "phase": name, "latency_ms": round(latency * 1000), "sources": sources,
            "items": items, "new": new, "wall_s": round(seconds, 2), "cpu_s": round(cpu, 2),
            "items_per_cpu_s": round(new / cpu) if new and cpu else None,
            "items_per_wall_s": round(new / seconds) if new and seconds else None,
            "cpu_ms_per_source": round(1000 * cpu / sources, 2),
            "wall_ms_per_source": round(1000 * seconds / sources, 2),
            "statements": statements,
            "statements_per_item": round(statements / new, 3) if statements is not None and new else None,
            "statements_per_source": round(statements / sources, 1) if statements is not None else None,
            "peak_rss_mib": round(rss, 1)}


def run_reader(args, bases: list[str]) -> list[dict]:
    """The same feeds through `reader`, in its own environment (not a repwatch dependency)."""
    out = subprocess.run([args.reader, str(Path(__file__).with_name("reader_peer.py")), ",".join(bases), str(args.feeds),
                          str(args.reader_workers)], capture_output=True, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines():
        r = json.loads(line)
        rows.append(row(f"reader {r['version']} ({args.reader_workers} worker{'s' if args.reader_workers > 1 else ''})",
                        "SQLite", r["phase"], args.feeds, r["items"], r["new"], r["wall"], r["cpu"], None,
                        r["rss"], args.latency))
    return rows


COLUMNS = ["tool", "db", "phase", "latency_ms", "sources", "new", "wall_s", "cpu_s", "items_per_cpu_s",
           "items_per_wall_s", "cpu_ms_per_source", "wall_ms_per_source", "statements_per_item", "statements_per_source",
           "peak_rss_mib"]


def report(rows: list[dict], markdown: bool) -> None:
    if not markdown:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in rows:
        print("| " + " | ".join("-" if r[c] is None else str(r[c]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
