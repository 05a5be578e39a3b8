"""One pass of the pipeline: collect → analyze → alerts. Each stage is a plain function over a
database and plain records, so the same code runs in-process, from cron, or as a task."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import load_only, object_session

from collectors import CollectError, CollectResult, Problem, SourceState, get_collector
from collectors.health import HealthAlarm, alarm as health_alarm, record_outcome
from repwatch.config import Config, SourceConfig
from repwatch.runs import abandon_stale_runs, clean_message, prepare_result, problem_rows, store_error
from storage import Database
from storage.clean import cap
from storage.context import RunContext
from storage.models import Analysis, CollectionRun, ImportedFile, Mention, Source
from storage.trouble import is_database_trouble
from storage.writes import StoreResult, insert_ignore, insert_many_ignore, store_mentions

if TYPE_CHECKING:
    from alerts import Alert, DispatchReport, EvaluateReport, Notifier
    from sentiment import Analyzer

# The alert stage and the analyzer are imported where they are used, not here: a process that only
# collects (`repwatch collect`, a distributed collect worker, bench/collect.py) never loads them.

log = logging.getLogger("repwatch.pipeline")
# Fetched side by side within one run: the httpx-based kinds. Scrapy crawls (`web`) and local
# imports run one at a time in the calling thread.
PARALLEL_KINDS = frozenset({"feed", "rsshub", "json"})
STORE_BATCH = 50      # sources stored in one transaction at most


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


@dataclass
class _Collection:
    """One source's run between opening its row and storing what came back."""

    source_cfg: SourceConfig
    source_id: int
    run_id: int
    state: SourceState
    now: datetime
    report: SourceReport
    redact: Callable[[str], str]   # masks values from ${ENV} (a token in a feed URL) in stored messages
    fetch_seconds: float = 0.0


def collect_source(db: Database, config: Config, source_cfg: SourceConfig, now: datetime) -> SourceReport:
    """Collect one source. Never raises for source trouble: it is recorded on the run and in health.
    A failure to store what was collected (a value the database refuses) fails this source alone."""
    job = _open_run(db, config, source_cfg, now)
    return _close_run(db, job, *_fetch(config, job))


def collect_sources(db: Database, config: Config, chosen: list[SourceConfig], now: datetime,
                    on_source: Callable[[SourceReport], None] | None = None) -> list[SourceReport]:
    """Collect several sources. Feeds and JSON APIs are fetched side by side (http.concurrency in
    flight, http.per_host to one host), so a stuck one (a server trickling its answer until
    http.fetch_deadline) does not delay the others' fetches; results are stored in config order, from
    this thread, so database writes never race and the first source to carry a text stays its
    original, as in a one-by-one run. Results already fetched are stored together, up to STORE_BATCH
    sources in one transaction (one commit, their runs and sources updated in a few statements);
    a batch the database refuses is stored again one source at a time, so a bad source fails alone."""
    jobs = _open_runs(db, config, chosen, now)
    side_by_side = [job for job in jobs if job.source_cfg.kind in PARALLEL_KINDS]
    reports: list[SourceReport] = []
    with ThreadPoolExecutor(max_workers=max(1, min(config.http.concurrency, len(side_by_side))),
                            thread_name_prefix="collect") as pool:
        fetching = {id(job): pool.submit(_fetch, config, job) for job in side_by_side} if len(side_by_side) > 1 else {}
        ready: list[tuple[_Collection, CollectResult | None, CollectError | None]] = []
        for i, job in enumerate(jobs):
            future = fetching.get(id(job))
            ready.append((job, *(future.result() if future else _fetch(config, job))))
            following = fetching.get(id(jobs[i + 1])) if i + 1 < len(jobs) else None
            # store now rather than let fetched results wait behind a slow fetch or a crawl
            if following is None or not following.done() or len(ready) >= STORE_BATCH:
                for report in _close_runs(db, ready):
                    reports.append(report)
                    if on_source:
                        on_source(report)
                ready = []
    return reports


def _open_run(db: Database, config: Config, source_cfg: SourceConfig, now: datetime) -> _Collection:
    return _open_runs(db, config, [source_cfg], now)[0]


