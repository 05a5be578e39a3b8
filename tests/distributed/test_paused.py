"""A source paused on the sources page is skipped in distributed mode as it is in-process: `repwatch run`,
`run --due` and the scheduler's executor do not enqueue it, and a worker that receives a collect task
enqueued before the pause does not collect it. Needs RabbitMQ and PostgreSQL (skips, saying so, without)."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from repwatch.distributed.enqueue import CeleryExecutor, enqueue_run
from storage import Database
from storage.models import CollectionRun, Source
from storage.writes import get_or_create_source

from .conftest import REPWATCH, count, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.postgres]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def set_paused(db: Database, name: str, kind: str, paused: bool) -> None:
    """What the sources page's pause and resume buttons store (repwatch/web/routes/admin.py)."""
    with db.session() as s:
        src = get_or_create_source(s, name, kind)
        src.paused, src.paused_by, src.paused_at = paused, "admin" if paused else None, NOW if paused else None


def declare_queues(config) -> None:
    """Declare the test's queues as a worker would, so the messages wait where they can be counted."""
    from repwatch.distributed.app import configure

    app = configure(config.distributed)
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue(conn.default_channel).declare()


def test_paused_sources_are_not_enqueued(cluster, serve_feeds):
    sources = serve_feeds(3, 1)
    config = cluster.configure({"sources": sources})
    names = [s["name"] for s in sources]
    declare_queues(config)
    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        set_paused(db, names[1], "feed", True)
        out = subprocess.run([REPWATCH, "run", "--due"], env=cluster.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"enqueued 2 collect tasks (1 paused, skipped: {names[1]})" in out.stdout
        assert cluster.queue_depths()["collect"] == 2
        # named on the command line, a paused source is still skipped
        out = subprocess.run([REPWATCH, "run", "--source", names[1]], env=cluster.env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 and "enqueued 0 collect tasks (1 paused" in out.stdout, out.stdout + out.stderr
        assert cluster.queue_depths()["collect"] == 2
        # the scheduler's executor (executor_for gives it the database)
        report = CeleryExecutor(config, db).run_sources(names, NOW)
        assert report.sources == [names[0], names[2]] and report.paused == [names[1]]
        assert cluster.queue_depths()["collect"] == 4
        # resumed: enqueued again
        set_paused(db, names[1], "feed", False)
        assert CeleryExecutor(config, db).run_sources(names, NOW).sources == names
        assert cluster.queue_depths()["collect"] == 7
    finally:
        db.dispose()


@pytest.mark.slow
def test_a_worker_skips_a_source_paused_after_its_task_was_enqueued(cluster, serve_feeds):
    sources = serve_feeds(2, 2)
    config = cluster.configure({"sources": sources})
    paused, running = sources[0]["name"], sources[1]["name"]
    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        enqueue_run(config, None, NOW)            # both enqueued (as if before the pause) ...
        set_paused(db, paused, "feed", True)      # ... then an admin pauses one, before a worker takes it
        cluster.workers.start("w", queues="collect", concurrency=1)
        wait_until(lambda: cluster.workers.done("w", "collect") == 1 and "is paused; skipped"
                   in cluster.workers.log_text("w"), timeout=90, what="one collection and one skip")
        with db.session() as s:
            ran = set(s.scalars(select(Source.name).join(CollectionRun, CollectionRun.source_id == Source.id)))
        assert ran == {running}
        assert count(db, CollectionRun) == 1
    finally:
        db.dispose()
