"""`repwatch scheduler`: one long-running process on APScheduler 3.11.

- Jobs come from schedules.yaml: one per source, one per digest, a digest sweep and a heartbeat.
  Every job has coalesce=True (a backlog of missed fire times runs once), max_instances=1 and an
  explicit misfire grace time; APScheduler's defaults (coalesce off, 1 s grace) would pile up or drop runs.
- Work runs on a single worker thread: jobs queue instead of overlapping, and SQLite has one writer
  anyway. The heartbeat has its own thread so a long collection never makes the process look dead.
- Jobs call an Executor (repwatch/executor.py): in-process now, a queue later (distributed mode).
- SIGHUP reloads schedules.yaml; an invalid file is reported and the running jobs are kept.
- SIGTERM/SIGINT: queued work is dropped, the running job finishes, then the process exits. A second
  signal exits at once; every database write is a transaction, so abandoned work leaves nothing half-written.
- Only one scheduler may run (two would double-fire): it holds the `scheduler` lock, renewed by the heartbeat.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from repwatch.clock import Clock, SystemClock
from repwatch.config import Config, load_config
from repwatch.exceptions import ConfigError, RepwatchError
from repwatch.executor import Executor
from repwatch.heartbeat import SCHEDULER, beat
from repwatch.jobs import catch_up, run_digest, run_source
from repwatch.locks import SCHEDULER_LOCK, Lease
from repwatch.schedule import Schedule, build_trigger
from storage import Database

log = logging.getLogger("repwatch.scheduler")
SWEEP_EVERY = timedelta(minutes=5)
WORK, BEAT = "default", "heartbeat"   # APScheduler executor aliases


class SchedulerAlreadyRunning(RepwatchError):
    pass


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable
    args: tuple
    trigger: object
    misfire_grace_time: int
    executor: str = WORK


def build_scheduler(config: Config, scheduler_class=None, pool=None):
    """`scheduler_class` and `pool` (an executor factory) let tests drive jobs synchronously."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    cls = scheduler_class or BackgroundScheduler
    pool = pool or ThreadPoolExecutor
    return cls(timezone=config.tz,
               executors={WORK: pool(1), BEAT: pool(1)},
               job_defaults={"coalesce": True, "max_instances": 1,
                             "misfire_grace_time": int(config.scheduler.misfire_grace_time.total_seconds())})


