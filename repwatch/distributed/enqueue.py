"""The enqueuing side: what `repwatch run` and the scheduler call instead of working in-process.

Publishing retries while the broker is away (for `distributed.publish_retry_for`) and is confirmed
by RabbitMQ, so a broker restart delays scheduled work but does not lose it. Only names and dates
travel in messages; each worker reads sources, secrets and limits from its own schedules.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Optional

from repwatch.config import Config


@dataclass
class EnqueueReport:
    """What was handed to the broker. The work itself is reported by the workers and the database."""

    sources: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)     # chosen, but paused on the sources page: not enqueued

    def line(self) -> str:
        skipped = f" ({len(self.paused)} paused, skipped: {', '.join(self.paused)})" if self.paused else ""
        return (f"enqueued {len(self.sources)} collect tasks{skipped} and an alert evaluation; workers do the rest "
                "(their logs and `repwatch status` show progress)")


def _configured(config: Config):
    from repwatch.distributed.app import configure

    return configure(config.distributed)


def enqueue_run(config: Config, sources: list[str] | None, now: datetime,
                on_source: Callable[[str], None] | None = None, *, db=None) -> EnqueueReport:
    """One collect task per enabled source (all, or the named ones) that is not paused: an admin's pause
    on the sources page holds in distributed mode as in-process (pipeline.paused_sources, read from `db`;
    the worker checks again when the task runs, for a pause that came after the enqueue). Analysis and
    alerts follow as each collect task finishes, so one slow source never holds up the others' alerts."""
    _configured(config)
    from repwatch.distributed.tasks import collect, evaluate_alerts

    paused = set()
    if db is not None:
        from repwatch.pipeline import paused_sources

        paused = paused_sources(db)
    report = EnqueueReport()
    for source_cfg in config.sources:
        if not source_cfg.enabled or (sources is not None and source_cfg.name not in sources):
            continue
        if source_cfg.name in paused:
            report.paused.append(source_cfg.name)
            continue
        result = collect.apply_async(args=[source_cfg.name, now.isoformat()])
        report.sources.append(source_cfg.name)
        report.task_ids.append(result.id)
        if on_source:
            on_source(source_cfg.name)
    # The alert stage also has work of its own on every run, new mentions or not: notifications whose
    # group_wait or retry time came, SLA timers. Collect tasks trigger it again once they bring news.
    report.task_ids.append(evaluate_alerts.apply_async(kwargs={"now": now.isoformat()}).id)
    return report


@dataclass
class DigestEnqueued:
    """Stands where the in-process run reports a DigestOutcome: the worker sends, and logs the outcome."""

    digest: str
    day: date
    to: str
    status: str = "enqueued"

    def line(self) -> str:
        return f"digest {self.digest} {self.day:%Y-%m-%d} to {self.to}: enqueued"


def enqueue_digest(config: Config, digest: str, day: date, recipients: Optional[list[str]],
                   now: datetime) -> list[DigestEnqueued]:
    _configured(config)
    from repwatch.distributed.tasks import send_digest

    send_digest.apply_async(args=[digest, day.isoformat(), recipients, now.isoformat()])
    return [DigestEnqueued(digest, day, to) for to in (recipients if recipients is not None else ["all pending"])]


class CeleryExecutor:
    """The scheduler's executor seam (repwatch/executor.py) in distributed mode: the same calls as
    InProcessExecutor, answered by enqueuing."""

    def __init__(self, config: Config, db=None):
        self.config, self.db = config, db

    def run_sources(self, names: list[str], now: datetime, on_source=None) -> EnqueueReport:
        return enqueue_run(self.config, names, now, db=self.db)

    def send_digest(self, digest: str, day: date, recipients: Optional[list[str]], now: datetime) -> list[DigestEnqueued]:
        return enqueue_digest(self.config, digest, day, recipients, now)
