"""Cron mode: `repwatch run --due` from a crontab line such as `*/5 * * * * repwatch run --due`.

Each tick takes the run lock, runs the sources and digests that are due (repwatch/due.py), records a
heartbeat and releases the lock. A tick that finds the lock held exits at once and successfully: the
holder is doing the work, and cron must not mail an error every five minutes while a long run finishes."""
from __future__ import annotations

from typing import Callable, Optional

from repwatch.clock import Clock
from repwatch.executor import Executor
from repwatch.heartbeat import CRON, beat
from repwatch.jobs import DueReport, RunLockBusy, locked_run, run_due
from repwatch.locks import SCHEDULER_LOCK, live_lock
from storage import Database


def cron_run(db: Database, executor: Executor, clock: Clock, echo: Callable[[str], None] = print,
             on_source: Optional[Callable] = None) -> Optional[DueReport]:
    """Returns the report, or None when nothing ran because someone else is running."""
    now = clock.now()
    tz = executor.config.tz
    daemon = live_lock(db, SCHEDULER_LOCK, now)
    if daemon is not None:
        echo(f"repwatch scheduler is running ({daemon.describe(now, tz)}) and runs the schedules itself; "
             "run --due did nothing. Use one mode, not both.")
        return None
    try:
        with locked_run(db, clock, executor.config.scheduler.lock_lease) as run:
            if run.lease.taken_over is not None:
                echo(f"took over the run lock from a holder that died ({run.lease.taken_over.describe(now, tz)})")
            report = run_due(db, executor, clock, on_source=on_source)
    except RunLockBusy as busy:
        echo(f"another repwatch run is in progress ({busy.info.describe(now, tz) if busy.info else 'holder unknown'}); "
             "nothing to do, exiting")
        return None
    beat(db, CRON, clock.now(), report.summary())
    return report