class Daemon:
    def __init__(self, config_path: str, db: Database, executor_factory: Callable[[Database, Config], Executor], *,
                 clock: Clock | None = None, scheduler_class=None, pool=None,
                 load: Callable[[str], Config] = load_config):
        self.config_path, self.db, self.clock, self.load = config_path, db, clock or SystemClock(), load
        self.config = load(config_path)
        self.executor = executor_factory(db, self.config)
        self.scheduler = build_scheduler(self.config, scheduler_class, pool)
        self.lease = Lease(db, SCHEDULER_LOCK, self.clock, self.config.scheduler.lock_lease)
        self.started_at: Optional[datetime] = None
        self.last_reload: dict = {}
        self.state = "starting"
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._signals = 0
        self.catch_up_at_start = True

    # jobs -----------------------------------------------------------------------------------------
    def job_specs(self, config: Config) -> list[JobSpec]:
        from apscheduler.triggers.interval import IntervalTrigger

        grace = int(config.scheduler.misfire_grace_time.total_seconds())
        now = self.clock.now()   # interval grids of our own jobs start from our clock, not APScheduler's
        specs = []
        for source in config.sources:
            if source.enabled:
                schedule: Schedule = source.schedule or config.scheduler.default_schedule
                specs.append(JobSpec(f"source:{source.name}", self._guarded(run_source), (source.name,),
                                     build_trigger(schedule, config.timezone), grace))
        for job in config.digests:
            specs.append(JobSpec(f"digest:{job.name}", self._guarded(run_digest), (job.name,),
                                 build_trigger(job.schedule, config.timezone),
                                 int(job.misfire_grace_time.total_seconds())))
        if config.digests:
            specs.append(JobSpec("sweep", self._guarded(self._sweep), (),
                                 IntervalTrigger(seconds=SWEEP_EVERY.total_seconds(), start_date=now + SWEEP_EVERY,
                                                 timezone=config.tz), grace))
        every = config.scheduler.heartbeat_every
        specs.append(JobSpec("heartbeat", self.heartbeat, (),
                             IntervalTrigger(seconds=every.total_seconds(), start_date=now + every, timezone=config.tz),
                             int(every.total_seconds()), BEAT))
        return specs

    def _guarded(self, fn):
        """Jobs queued behind a running one are dropped once we are stopping, so shutdown waits for one job only."""
        def job(*args):
            if self.stopping.is_set():
                return None
            return fn(self.db, self.executor, self.clock, *args)
        job.__name__ = getattr(fn, "__name__", "job")
        return job

    def _sweep(self, db, executor, clock):
        return catch_up(db, executor, clock, sources=False)

    def apply(self, config: Config) -> None:
        """Make the scheduler's jobs exactly the config's. Ids are stable, so an unchanged job keeps its place."""
        specs = self.job_specs(config)
        wanted = {s.id for s in specs}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted and job.id != "catch-up":
                job.remove()
        for spec in specs:
            self.scheduler.add_job(spec.func, spec.trigger, args=spec.args, id=spec.id, name=spec.id,
                                   replace_existing=True, misfire_grace_time=spec.misfire_grace_time,
                                   coalesce=True, max_instances=1, executor=spec.executor)

    def jobs(self) -> list[dict]:
        return [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None}
                for j in sorted(self.scheduler.get_jobs(), key=lambda j: j.id)]

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.lease.acquire():
            info = self.lease.current()
            raise SchedulerAlreadyRunning(
                f"another repwatch scheduler is running ({info.describe(self.clock.now(), self.config.tz) if info else 'unknown'}); "
                "run only one per database: two would fire every job twice")
        self.started_at = self.clock.now()
        self.last_reload = {"at": self.started_at.isoformat(), "ok": True, "error": None}
        self.scheduler.start()
        self.apply(self.config)
        if self.catch_up_at_start:
            # On the worker thread, so start-up returns at once and the catch-up queues like any job.
            self.scheduler.add_job(self._guarded(catch_up), "date", run_date=self.clock.now(), id="catch-up",
                                   name="catch-up", misfire_grace_time=None, executor=WORK)
        self.state = "running"
        self.heartbeat()

    def reload(self) -> bool:
        """Re-read schedules.yaml. Invalid: log it, keep every current job, report it in the heartbeat."""
        now = self.clock.now().isoformat()
        try:
            config = self.load(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the current jobs: %s", exc)
            self.last_reload = {"at": now, "ok": False, "error": str(exc)}
            self.heartbeat()
            return False
        self.config = config
        self.executor.config = config
        self.apply(config)
        self.last_reload = {"at": now, "ok": True, "error": None}
        log.info("reloaded %s: %d jobs", self.config_path, len(self.scheduler.get_jobs()))
        self.heartbeat()
        return True

    def heartbeat(self) -> None:
        if self.state in ("running", "stopping") and not self.lease.renew():
            log.error("lost the scheduler lock to another process; stopping")
            self.request_stop()
        beat(self.db, SCHEDULER, self.clock.now(), {
            "host": socket.gethostname(), "state": self.state, "config": str(self.config_path),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "heartbeat_every": self.config.scheduler.heartbeat_every.total_seconds(),
            "reload": self.last_reload, "jobs": self.jobs() if self.scheduler.running else []})

    def shutdown(self) -> None:
        self.state = "stopping"
        self.stopping.set()
        self.heartbeat()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)   # the running job finishes; queued ones return at once
        self.state = "stopped"
        beat(self.db, SCHEDULER, self.clock.now(), {"host": socket.gethostname(), "state": "stopped",
                                                     "config": str(self.config_path), "reload": self.last_reload,
                                                     "jobs": []})
        self.lease.release()

    # signals and the main loop --------------------------------------------------------------------
    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    def request_stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def _on_signal(self, signum, _frame) -> None:
        if signum == signal.SIGHUP:
            self.request_reload()
            return
        self._signals += 1
        if self._signals > 1:
            # Second SIGTERM/SIGINT: abandon the running job. Its open transaction dies with the
            # connection; the scheduler lock is taken over at once by the next start on this host.
            os._exit(1)
        log.warning("%s received: finishing the running job, then exiting (send again to abandon it)",
                    signal.Signals(signum).name)
        self.request_stop()

    def serve(self) -> None:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.start()
        try:
            while not self.stopping.is_set():
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                if self._reload_requested and not self.stopping.is_set():
                    self._reload_requested = False
                    self.reload()
        finally:
            self.shutdown()