def _open_runs(db: Database, config: Config, chosen: list[SourceConfig], now: datetime) -> list[_Collection]:
    """Open a run for each source, in one transaction and a handful of statements whatever their
    number: the sources and their state are read once, missing ones created in one INSERT, runs a
    dead process left `running` closed in one UPDATE, and the new runs inserted together."""
    if not chosen:
        return []
    names = [cfg.name for cfg in chosen]
    with db.session() as s:
        sources = {src.name: src for src in s.scalars(select(Source).where(Source.name.in_(names)))}
        missing = [cfg for cfg in chosen if cfg.name not in sources]
        if missing:
            insert_many_ignore(s, Source, [{"name": cfg.name, "kind": cfg.kind, "state": {}, "error_counts": {}}
                                           for cfg in {c.name: c for c in missing}.values()], ["name"])
            sources.update((src.name, src) for src in s.scalars(
                select(Source).where(Source.name.in_([cfg.name for cfg in missing]))))
        for cfg in chosen:
            if sources[cfg.name].kind != cfg.kind:
                sources[cfg.name].kind = cfg.kind
        abandon_stale_runs(s, [src.id for src in sources.values()], now)
        opened = [(cfg, sources[cfg.name], run_id) for cfg, run_id in zip(chosen, _insert_runs(
            s, [sources[cfg.name].id for cfg in chosen], now))]
        jobs = [_job(db, config, cfg, source.id, run_id, now,
                     SourceState(now=now, etag=source.etag, last_modified=source.last_modified,
                                 cursor=dict(source.state or {})))
                for cfg, source, run_id in opened]
    return jobs


def _insert_runs(s, source_ids: list[int], now: datetime) -> list[int]:
    """New `running` runs for these sources, their ids in the same order. One INSERT … RETURNING when
    every source opens one run (the ids are matched by source): the ORM sends one INSERT per run on SQLite,
    to match generated ids to objects, which was most of a 304 pass's statements there."""
    rows = [dict(source_id=sid, started_at=now, status="running", problems=[]) for sid in source_ids]
    if len(set(source_ids)) == len(source_ids):
        returned = s.connection().execute(
            insert(CollectionRun).returning(CollectionRun.source_id, CollectionRun.id), rows)
        by_source = {sid: run_id for sid, run_id in returned}
        return [by_source[sid] for sid in source_ids]
    runs = [CollectionRun(**row) for row in rows]
    s.add_all(runs)
    s.flush()
    return [run.id for run in runs]


def _job(db: Database, config: Config, source_cfg: SourceConfig, source_id: int, run_id: int, now: datetime,
         state: SourceState) -> _Collection:
    def known_ids(external_ids: list[str]) -> set[str]:
        found: set[str] = set()
        with db.session() as ks:
            for k in range(0, len(external_ids), 500):
                found.update(ks.scalars(select(Mention.external_id).where(
                    Mention.source_id == source_id, Mention.external_id.in_(external_ids[k:k + 500]))))
        return found

    def is_imported(content_hash: str) -> bool:
        with db.session() as ks:
            return ks.scalar(select(exists().where(ImportedFile.source_id == source_id,
                                                   ImportedFile.content_hash == content_hash))) or False

    state.is_known = lambda external_id: bool(known_ids([external_id]))
    state.known_ids = known_ids
    state.is_imported = is_imported
    return _Collection(source_cfg, source_id, run_id, state, now, SourceReport(source_cfg.name, "running"),
                       config.redact)


def _fetch(config: Config, job: _Collection) -> tuple[CollectResult | None, CollectError | None]:
    """Run the collector and clean its result. Reads the database (is_known) but never writes it,
    so it may run in a worker thread."""
    source_cfg = job.source_cfg
    began = time.monotonic()
    try:
        collector = get_collector(source_cfg.kind)(source_cfg.name, source_cfg.options, config.http)
        result = collector.collect(job.state)
        prepare_result(result)
    except CollectError as exc:
        return None, exc
    except Exception as exc:  # a bug in one collector must not stop the other sources
        log.exception("collector %s crashed", source_cfg.name)
        return None, CollectError("internal", f"{type(exc).__name__}: {exc}")
    finally:
        job.fetch_seconds = time.monotonic() - began
    return result, None


