"""Named leases in the database (the RunLock table): no two runs overlap, on one machine or many.

A holder renews its lease while it works; a holder that dies stops renewing, and the next run takes
the lock over once the lease has expired. On the holder's own host we can do better: a holder whose
process is gone is taken over at once, so a crashed cron run does not block the next one for a lease.
Every step is one conditional statement, so two contenders can never both win."""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, select, update

from repwatch.clock import Clock
from storage import Database
from storage.models import RunLock
from storage.writes import execute_dml, insert_ignore

log = logging.getLogger("repwatch.locks")

RUN_LOCK = "run"              # collection and digests, from cron or the daemon
SCHEDULER_LOCK = "scheduler"  # one `repwatch scheduler` process at a time


def make_holder() -> str:
    """host:pid:nonce. The nonce tells two lifetimes of a reused pid apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True only when we can be sure: same host, and no process with that pid."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, owned by another user
        return False
    return False


@dataclass
class LockInfo:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def describe(self, now: datetime, tz=None) -> str:
        """Who holds it and since when, in the team's timezone `tz` (labelled; UTC when not given)."""
        from storage.timefmt import local_time

        left = int((self.expires_at - now).total_seconds())
        lease = f"lease expires in {left}s" if left >= 0 else f"lease expired {-left}s ago"
        return f"held by {self.holder} since {local_time(self.acquired_at, tz, 'seconds')} ({lease})"


class Lease:
    """`lease = Lease(db, "run", clock, timedelta(minutes=5)); if lease.acquire(): ...; lease.release()`"""

    def __init__(self, db: Database, name: str, clock: Clock, duration: timedelta, *, holder: str | None = None,
                 is_dead: Callable[[str], bool] = holder_is_dead):
        self.db, self.name, self.clock, self.duration = db, name, clock, duration
        self.holder = holder or make_holder()
        self.is_dead = is_dead
        self.held = False
        self.taken_over: Optional[LockInfo] = None   # whose lock we took, for the log

    def acquire(self) -> bool:
        now = self.clock.now()
        expires = now + self.duration
        with self.db.session() as s:
            if insert_ignore(s, RunLock, dict(name=self.name, holder=self.holder, acquired_at=now, expires_at=expires),
                             ["name"]):
                self.held = True
                return True
            current = self.current_in(s)
        if current is None:   # released between our insert and our read: try once more
            return self._retry_insert(now, expires)
        if current.expires_at > now and not self.is_dead(current.holder):
            return False
        # Take over only the exact lease we saw; if someone else took it first, their update changed it.
        with self.db.session() as s:
            won = execute_dml(s, update(RunLock).where(
                RunLock.name == self.name, RunLock.holder == current.holder,
                RunLock.expires_at == current.expires_at).values(
                holder=self.holder, acquired_at=now, expires_at=expires)).rowcount == 1
        if won:
            self.held, self.taken_over = True, current
            log.warning("took over lock %r from %s", self.name, current.describe(now))
        return won

    def _retry_insert(self, now: datetime, expires: datetime) -> bool:
        with self.db.session() as s:
            self.held = insert_ignore(s, RunLock, dict(name=self.name, holder=self.holder, acquired_at=now,
                                                       expires_at=expires), ["name"])
        return self.held

    def renew(self) -> bool:
        """Extend our lease. False means it was taken over (we were presumed dead): stop working."""
        with self.db.session() as s:
            ok = execute_dml(s, update(RunLock).where(RunLock.name == self.name, RunLock.holder == self.holder)
                           .values(expires_at=self.clock.now() + self.duration)).rowcount == 1
        self.held = ok
        return ok

    def release(self) -> None:
        if not self.held:
            return
        with self.db.session() as s:
            s.execute(delete(RunLock).where(RunLock.name == self.name, RunLock.holder == self.holder))
        self.held = False

    def current(self) -> Optional[LockInfo]:
        return lock_info(self.db, self.name)

    def current_in(self, session) -> Optional[LockInfo]:
        row = session.scalar(select(RunLock).where(RunLock.name == self.name))
        return LockInfo(row.name, row.holder, row.acquired_at, row.expires_at) if row else None


def lock_info(db: Database, name: str) -> Optional[LockInfo]:
    with db.session() as s:
        row = s.scalar(select(RunLock).where(RunLock.name == name))
        return LockInfo(row.name, row.holder, row.acquired_at, row.expires_at) if row else None


def live_lock(db: Database, name: str, now: datetime) -> Optional[LockInfo]:
    """The lock if someone really holds it: unexpired and not a dead process on this host."""
    info = lock_info(db, name)
    if info is None or info.expires_at <= now or holder_is_dead(info.holder):
        return None
    return info


class LeaseKeeper:
    """Renews a lease from a background thread while long work runs in the foreground.

    Renewing every third of the lease leaves two chances to succeed before it would expire."""

    def __init__(self, lease: Lease, every: timedelta | None = None):
        self.lease = lease
        self.every = (every or lease.duration / 3).total_seconds()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{lease.name}", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not self.lease.renew():
                    log.error("lost lock %r: another process took it over", self.lease.name)
                    self.lost.set()
                    return
            except Exception:  # a database blip: the lease has slack for the next try
                log.exception("could not renew lock %r", self.lease.name)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
