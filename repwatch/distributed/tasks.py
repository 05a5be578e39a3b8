"""The four tasks: collect one source; analyze a batch of mentions; evaluate alerts; send one digest.

Each calls the same stage function the in-process run calls (repwatch/pipeline.py), so the two modes
cannot drift apart. Each is idempotent (upserts on natural keys, tickets keyed by incident, the
notification log), because RabbitMQ delivers at least once: a worker lost mid-task means a rerun.

Each task hands on the next stage's work only after its own transaction committed, and it derives
that work from the database, not from what it did itself: a task redelivered after a crash between
its commit and its enqueue finds the same pending mentions and enqueues them again."""
from __future__ import annotations

import logging
import random
import time
from datetime import date, datetime, timezone
from functools import wraps

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import exists, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from repwatch.distributed import worker_state
from repwatch.distributed.app import app
from repwatch.distributed.serialise import ALERTS_LOCK, coalesced, held
from storage.models import Analysis, CollectionRun, Mention, Source
from storage.writes import execute_dml

log = logging.getLogger("repwatch.distributed")
# Worth another try later: the database restarting or failing over, a deadlock or lock timeout
# (both OperationalError in psycopg), the broker unreachable while handing on work.
TRANSIENT = (OperationalError, InterfaceError, BrokerError, ConnectionError)
PENDING_LIMIT = 20_000   # ids handed on per collect task; the rest follow on the source's next run