def _close_runs(db: Database, batch: list[tuple[_Collection, CollectResult | None, CollectError | None]]
                ) -> list[SourceReport]:
    """Store several sources' outcomes in one transaction: their sources and runs read in one query,
    flushed once at the end (the ORM sends the runs' and sources' UPDATEs as a few executemany), one
    commit. Anything refused rolls the batch back, and each source is stored again on its own, where
    a refused item is found and skipped, or the source fails alone."""
    if len(batch) == 1:
        return [_close_run(db, *batch[0])]
    try:
        with db.session() as s, s.no_autoflush:
            loaded = _load_many(s, [job.run_id for job, _, _ in batch])
            for job, result, error in batch:
                source, run = loaded[job.run_id]
                started = time.monotonic() - job.fetch_seconds
                if error is None:
                    _store_result(s, source, run, result, job.report, job.source_cfg, job.now, started,
                                  job.redact, flush=False)
                else:
                    _record_failure(source, run, job, result, error, started)
            s.flush()
        return [job.report for job, _, _ in batch]
    except Exception as exc:
        if is_database_trouble(exc):
            raise
        log.warning("storing %d sources together failed (%s); storing them one at a time", len(batch),
                    str(exc).splitlines()[0][:200])
    return [_close_run(db, *item) for item in batch]


def _close_run(db: Database, job: _Collection, result: CollectResult | None,
               error: CollectError | None) -> SourceReport:
    # A source's time is its fetch plus its own storing, not the wait for a free thread or for the
    # sources stored before it.
    started = time.monotonic() - job.fetch_seconds
    source_cfg, report, now = job.source_cfg, job.report, job.now
    if error is None:
        assert result is not None   # a collection without an error has a result
        try:
            with db.session() as s:
                source, run = _load(s, job.source_id, job.run_id)
                _store_result(s, source, run, result, report, source_cfg, now, started, job.redact)
            return report
        except Exception as exc:  # the database refused a value: find which, keep the rest
            if is_database_trouble(exc):   # locked, full, read-only, gone: every write would fail (exit 3)
                raise
            try:
                stored = _store_one_by_one(db, job, result, exc)
                with db.session() as s:
                    source, run = _load(s, job.source_id, job.run_id)
                    _store_result(s, source, run, result, report, source_cfg, now, started, job.redact, stored)
                return report
            except Exception as again:   # not one item's fault: this source fails, the run goes on
                if is_database_trouble(again):
                    raise
                log.exception("storing source %s failed", source_cfg.name)
                error = store_error(again)
    with db.session() as s:
        source, run = _load(s, job.source_id, job.run_id)
        _record_failure(source, run, job, result, error, started)
    return report


def _record_failure(source: Source, run: CollectionRun, job: _Collection, result: CollectResult | None,
                    error: CollectError, started: float) -> None:
    report = job.report
    # a URL may hold a token from ${ENV}
    run.status, run.error_kind, run.error = "failed", error.kind, clean_message(job.redact(str(error)))
    run.http_status = error.http_status
    if result is not None:   # what the collector noticed still helps the person fixing it
        run.problems = problem_rows(result.problems, job.redact)
        run.failed_count = len([p for p in result.problems if not p.warning])
    report.status, report.error, report.http_status = "failed", run.error, error.http_status
    _finish(source, run, report, job.source_cfg, job.now, started, items_seen=None)


def _store_one_by_one(db: Database, job: _Collection, result: CollectResult, failure: Exception) -> StoreResult:
    """The database refused something in the batch: store each item in its own transaction, so only
    the refused ones are lost to this run. They become `store` problems, and the source keeps no new
    ETag/Last-Modified and records no import file as loaded, so the next run reads everything again
    and retries them (what was stored is recognised, never stored twice)."""
    log.warning("storing source %s as a batch failed (%s); storing item by item", job.source_cfg.name,
                str(failure).splitlines()[0][:200])
    total = StoreResult(new_ids=[])
    for item in result.items:
        try:
            with db.session() as s:
                source = s.get(Source, job.source_id)
                assert source is not None   # made before collecting
                stored = store_mentions(s, source, [item], job.now)
        except Exception as exc:
            if is_database_trouble(exc):
                raise
            result.problems.append(Problem("store", f"{store_error(exc).detail}; this item was skipped",
                                           f"item {item.external_id[:80]}"))
            result.etag = result.last_modified = None
            result.imported_files = []
            continue
        total.new += stored.new
        total.duplicates += stored.duplicates
        total.new_ids.extend(stored.new_ids or [])
    return total


