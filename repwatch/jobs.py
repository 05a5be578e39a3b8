"""The units of work both modes run, expressed as calls on an Executor.

`run_due` is cron mode's whole job and the daemon's catch-up; `run_source` and `run_digest` are what
the daemon's APScheduler jobs call. Each takes the run lock, so a daemon job, a cron run and a manual
`run --due` never overlap, whichever machine they are on."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional

from repwatch.clock import Clock
from repwatch.due import DigestDue, SourceDue, digest_due, due_digests, due_sources
from repwatch.executor import Executor
from repwatch.locks import RUN_LOCK, Lease, LeaseKeeper, LockInfo
from storage import Database

log = logging.getLogger("repwatch.jobs")


@dataclass
class DueReport:
    ran: list[str] = field(default_factory=list)          # sources run
    not_due: list[SourceDue] = field(default_factory=list)
    digests: list = field(default_factory=list)            # DigestOutcome per recipient
    run: object = None                                     # the pipeline's RunReport, in-process
    busy: Optional[LockInfo] = None                        # set when another run held the lock
    lost_lock: bool = False

    def summary(self) -> dict:
        return {"ran": self.ran, "not_due": len(self.not_due),
                "digests": [{"digest": o.digest, "day": o.day.isoformat(), "to": o.to, "status": o.status}
                            for o in self.digests if hasattr(o, "status")],
                "busy": self.busy.holder if self.busy else None}


class RunLockBusy(Exception):
    def __init__(self, info: Optional[LockInfo]):
        self.info = info
        super().__init__(f"another repwatch run holds the lock: {info.holder if info else 'unknown'}")


class locked_run:
    """`with locked_run(db, clock, lease): ...` holds the run lock, renewed from a thread, or raises RunLockBusy."""

    def __init__(self, db: Database, clock: Clock, lease: timedelta, *, lease_factory=Lease):
        self.lease = lease_factory(db, RUN_LOCK, clock, lease)
        self.keeper: Optional[LeaseKeeper] = None

    def __enter__(self) -> "locked_run":
        if not self.lease.acquire():
            raise RunLockBusy(self.lease.current())
        self.keeper = LeaseKeeper(self.lease).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        assert self.keeper is not None   # set by __enter__
        self.keeper.__exit__(*exc)
        self.lease.release()


def send_due(executor: Executor, due: DigestDue, now: datetime) -> list:
    if not due.due or due.day is None:   # pending recipients come with the day they are owed
        return []
    out = executor.send_digest(due.job.name, due.day, [r.to for r in due.pending], now)
    return list(out or [])


def run_due(db: Database, executor: Executor, clock: Clock, *, sources: bool = True, digests: bool = True,
            on_source: Optional[Callable] = None) -> DueReport:
    """Run what is due. The caller holds the run lock. The clock is read again before the digests,
    because collection may have taken minutes."""
    config = executor.config
    report = DueReport()
    if sources:
        states = due_sources(db, config, clock.now())
        report.ran = [s.name for s in states if s.due]
        report.not_due = [s for s in states if not s.due]
        if report.ran:
            kwargs = {"on_source": on_source} if on_source else {}
            report.run = executor.run_sources(report.ran, clock.now(), **kwargs)
    if digests:
        now = clock.now()
        for due in due_digests(db, config, now):
            report.digests += send_due(executor, due, now)
    return report


def run_source(db: Database, executor: Executor, clock: Clock, name: str) -> Optional[object]:
    """A daemon job: one source, if it is still due (the start-up catch-up may have run it since it fired).
    Skipped, not queued, when another run holds the lock: the next fire or the sweep picks it up."""
    from repwatch.due import last_runs, source_due

    config = executor.config
    source = next((s for s in config.sources if s.name == name and s.enabled), None)
    if source is None:
        return None
    try:
        with locked_run(db, clock, config.scheduler.lock_lease):
            now = clock.now()
            if not source_due(config, source, last_runs(db).get(name), now).due:
                log.info("source %s already ran since its fire time", name)
                return None
            return executor.run_sources([name], now)
    except RunLockBusy as busy:
        log.warning("source %s skipped: %s", name, busy)
        return None


def run_digest(db: Database, executor: Executor, clock: Clock, name: str) -> list:
    """A daemon job: one digest, for the day its latest fire time reports on, to whoever has not had it."""
    job = next((j for j in executor.config.digests if j.name == name), None)
    if job is None:
        return []
    try:
        with locked_run(db, clock, executor.config.scheduler.lock_lease):
            now = clock.now()
            return send_due(executor, digest_due(db, executor.config, job, now), now)
    except RunLockBusy as busy:
        log.warning("digest %s postponed to the retry sweep: %s", name, busy)
        return []


def catch_up(db: Database, executor: Executor, clock: Clock, *, sources: bool = True) -> Optional[DueReport]:
    """Everything due by the database's account: at start (after downtime, sources too) and from the
    sweep (digests only: missed, postponed or left for retry)."""
    try:
        with locked_run(db, clock, executor.config.scheduler.lock_lease):
            return run_due(db, executor, clock, sources=sources)
    except RunLockBusy as busy:
        log.warning("catch-up skipped: %s", busy)
        return None
