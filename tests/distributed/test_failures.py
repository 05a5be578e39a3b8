"""Failures a cluster must survive with exact counts: a machine lost mid-task, the broker away for a moment."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from repwatch.distributed.enqueue import enqueue_run
from repwatch.loopback import Response
from storage import Database
from storage.models import CollectionRun, Mention, Source

from .conftest import (WATCH, assert_one_ticket_per_incident, broker_answers, count, progress, rss, settled,
                       source_posts, wait_until)

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def per_source(db: Database) -> dict[str, int]:
    with db.session() as s:
        return dict(s.execute(select(Source.name, func.count()).join(Mention).group_by(Source.name)).all())


def test_worker_killed_mid_task_is_redelivered_and_counts_stay_exact(cluster, serve_feeds, http_server):
    arrived, release, calls = threading.Event(), threading.Event(), []

    def slow_feed(request):
        calls.append(request)
        if len(calls) == 1:      # the first worker is SIGKILLed while it waits for this answer
            arrived.set()
            release.wait(15)
        return Response(rss(source_posts(99, 6)))

    http_server.routes["/slow.xml"] = slow_feed
    sources = [{"name": "slow", "kind": "feed", "url": http_server.url("/slow.xml")}, *serve_feeds(8, 6)]
    config = cluster.configure({"watch": WATCH, "sources": sources})
    workers = cluster.workers
    workers.start("doomed")
    enqueue_run(config, None, NOW)
    assert arrived.wait(60), "the first worker never fetched the slow feed"
    workers.kill("doomed")       # mid-task: its message is unacknowledged, so RabbitMQ gives it back
    release.set()
    workers.start("survivor")

    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        wait_until(lambda: settled(db, 54), timeout=120, what="54 mentions collected, analyzed and alerted",
                   detail=progress(db))
        assert len(calls) == 2, "the slow source was fetched again after the kill"
        assert per_source(db) == {s["name"]: 6 for s in sources}
        assert count(db, Mention) == 54
        assert_one_ticket_per_incident(db)
        with db.session() as s:
            runs = s.execute(select(CollectionRun.status, CollectionRun.error_kind).join(Source)
                             .where(Source.name == "slow").order_by(CollectionRun.id)).all()
        assert [tuple(r) for r in runs] == [("failed", "worker_lost"), ("ok", None)]
        assert workers.done("survivor", "collect") >= 1
    finally:
        db.dispose()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture
def broker_control(broker_url):
    """Stop and start the RabbitMQ application; whatever happens, it is running again afterwards."""
    if not shutil.which("rabbitmqctl"):
        pytest.skip("rabbitmqctl is not on PATH, so the broker cannot be stopped for this test")
    yield rabbitmqctl
    if broker_answers(broker_url) is not None:
        rabbitmqctl("start_app")
    wait_until(lambda: broker_answers(broker_url) is None, timeout=60, interval=0.5, what="RabbitMQ to answer again")


def test_broker_outage_delays_scheduled_work_but_loses_none(cluster, serve_feeds, http_server, broker_control):
    sources = serve_feeds(12, 6)
    for i in range(12):   # slow enough that work is queued and in flight when the broker stops
        http_server.routes[f"/src{i}.xml"].delay = 0.3
    config = cluster.configure({"watch": WATCH, "sources": sources})
    workers = cluster.workers
    workers.start("w1")
    first, second = [s["name"] for s in sources[:6]], [s["name"] for s in sources[6:]]
    enqueue_run(config, first, NOW)
    wait_until(lambda: workers.done("w1", "collect") >= 1, timeout=60, what="the first collection")

    broker_control("stop_app")
    outcome_box: dict = {}

    def publish_while_down():
        try:
            outcome_box["report"] = enqueue_run(config, second, NOW)
        except Exception as exc:  # reported below; the thread must not die silently
            outcome_box["error"] = exc

    publisher = threading.Thread(target=publish_while_down, daemon=True)
    try:
        publisher.start()
        time.sleep(2)             # the broker stays away for a moment while the publisher retries
        assert broker_answers(cluster.broker) is not None, "the broker was meant to be down"
        assert "report" not in outcome_box, "publishing cannot succeed while the broker is down"
    finally:
        broker_control("start_app")
    wait_until(lambda: broker_answers(cluster.broker) is None, timeout=60, interval=0.5, what="RabbitMQ back")
    publisher.join(timeout=120)
    assert not publisher.is_alive(), "the publisher never finished"
    assert "error" not in outcome_box, outcome_box.get("error")
    assert outcome_box["report"].sources == second

    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        wait_until(lambda: settled(db, 72), timeout=150, what="72 mentions after the broker came back",
                   detail=progress(db))
        assert per_source(db) == {s["name"]: 6 for s in sources}
        assert_one_ticket_per_incident(db)
    finally:
        db.dispose()
