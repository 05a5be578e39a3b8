"""Alert evaluation is one worker at a time across the cluster, so concurrent alert tasks open one
ticket per incident, keep every incident counter exact, and send each email once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from repwatch.config import parse_config
from repwatch.distributed.app import configure
from repwatch.distributed.serialise import ALERTS_LOCK, coalesced, hold_for_transaction, lock_id, scoped_key
from repwatch.loopback import SMTPSink
from repwatch.pipeline import analyze_pending, collect_source, run_once
from storage import Database
from storage.models import Notification

from .conftest import WATCH, assert_one_ticket_per_incident, count, pending_complaints, schema_url, wait_until

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def test_lock_ids_are_stable_signed_64_bit_keys():
    assert lock_id(ALERTS_LOCK) == lock_id("repwatch:alerts")
    assert lock_id("a") != lock_id("b")
    assert all(-2**63 <= lock_id(n) < 2**63 for n in ("a", "b", ALERTS_LOCK))


@pytest.mark.postgres
def test_a_second_transaction_waits_for_the_lock_and_times_out_as_a_transient_error(pg_url):
    db = Database(pg_url, auto_upgrade=False)
    try:
        with db.session() as holder:
            hold_for_transaction(holder, ALERTS_LOCK, timedelta(seconds=5))
            with pytest.raises(OperationalError, match="lock timeout"):
                with db.session() as contender:
                    hold_for_transaction(contender, ALERTS_LOCK, timedelta(milliseconds=200))
        # The holder's commit released it; a crashed holder's connection would have released it too.
        with db.session() as later:
            hold_for_transaction(later, ALERTS_LOCK, timedelta(milliseconds=200))
    finally:
        db.dispose()


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.slow
def settings(sources: list[dict], smtp_port: int) -> dict:
    return {"watch": WATCH, "sources": sources,
            "notify": [{"name": "team", "kind": "email", "from": "repwatch@example.com", "to": ["team@example.com"],
                        "smtp": {"host": "127.0.0.1", "port": smtp_port}}]}


def embedded_emails(data: dict, tmp_path) -> int:
    """The emails the embedded mode sends for the same posts, to its own SMTP sink."""
    from sentiment import Analyzer

    with SMTPSink() as smtp:
        config = parse_config(settings(data["sources"], smtp.port), "<embedded>")
        db = Database(f"sqlite:///{tmp_path / 'embedded.db'}")
        try:
            run_once(db, config, Analyzer(config.analysis, config.targets()), NOW)
        finally:
            db.dispose()
        return len(smtp.messages)


@pytest.mark.postgres
def test_deployments_in_other_schemas_of_one_database_do_not_share_locks(pg_url):
    mine, other = Database(pg_url, auto_upgrade=False), Database(schema_url("public"), auto_upgrade=False)
    try:
        with mine.session() as holder:
            hold_for_transaction(holder, ALERTS_LOCK, timedelta(seconds=5))
            with other.session() as neighbour:   # same name, same database, another schema: free
                hold_for_transaction(neighbour, ALERTS_LOCK, timedelta(milliseconds=200))
    finally:
        mine.dispose()
        other.dispose()


@pytest.mark.postgres
def test_a_burst_coalesces_into_the_running_evaluation_and_one_waiter(pg_url):
    db = Database(pg_url, auto_upgrade=False)
    outcomes: dict[str, bool] = {}

    def task(name: str) -> None:
        with coalesced(db, "burst", timedelta(seconds=20)) as run:
            outcomes[name] = run

    def someone_waits() -> bool:
        """Read pg_locks rather than try the lock: a probe holding it for an instant could turn the waiter away."""
        with db.session() as probe:
            key = scoped_key(probe, "burst:waiting") & 0xFFFF_FFFF_FFFF_FFFF
            return probe.scalar(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid::bigint = :hi AND objid::bigint = :lo"), {"hi": key >> 32, "lo": key & 0xFFFF_FFFF}) == 1

    try:
        with db.session() as running:
            hold_for_transaction(running, "burst", timedelta(seconds=5))    # an evaluation in progress
            waiter = threading.Thread(target=task, args=("waiter",), daemon=True)
            waiter.start()
            wait_until(someone_waits, timeout=20, what="the second task to queue behind the first")
            task("third")                  # arrives while one waits: nothing for it to do
            assert outcomes == {"third": False}
        waiter.join(timeout=20)            # the running one committed: the waiter runs
        assert outcomes == {"third": False, "waiter": True}
        task("later")                      # nobody running or waiting: runs at once
        assert outcomes["later"] is True
    finally:
        db.dispose()


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_alert_tasks_open_one_ticket_per_incident_and_email_once(cluster, serve_feeds, smtp, tmp_path):
    data = settings(serve_feeds(10, 6), smtp.port)
    config = cluster.configure(data)
    db = Database(cluster.db_url, auto_upgrade=False)
    try:
        # Collected and scored here, not alerted: the alert stage is what the workers race on.
        from sentiment import Analyzer

        for source_cfg in config.sources:
            collect_source(db, config, source_cfg, NOW)
        analyze_pending(db, Analyzer(config.analysis, config.targets()),
                        source_targets={s.name: list(s.targets) for s in config.sources})
        assert pending_complaints(db) > 0

        # Two machines, two processes each, and eight alert tasks at once: the four idle processes take
        # one each straight away (and race for the lock); the rest collapse into one waiting message.
        workers = cluster.workers
        workers.start("a1", "a2", queues="alerts", concurrency=2)
        configure(config.distributed)
        from repwatch.distributed.tasks import evaluate_alerts

        for _ in range(8):
            evaluate_alerts.apply_async(kwargs={"now": NOW.isoformat()})

        def all_done() -> bool:
            taken = sum(workers.received(w, "evaluate_alerts") for w in ("a1", "a2"))
            return taken >= 2 and taken == sum(workers.done(w, "alerts") for w in ("a1", "a2"))

        wait_until(all_done, timeout=90, what="every alert task taken to be done")
        assert pending_complaints(db) == 0
        assert_one_ticket_per_incident(db)
        assert workers.done("a1", "alerts") and workers.done("a2", "alerts"), "both machines evaluated"
        # The embedded mode, given the same posts, sends exactly as many emails: none was duplicated.
        assert len(smtp.messages) == embedded_emails(data, tmp_path) > 0
        assert count(db, Notification) == count(db, Notification, Notification.status == "sent")
    finally:
        db.dispose()