def _load(s, source_id: int, run_id: int) -> tuple[Source, CollectionRun]:
    """A source and its run in one query."""
    return s.execute(select(Source, CollectionRun).join(CollectionRun, CollectionRun.source_id == Source.id)
                     .where(Source.id == source_id, CollectionRun.id == run_id)).one()


def _load_many(s, run_ids: list[int]) -> dict[int, tuple[Source, CollectionRun]]:
    """Several runs and their sources in one query, by run id."""
    return {run.id: (source, run) for source, run in s.execute(
        select(Source, CollectionRun).join(CollectionRun, CollectionRun.source_id == Source.id)
        .where(CollectionRun.id.in_(run_ids)))}


def _store_result(s, source: Source, run: CollectionRun, result, report: SourceReport, source_cfg: SourceConfig,
                  now: datetime, started: float, redact: Callable[[str], str],
                  stored: StoreResult | None = None, *, flush: bool = True) -> None:
    if stored is None:
        stored = store_mentions(s, source, result.items, now)
    for f in result.imported_files:   # same transaction as the rows: a file is never half-loaded
        insert_ignore(s, ImportedFile, dict(source_id=source.id, content_hash=f.content_hash,
                                            filename=cap(f.filename, 500)[0], rows_ok=f.rows_ok,
                                            rows_failed=f.rows_failed, imported_at=now),
                      ["source_id", "content_hash"])
    errors = [p for p in result.problems if not p.warning]
    run.new_count, run.duplicate_count = stored.new, stored.duplicates
    run.failed_count = len(errors)
    run.problems = problem_rows(result.problems, redact)
    run.http_status = result.http_status
    run.status = "not_modified" if result.not_modified else ("partial" if errors else "ok")
    # New validators are kept; on a 304 the stored ones stay unless the answer carried new ones, so a
    # collector need not hand back what it was given.
    if result.etag is not None:
        source.etag = result.etag
    if result.last_modified is not None:
        source.last_modified = result.last_modified
    if result.cursor is not None:
        source.state = result.cursor
    report.status, report.new, report.duplicates = run.status, stored.new, stored.duplicates
    report.failed, report.http_status = len(errors), result.http_status
    if flush:   # a refused value fails here, inside the error handling, not at commit time
        s.flush()   # (a batch flushes once at its end, inside its own error handling)
    _finish(source, run, report, source_cfg, now, started, items_seen=len(result.items))


def _finish(source: Source, run: CollectionRun, report: SourceReport, source_cfg: SourceConfig, now: datetime,
            started: float, *, items_seen: int | None) -> None:
    run.finished_at = now
    report.seconds = time.monotonic() - started
    run.duration_ms = int(report.seconds * 1000)
    report.health = record_outcome(source, run, now, items_seen=items_seen,
                                   expected_period=source_cfg.expected_period)
    if report.health != "ok":   # the alarm reads run history, this run included (unflushed in a batch)
        session = object_session(source)
        if session is not None:
            session.flush()
    report.alarm = health_alarm(source, now)


