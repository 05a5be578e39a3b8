"""One pass of the pipeline: collect → analyze → alerts. Each stage is a plain function over a
database and plain records, so the same code runs in-process, from cron, or as a task."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import exists, select

from alerts.dispatch import DispatchReport, deliver_due, enqueue
from alerts.evaluate import EvaluateReport, evaluate
from alerts.notify.base import Alert, Notifier
from alerts.notify.registry import get_notifier
from collectors import CollectError, SourceState, get_collector
from collectors.health import HealthAlarm, alarm as health_alarm, record_outcome
from repwatch.config import Config, SourceConfig
from sentiment import Analyzer, TextIn
from storage import Database
from storage.models import Analysis, CollectionRun, ImportedFile, Mention, Source
from storage.writes import get_or_create_source, insert_ignore, store_mentions

log = logging.getLogger("repwatch.pipeline")


@dataclass
class SourceReport:
    name: str
    status: str
    new: int = 0
    duplicates: int = 0
    failed: int = 0
    http_status: int | None = None
    error: str | None = None
    seconds: float = 0.0
    health: str | None = None
    alarm: HealthAlarm | None = None   # set when the source is broken; becomes a health alert

    def line(self) -> str:
        head = f"{self.name}: {self.status}"
        if self.status == "failed":
            return f"{head} - {self.error}"
        extra = f", {self.failed} problems" if self.failed else ""
        return f"{head}, {self.new} new, {self.duplicates} duplicates{extra} ({self.seconds:.2f}s)"


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    analyzed: int = 0
    evaluation: EvaluateReport | None = None
    dispatch: DispatchReport | None = None

    @property
    def new(self) -> int:
        return sum(s.new for s in self.sources)

    @property
    def failed_sources(self) -> list[SourceReport]:
        return [s for s in self.sources if s.status == "failed"]


def collect_source(db: Database, config: Config, source_cfg: SourceConfig, now: datetime) -> SourceReport:
    """Collect one source. Never raises for source trouble: it is recorded on the run and in health."""
    started = time.monotonic()
    with db.session() as s:
        source = get_or_create_source(s, source_cfg.name, source_cfg.kind)
        run = CollectionRun(source_id=source.id, started_at=now, status="running", problems=[])
        s.add(run)
        s.flush()
        run_id, source_id = run.id, source.id
        state = SourceState(now=now, etag=source.etag, last_modified=source.last_modified,
                            cursor=dict(source.state or {}))
    report = SourceReport(source_cfg.name, "running")

    def is_known(external_id: str) -> bool:
        with db.session() as ks:
            return ks.scalar(select(exists().where(Mention.source_id == source_id,
                                                   Mention.external_id == external_id))) or False

    def is_imported(content_hash: str) -> bool:
        with db.session() as ks:
            return ks.scalar(select(exists().where(ImportedFile.source_id == source_id,
                                                   ImportedFile.content_hash == content_hash))) or False

    state.is_known = is_known
    state.is_imported = is_imported
    result, error = None, None
    try:
        collector = get_collector(source_cfg.kind).from_config(source_cfg.name, source_cfg.options, http=config.http)
        result = collector.collect(state)
    except CollectError as exc:
        error = exc
    except Exception as exc:  # a bug in one collector must not stop the other sources
        log.exception("collector %s crashed", source_cfg.name)
        error = CollectError("internal", f"{type(exc).__name__}: {exc}")

    with db.session() as s:
        source = s.get(Source, source_id)
        run = s.get(CollectionRun, run_id)
        items_seen = None
        if error is not None:
            run.status, run.error_kind, run.error = "failed", error.kind, str(error)
            run.http_status = error.http_status
            report.status, report.error, report.http_status = "failed", str(error), error.http_status
        else:
            stored = store_mentions(s, source, result.items, now)
            for f in result.imported_files:   # same transaction as the rows: a file is never half-loaded
                insert_ignore(s, ImportedFile, dict(source_id=source.id, content_hash=f.content_hash,
                                                    filename=f.filename[:500], rows_ok=f.rows_ok,
                                                    rows_failed=f.rows_failed, imported_at=now),
                              ["source_id", "content_hash"])
            items_seen = len(result.items)
            run.new_count, run.duplicate_count = stored.new, stored.duplicates
            run.failed_count = len([p for p in result.problems if not p.warning])
            run.problems = [{"kind": p.kind, "message": str(p)} for p in result.problems[:100]]
            run.http_status = result.http_status
            errors = [p for p in result.problems if not p.warning]
            run.status = "not_modified" if result.not_modified else ("partial" if errors else "ok")
            if result.etag is not None or result.not_modified:
                source.etag = result.etag
            if result.last_modified is not None or result.not_modified:
                source.last_modified = result.last_modified
            if result.cursor is not None:
                source.state = result.cursor
            report.status, report.new, report.duplicates = run.status, stored.new, stored.duplicates
            report.failed, report.http_status = len(errors), result.http_status
        run.finished_at = now
        report.seconds = time.monotonic() - started
        run.duration_ms = int(report.seconds * 1000)
        report.health = record_outcome(source, run, now, items_seen=items_seen,
                                       expected_period=source_cfg.expected_period)
        report.alarm = health_alarm(source, now)
    return report


def health_alerts(reports: Iterable[SourceReport], base_url: str | None = None) -> list[Alert]:
    """Broken sources, as alerts for the same notifiers as tickets. The key holds the episode start,
    so the notification log sends each broken episode once, and retries a failed delivery next run."""
    out = []
    for r in reports:
        a = r.alarm
        if a is None:
            continue
        what = {"failures": f"failing ({a.consecutive_failures} runs in a row)",
                "zero_items": "returning no items", "silence": "silent"}[a.reason]
        out.append(Alert(
            key=a.key, kind="health", severity="important", title=f"数据源异常 Source {a.source} is {what}",
            summary=(f"{a.message}\nSince {a.since:%Y-%m-%d %H:%M} UTC; last success "
                     f"{a.last_success_at:%Y-%m-%d %H:%M} UTC." if a.last_success_at else
                     f"{a.message}\nSince {a.since:%Y-%m-%d %H:%M} UTC; no successful run yet."),
            url=f"{base_url.rstrip('/')}/sources" if base_url else None,
            figures={"source": a.source, "kind": a.kind, "health": a.health,
                     "errors": ", ".join(f"{k}×{v}" for k, v in sorted(a.error_counts.items())) or "-"}))
    return out


def analyze_pending(db: Database, analyzer: Analyzer, *, batch_size: int = 500, limit: int | None = None,
                    mention_ids: Iterable[int] | None = None, source_targets: dict[str, list[str]] | None = None) -> int:
    """Score stored mentions that have no Analysis yet. Idempotent: one Analysis per mention.

    `source_targets` names the watch targets a whole source is about (the reviews page of one store).
    A large backlog is read in batches big enough for the analyzer to spread over every core."""
    done = 0
    source_targets = source_targets or {}
    fetch = analyzer.batch_hint(batch_size)
    while True:
        with db.session() as s:
            stmt = (select(Mention).where(~exists().where(Analysis.mention_id == Mention.id))
                    .order_by(Mention.id).limit(fetch))
            if mention_ids is not None:
                stmt = stmt.where(Mention.id.in_(list(mention_ids)))
            mentions = list(s.scalars(stmt))
            names = dict(s.execute(select(Source.id, Source.name)).all()) if source_targets else {}
            if not mentions:
                return done
            results = analyzer.score([TextIn(text=m.text, title=m.title, rating=m.rating, lang=None,
                                             followers=m.author_followers, id=m.id) for m in mentions])
            for m, r in zip(mentions, results):
                insert_ignore(s, Analysis, dict(
                    mention_id=m.id, lang=r.lang, sentiment=r.sentiment, snownlp=r.snownlp, negative=r.negative,
                    complaint=r.complaint, categories=r.categories, severity=r.severity, signals=r.signals,
                    targets=list(dict.fromkeys(r.targets + source_targets.get(names.get(m.source_id), []))),
                    model_version=r.model_version), ["mention_id"])
                if m.lang is None:
                    m.lang = r.lang
            done += len(mentions)
        if limit is not None and done >= limit or mention_ids is not None:
            return done


def build_notifiers(config: Config) -> list[Notifier]:
    wanted = set(config.alerts.notify) if config.alerts.notify is not None else None
    out = []
    for n in config.notify:
        if wanted is None or n.name in wanted:
            notifier = get_notifier(n.kind).from_config(n.name, n.options, min_severity=n.min_severity)
            out.append(notifier)
    return out


def run_once(db: Database, config: Config, analyzer: Analyzer, now: datetime, *, sources: list[str] | None = None,
             on_source: Callable[[SourceReport], None] | None = None) -> RunReport:
    report = RunReport()
    chosen = [s for s in config.sources if s.enabled and (sources is None or s.name in sources)]
    for source_cfg in chosen:
        sr = collect_source(db, config, source_cfg, now)
        report.sources.append(sr)
        if on_source:
            on_source(sr)
    report.analyzed = analyze_pending(db, analyzer, batch_size=config.analysis.batch_size,
                                      source_targets={s.name: list(s.targets) for s in config.sources})
    report.evaluation, report.dispatch = alert_stage(db, config, now,
                                                     extra=health_alerts(report.sources, config.base_url))
    return report


def alert_stage(db: Database, config: Config, now: datetime, *,
                extra: list[Alert] = ()) -> tuple[EvaluateReport, DispatchReport]:
    """Evaluate, then notify (with `extra` alerts, e.g. source health): queue every alert in the
    notification log (each notifier gets those at or above its min_severity), then send everything due:
    new alerts, earlier retries, and alerts that waited for group_wait or the end of quiet hours.
    One function, so a run in-process and the distributed alerts task do the same thing."""
    notifiers, policy = build_notifiers(config), config.alerts.delivery
    report = DispatchReport()
    with db.session() as s:
        evaluation = evaluate(s, config.alerts, now, config.base_url, tz=config.timezone)
        # Logged in the transaction that opened the tickets: if the process dies after this commit
        # the alerts wait in the notification log as pending, and the next run sends them.
        enqueue(s, evaluation.alerts + list(extra), notifiers, now, policy, config.tz, report)
    with db.session() as s:
        deliver_due(s, notifiers, now, policy, report, commit=s.commit)
    return evaluation, report
