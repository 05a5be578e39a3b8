"""What runs inside one worker process, many times: Scrapy crawls (no ReactorNotRestartable, no reactor
left behind), `repwatch run` enqueuing from the command line, and digests sent once per recipient."""
from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from repwatch.distributed.enqueue import CeleryExecutor
from repwatch.loopback import Response
from storage import Database
from storage.models import CollectionRun, Mention

from .conftest import REPWATCH, count, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
HTML = "text/html; charset=utf-8"


class Shop:
    """A review site on loopback: newest first, three reviews a page, a next-page link."""

    def __init__(self, server, name: str, reviews: int):
        self.server, self.name = server, name
        self.reviews = [f"{name}的外卖第{i}次送错了，客服也不处理" for i in range(reviews)]
        server.routes[f"/{name}/reviews"] = self.page

    def page(self, req) -> Response:
        n = int((req.query.partition("page=")[2] or "1"))
        newest_first = list(enumerate(self.reviews))[::-1]
        chunk = newest_first[(n - 1) * 3:n * 3]
        body = "".join(f'<div class="review" data-id="{self.name}-{i}"><p class="text">{t}</p></div>' for i, t in chunk)
        more = f'<a class="next" href="/{self.name}/reviews?page={n + 1}">下一页</a>' if n * 3 < len(self.reviews) else ""
        return Response(f"<html><body>{body}{more}</body></html>".encode(), headers={"Content-Type": HTML})

    def source(self) -> dict:
        return {"name": self.name, "kind": "web", "start_urls": [self.server.url(f"/{self.name}/reviews")],
                "item": "div.review", "fields": {"id": "::attr(data-id)", "text": "p.text ::text"},
                "next_page": "a.next::attr(href)", "max_pages": 5, "delay": 0, "autothrottle": False}


def finished_runs(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(CollectionRun.status).where(CollectionRun.status != "running")))


def test_web_crawls_run_again_and_again_in_one_worker_process(cluster, http_server):
    http_server.routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    shops = [Shop(http_server, f"shop{i}", reviews=5) for i in range(3)]
    config = cluster.configure({"http": {"read_timeout": "5s"}, "sources": [s.source() for s in shops]})
    # One process on the collect queue only: every crawl below runs in the same Python process.
    cluster.workers.start("crawler", queues="collect", concurrency=1)
    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        # First pass from the command line, as cron would run it in distributed mode.
        out = subprocess.run([REPWATCH, "-c", str(cluster.path), "run"], env=cluster.env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 and "enqueued 3 collect tasks" in out.stdout, out.stdout + out.stderr
        wait_until(lambda: len(finished_runs(db)) == 3, timeout=90, what="three crawls")
        for shop in shops:
            shop.reviews.append(f"{shop.name}又一次送错了，第二次投诉")
        CeleryExecutor(config).run_sources([s.name for s in shops], NOW)
        wait_until(lambda: len(finished_runs(db)) == 6, timeout=90, what="three more crawls")

        assert finished_runs(db) == ["ok"] * 6
        assert count(db, Mention) == 3 * 6
        log = cluster.workers.log_text("crawler")
        assert log.count("ForkPoolWorker-1] collect done") == 6, "all six crawls ran in the one worker process"
        assert "ForkPoolWorker-2" not in log and "Reactor" not in log
    finally:
        db.dispose()


def test_a_digest_enqueued_twice_is_sent_once_per_recipient(cluster, smtp):
    recipients = ["team@example.com", "manager@example.com"]
    config = cluster.configure({"digests": [{
        "name": "daily", "from": "repwatch@example.com", "recipients": recipients, "locale": "en",
        "smtp": {"host": "127.0.0.1", "port": smtp.port}}]})
    cluster.workers.start("mailer", queues="alerts", concurrency=2)
    executor = CeleryExecutor(config)
    day = date(2026, 11, 22)
    # A redelivery and a duplicate enqueue look alike to a worker: the same digest, day and recipients.
    first = executor.send_digest("daily", day, recipients, NOW)
    executor.send_digest("daily", day, recipients, NOW)
    assert [o.to for o in first] == recipients and {o.status for o in first} == {"enqueued"}
    wait_until(lambda: cluster.workers.done("mailer", "digest") == 2, timeout=90, what="both digest tasks")
    assert sorted(m["To"] for m in smtp.messages) == sorted(recipients)


def test_a_broken_source_is_announced_once_through_the_alert_stage(cluster, http_server, smtp):
    http_server.routes["/gone.xml"] = Response(b"not here", 404)
    config = cluster.configure({
        "sources": [{"name": "gone", "kind": "feed", "url": http_server.url("/gone.xml")}],
        "notify": [{"name": "team", "kind": "email", "from": "repwatch@example.com", "to": ["team@example.com"],
                    "smtp": {"host": "127.0.0.1", "port": smtp.port}}]})
    workers = cluster.workers
    workers.start("w", queues="collect,alerts", concurrency=1)
    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        for run in range(1, 5):   # failing from the third run on: one broken episode
            CeleryExecutor(config).run_sources(["gone"], NOW + timedelta(minutes=run))
            wait_until(lambda: len(finished_runs(db)) == run, timeout=60, what=f"failed run {run}")
        wait_until(lambda: cluster.queue_depths()["alerts"] == 0 and len(smtp.messages) >= 1
                   and workers.received("w", "evaluate_alerts") == workers.done("w", "alerts"),
                   timeout=60, what="every alert evaluation to be done")
        assert finished_runs(db) == ["failed"] * 4
        assert len(smtp.messages) == 1 and "gone" in smtp.messages[0]["Subject"]
    finally:
        db.dispose()