def health_alerts(reports: Iterable[SourceReport], base_url: str | None = None, tz=None) -> list[Alert]:
    """Broken sources, as alerts for the same notifiers as tickets. The key holds the episode start,
    so the notification log sends each broken episode once, and retries a failed delivery next run.
    Times are in the team's timezone `tz`, labelled."""
    from alerts import Alert
    from storage.timefmt import local_time

    out = []
    for r in reports:
        a = r.alarm
        if a is None:
            continue
        what = {"failures": f"failing ({a.consecutive_failures} runs in a row)",
                "zero_items": "returning no items", "silence": "silent"}[a.reason]
        out.append(Alert(
            key=a.key, kind="health", severity="important", title=f"数据源异常 Source {a.source} is {what}",
            summary=(f"{a.message}\nSince {local_time(a.since, tz)}; last success "
                     f"{local_time(a.last_success_at, tz)}." if a.last_success_at else
                     f"{a.message}\nSince {local_time(a.since, tz)}; no successful run yet."),
            url=f"{base_url.rstrip('/')}/sources" if base_url else None,
            figures={"source": a.source, "kind": a.kind, "health": a.health,
                     "errors": ", ".join(f"{k}×{v}" for k, v in sorted(a.error_counts.items())) or "-"}))
    return out


def analyze_pending(db: Database, analyzer: Analyzer, *, batch_size: int = 500, limit: int | None = None,
                    mention_ids: Iterable[int] | None = None, source_targets: dict[str, list[str]] | None = None) -> int:
    """Score stored mentions that have no Analysis yet. Idempotent: one Analysis per mention.

    `source_targets` names the watch targets a whole source is about (the reviews page of one store).
    A large backlog is read in batches big enough for the analyzer to spread over every core."""
    from repwatch.vectors import store_given
    from sentiment import TextIn

    done = 0
    source_targets = source_targets or {}
    fetch = analyzer.batch_hint(batch_size)
    while True:
        with db.session() as s:
            # only what the analyzer reads: not the raw item (JSON) and the rest of the row (issue 18)
            stmt = (select(Mention).options(load_only(Mention.text, Mention.title, Mention.rating,
                                                      Mention.author_followers, Mention.source_id, Mention.lang))
                    .where(~exists().where(Analysis.mention_id == Mention.id)).order_by(Mention.id).limit(fetch))
            if mention_ids is not None:
                stmt = stmt.where(Mention.id.in_(list(mention_ids)))
            mentions = list(s.scalars(stmt))
            names = dict(s.execute(select(Source.id, Source.name)).all()) if source_targets else {}
            if not mentions:
                return done
            results = analyzer.score([TextIn(text=m.text, title=m.title, rating=m.rating, lang=None,
                                             followers=m.author_followers, id=m.id) for m in mentions])
            # one INSERT for the batch, and one UPDATE per language for the mentions' `lang`
            rows = [dict(mention_id=m.id, lang=r.lang, sentiment=r.sentiment, snownlp=r.snownlp,
                         negative=r.negative, complaint=r.complaint, categories=r.categories,
                         severity=r.severity, signals=r.signals,
                         targets=list(dict.fromkeys(r.targets + source_targets.get(names.get(m.source_id, ""), []))),
                         model_version=r.model_version, **_learned(r)) for m, r in zip(mentions, results)]
            insert_many_ignore(s, Analysis, rows, ["mention_id"])
            store_given(s, mentions, results, [r["targets"] for r in rows])   # the analyzer's sentence vectors
            langs: dict[str, list[int]] = {}
            for m, r in zip(mentions, results):
                if m.lang is None and r.lang is not None:
                    langs.setdefault(r.lang, []).append(m.id)
            for lang, ids in langs.items():
                s.execute(update(Mention).where(Mention.id.in_(ids), Mention.lang.is_(None)).values(lang=lang)
                          .execution_options(synchronize_session=False))
            done += len(mentions)
        if limit is not None and done >= limit or mention_ids is not None:
            return done


def _learned(r) -> dict:
    """The learned models' complaint_score and per-category confidence, as `repwatch analyze` prints them
    (rounded to 4 places); both None when no model read the text."""
    out = r.contract()
    if r.complaint_score is None:
        return {"complaint_score": None, "confidence": None}
    return {"complaint_score": out["complaint_score"], "confidence": out["confidence"]}


def build_notifier(n) -> Notifier:
    from alerts import get_notifier

    return get_notifier(n.kind).from_config(n.name, n.options, min_severity=n.min_severity)


def build_notifiers(config: Config) -> list[Notifier]:
    wanted = set(config.alerts.notify) if config.alerts.notify is not None else None
    return [build_notifier(n) for n in config.notify if wanted is None or n.name in wanted]