def _when(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else datetime.now(timezone.utc)


def backoff(retries: int, cap: float) -> float:
    """Exponential with full jitter (1, 2, 4 … s, capped), so workers retrying together spread out."""
    return random.uniform(0, min(cap, 2.0 ** retries))


def retry_transient(fn):
    """Retry on TRANSIENT errors with the backoff and attempt budget from schedules.yaml, read at call
    time (Celery's own autoretry_for fixes them when the task is defined, before the config is read)."""

    @wraps(fn)
    def run(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except TRANSIENT as exc:
            settings = worker_state.get().config.distributed
            wait = backoff(self.request.retries, settings.retry_backoff_max.total_seconds())
            log.warning("%s: transient %s, retry %d in %.1fs", self.name, type(exc).__name__,
                        self.request.retries + 1, wait)
            raise self.retry(exc=exc, countdown=wait, max_retries=settings.max_retries)

    return run


def _log_done(stage: str, started: float, db_before: float, detail: str) -> None:
    st = worker_state.get()
    log.info("%s done in %.3fs (database %.3fs): %s", stage, time.monotonic() - started,
             st.db_seconds - db_before, detail)


@app.task(name="repwatch.collect", bind=True)
@retry_transient
def collect(self, source: str, now: str | None = None) -> dict:
    from repwatch.pipeline import collect_source, health_alerts

    st, started = worker_state.get(), time.monotonic()
    db_before, config = st.db_seconds, st.config
    try:
        source_cfg = config.source(source)
    except KeyError as exc:   # not retried: every machine must run the same schedules.yaml
        log.error("collect: %s; is this worker's schedules.yaml the scheduler's?", exc.args[0])
        return {"source": source, "status": "unknown source"}
    when = _when(now)
    if _paused(source):   # paused on the sources page after this task was enqueued: runs skip it until resumed
        log.info("collect: %s is paused; skipped", source)
        return {"source": source, "status": "paused"}
    if (self.request.delivery_info or {}).get("redelivered") or self.request.retries:
        close_abandoned_runs(source, when)   # an earlier attempt died or failed after opening its run
    report = collect_source(st.db, config, source_cfg, when)
    broken = health_alerts([report], config.base_url, config.tz)
    if broken:
        log_for_delivery(broken, when)
    batches = enqueue_pending_analysis(source)
    _log_done("collect", started, db_before, f"{report.line()}; {batches} analyze tasks")
    return {"source": source, "status": report.status, "new": report.new, "analyze_tasks": batches}


def _paused(source: str) -> bool:
    with worker_state.get().db.session() as s:
        return bool(s.scalar(select(Source.paused).where(Source.name == source)))


def log_for_delivery(alerts: list, now: datetime) -> None:
    """Put a broken source's alert in the notification log and let the alert stage send it. Sending
    here would also deliver whatever else is due, outside the alert stage's lock: two workers could
    then find one notification due at once."""
    from alerts import enqueue
    from storage.context import RunContext
    from repwatch.pipeline import build_notifiers

    config = worker_state.get().config
    with worker_state.get().db.session() as s:
        enqueue(s, alerts, build_notifiers(config), RunContext(now, config.tz, config.base_url), config.alerts.delivery)
    evaluate_alerts.apply_async()


def close_abandoned_runs(source: str, now: datetime) -> int:
    """A redelivered collect task means a worker died mid-run: its run row still says `running`.
    Say what happened, so health and the dashboard do not show a run that will never finish."""
    with worker_state.get().db.session() as s:
        return execute_dml(s,
            update(CollectionRun)
            .where(CollectionRun.status == "running",
                   CollectionRun.source_id == select(Source.id).where(Source.name == source).scalar_subquery())
            .values(status="failed", error_kind="worker_lost", finished_at=now,
                    error="the worker running this collection was lost; the task was redelivered and run again")
        ).rowcount


def enqueue_pending_analysis(source: str) -> int:
    st = worker_state.get()
    size = st.config.distributed.analyze_batch
    with st.db.session() as s:
        ids = list(s.scalars(
            select(Mention.id).join(Source, Source.id == Mention.source_id)
            .where(Source.name == source, ~exists().where(Analysis.mention_id == Mention.id))
            .order_by(Mention.id).limit(PENDING_LIMIT)))
    batches = [ids[i:i + size] for i in range(0, len(ids), size)]
    for batch in batches:
        analyze.apply_async(args=[batch])
    return len(batches)


@app.task(name="repwatch.analyze", bind=True)
@retry_transient
def analyze(self, mention_ids: list[int], now: str | None = None) -> dict:
    from repwatch.pipeline import analyze_pending

    st, started = worker_state.get(), time.monotonic()
    db_before, config = st.db_seconds, st.config
    analyzer = st.analyzer()
    scored = analyze_pending(st.db, analyzer, batch_size=max(1, len(mention_ids)), mention_ids=mention_ids,
                             source_targets={s.name: list(s.targets) for s in config.sources})
    # Alerts are evaluated even when this delivery scored nothing new: a first delivery may have
    # committed its analyses and died before handing them on.
    evaluate_alerts.apply_async(kwargs={"now": now})
    _log_done("analyze", started, db_before, f"{scored} of {len(mention_ids)} mentions scored")
    return {"requested": len(mention_ids), "scored": scored}


@app.task(name="repwatch.evaluate_alerts", bind=True)
@retry_transient
def evaluate_alerts(self, now: str | None = None) -> dict:
    """The alert stage for everything pending, one worker at a time across the cluster, and skipped
    when another evaluation already waits to run (serialise.py)."""
    from repwatch.pipeline import alert_stage

    st, started = worker_state.get(), time.monotonic()
    db_before, config = st.db_seconds, st.config
    with coalesced(st.db, ALERTS_LOCK, config.distributed.alerts_lock_timeout) as run:
        if not run:
            _log_done("alerts", started, db_before, "skipped: an evaluation already waits behind the running one")
            return {"skipped": True}
        evaluation, dispatch = alert_stage(st.db, config, _when(now))
    _log_done("alerts", started, db_before, f"{evaluation.incidents_opened} incidents, "
              f"{evaluation.tickets_opened} tickets opened, {dispatch.sent} notifications sent")
    return {"incidents_opened": evaluation.incidents_opened, "tickets_opened": evaluation.tickets_opened,
            "attached": evaluation.attached, "sent": dispatch.sent}


@app.task(name="repwatch.send_digest", bind=True)
@retry_transient
def send_digest(self, digest: str, day: str, recipients: list[str] | None = None, now: str | None = None) -> dict:
    """One digest for one local day (repwatch/digests.py builds and sends it). Every (date, recipient)
    is keyed in the notification log, so a redelivered task sends nothing twice."""
    from repwatch.digests import send_digest as build_and_send

    st, started = worker_state.get(), time.monotonic()
    db_before = st.db_seconds
    # Two deliveries of one digest (a redelivery racing a duplicate enqueue) must not both find a
    # recipient unsent: one at a time per digest and day.
    with held(st.db, f"repwatch:digest:{digest}:{day}", st.config.distributed.alerts_lock_timeout):
        outcomes = build_and_send(st.db, st.config, digest, date.fromisoformat(day), _when(now), only=recipients)
    statuses = [getattr(o, "status", "?") for o in outcomes or []]
    _log_done("digest", started, db_before, f"{digest} for {day}: {', '.join(statuses) or 'no recipients'}")
    return {"digest": digest, "day": day, "statuses": statuses}
