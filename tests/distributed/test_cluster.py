"""Two `repwatch worker` processes, standing in for two machines, on the real RabbitMQ and PostgreSQL.

The expected incidents and tickets are not written down here: they are what the embedded mode
(in-process, SQLite) makes of the same loopback feeds, so the test also proves the modes agree."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from repwatch.distributed.enqueue import enqueue_run
from repwatch.pipeline import run_once
from storage import Database
from storage.models import Analysis, Mention, Source

from .conftest import WATCH, count, outcome, progress, settled, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def embedded_outcome(config, tmp_path) -> dict:
    from sentiment import Analyzer

    db = Database(f"sqlite:///{tmp_path / 'embedded.db'}")
    try:
        run_once(db, config, Analyzer(config.analysis, config.targets()), NOW)
        return {**outcome(db), "mentions": count(db, Mention)}
    finally:
        db.dispose()


def test_two_workers_share_fifty_sources_and_every_row_exists_once(cluster, serve_feeds, tmp_path):
    sources = serve_feeds(50, 6)
    # Small analyze batches make many analyze and alert tasks, so both workers interleave on every stage.
    config = cluster.configure({"watch": WATCH, "sources": sources, "distributed": {"analyze_batch": 10}})
    workers = cluster.workers
    workers.start("w1", "w2")

    report = enqueue_run(config, None, NOW)
    assert len(report.sources) == 50 and len(set(report.task_ids)) == 51   # and one alert task

    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        wait_until(lambda: settled(db, 300), timeout=180, what="300 mentions collected, analyzed and alerted",
                   detail=progress(db))
        assert count(db, Mention) == 300 and count(db, Analysis) == 300
        with db.session() as s:
            per_source = dict(s.execute(select(Source.name, func.count()).join(Mention).group_by(Source.name)).all())
        assert per_source == {src["name"]: 6 for src in sources}

        for name in ("w1", "w2"):   # both machines took part
            assert workers.done(name, "collect") + workers.done(name, "analyze") > 0, workers.log_text(name)[-3000:]
        assert workers.done("w1", "collect") + workers.done("w2", "collect") == 50

        got = outcome(db)
        expected = embedded_outcome(config, tmp_path)
        assert expected["mentions"] == 300
        assert got["incidents"] == expected["incidents"]
        assert got["incidents"], "the feeds hold complaints, so incidents are expected"
        # One ticket per incident, opened once, and no lost counter update under concurrency.
        assert all(tickets == 1 and counted == linked for counted, linked, tickets in got["incidents"].values())
        assert got["tickets"] == got["opened_events"] == len(got["incidents"]) == expected["tickets"]
    finally:
        db.dispose()