def paused_sources(db: Database) -> set[str]:
    """Sources an admin paused on the sources page: every run skips them (`repwatch run`, --due, the
    scheduler's jobs, which all come through run_once) until they are resumed."""
    with db.session() as s:
        return set(s.scalars(select(Source.name).where(Source.paused.is_(True))))


def run_once(db: Database, config: Config, analyzer: Analyzer, now: datetime, *, sources: list[str] | None = None,
             on_source: Callable[[SourceReport], None] | None = None) -> RunReport:
    report = RunReport()
    paused = paused_sources(db)
    chosen = [s for s in config.sources if s.enabled and s.name not in paused
              and (sources is None or s.name in sources)]
    report.sources = collect_sources(db, config, chosen, now, on_source)
    report.analyzed = analyze_pending(db, analyzer, batch_size=config.analysis.batch_size,
                                      source_targets={s.name: list(s.targets) for s in config.sources})
    report.evaluation, report.dispatch = alert_stage(db, config, now,
                                                     extra=health_alerts(report.sources, config.base_url, config.tz))
    return report


def queue_alerts(session, config: Config, alerts: Iterable[Alert], now: datetime) -> DispatchReport:
    """Log alerts that a person's action caused (a ticket opened from the incidents page) in the
    notification log, in the caller's transaction: the same rows a pipeline run writes, so they are sent
    at least once - now by deliver_pending(), or by the next run if that fails or the process dies."""
    from alerts import enqueue

    return enqueue(session, list(alerts), build_notifiers(config), RunContext(now, config.tz, config.base_url),
                   config.alerts.delivery)


def deliver_due(*args, **kwargs) -> DispatchReport:
    """alerts.deliver_due, the one sending step (a name here so the alert stage loads alerts only when it runs)."""
    from alerts import deliver_due as send

    return send(*args, **kwargs)


def deliver_pending(db: Database, config: Config, now: datetime) -> DispatchReport:
    """Send whatever the notification log holds that is due (the pipeline's delivery step)."""
    with db.session() as s:
        return deliver_due(s, build_notifiers(config), now, config.alerts.delivery, commit=s.commit, tz=config.tz)


def alert_stage(db: Database, config: Config, now: datetime, *,
                extra: Sequence[Alert] = ()) -> tuple[EvaluateReport, DispatchReport]:
    """Evaluate, then notify (with `extra` alerts, e.g. source health): queue every alert in the
    notification log (each notifier gets those at or above its min_severity), then send everything due:
    new alerts, earlier retries, and alerts that waited for group_wait or the end of quiet hours.
    One function, so a run in-process and the distributed alerts task do the same thing."""
    from alerts import ConcurrentPass, EvaluateReport, alert_rows, enqueue, evaluate, use_tokenizer
    from repwatch.vectors import encode_pending
    from sentiment.complaint_model import tokenizer as analyzers_tokenizer

    use_tokenizer(analyzers_tokenizer())   # one jieba dictionary in the process, the analyzer's
    notifiers, policy = build_notifiers(config), config.alerts.delivery
    ctx = RunContext(now, config.tz, config.base_url)
    encode_pending(db, config)   # sentence vectors of the complaints about to be grouped (repwatch/vectors.py)
    try:
        with db.session() as s:
            evaluation = evaluate(s, config.alerts, ctx)
            # Logged in the transaction that opened the tickets: if the process dies after this commit
            # the alerts wait in the notification log as pending, and the next run sends them.
            queued = enqueue(s, evaluation.alerts + list(extra), notifiers, ctx, policy)
    except ConcurrentPass as exc:   # another run's alert stage did this work at the same time
        log.warning("%s", exc)
        with db.session() as s:
            evaluation = EvaluateReport()
            queued = enqueue(s, list(extra), notifiers, ctx, policy)
    with db.session() as s:
        # digests on these channels are the digest job's to send (alerts.notify.dispatch.digest_rows)
        report = queued + deliver_due(s, notifiers, now, policy, commit=s.commit, only=alert_rows(), tz=ctx.tz)
    return evaluation, report
