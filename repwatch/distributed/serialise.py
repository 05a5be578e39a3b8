"""Serialise work across every worker on every machine with PostgreSQL advisory locks.

Why: `alerts.evaluate` (alerts/stage.py) reads pending complaints, then attaches them to incidents and bumps counters.
Two workers doing that at once for the same incident could not open two tickets (the unique
`Ticket.open_incident_id` and `insert_ignore` forbid it), but they could both read the same
`incident.mention_count` and lose an update, and two dispatchers could both find one notification
due. A digest is the same story per (digest, day). So each of those runs under a named lock.

The lock is transaction-scoped, held by a guard transaction of its own for the length of the work:
it is released by the commit, by a rollback, or by PostgreSQL when the worker's connection dies, so
a SIGKILLed worker never leaves it held. (Transaction-scoped locks also work through PgBouncer in
transaction pooling mode; session-scoped ones do not.)

`alerts.evaluate` (alerts/stage.py) walks every watch target's pending complaints, so today there is one key for the
whole alert stage. Once it takes a target filter, keying the lock on the target lets targets run in parallel."""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage import Database

ALERTS_LOCK = "repwatch:alerts"


def lock_id(name: str) -> int:
    """A stable signed 64-bit key (PostgreSQL's bigint) for a lock name; hash() is salted per process."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def scoped_key(session: Session, name: str) -> int:
    """Advisory locks belong to the whole database, but repwatch's data lives in one schema: two
    deployments (or two test runs) in different schemas of one database must not share a lock, or one
    could skip work because the other's evaluation is waiting."""
    return lock_id(f"{session.scalar(text('SELECT current_schema()'))}:{name}")


def hold_for_transaction(session: Session, name: str, wait: timedelta) -> None:
    """Block until this transaction holds the named lock. Waiting longer than `wait` raises
    OperationalError (lock_timeout), which the task treats as transient and retries with backoff.

    SQLite needs nothing: it admits one writer at a time to the whole file."""
    if session.get_bind().dialect.name != "postgresql":
        return
    millis = max(1, int(wait.total_seconds() * 1000))
    session.execute(text(f"SET LOCAL lock_timeout = {millis}"))
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": scoped_key(session, name)})
    session.execute(text("SET LOCAL lock_timeout = 0"))   # the rest of the stage waits on rows as usual


@contextmanager
def held(db: Database, name: str, wait: timedelta) -> Iterator[None]:
    """`with held(db, name, wait): work()` runs the work (in its own sessions) while a guard
    transaction holds the lock. The guard stays idle in transaction meanwhile, so PostgreSQL's
    idle_in_transaction_session_timeout, if set, must exceed the task's time limit."""
    with db.session() as guard:
        hold_for_transaction(guard, name, wait)
        yield


@contextmanager
def coalesced(db: Database, name: str, wait: timedelta) -> Iterator[bool]:
    """Like `held`, but at most one caller queues behind the one running: a caller that finds a waiter
    already there gets False and skips. That is safe because the waiter has not started its work yet,
    so it will see everything committed before the skip; the work must be "do whatever is pending".
    A burst of alert tasks (one per analyzed batch) thus costs two evaluations, not one each."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.session() as waiting:
        if not waiting.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                              {"key": scoped_key(waiting, f"{name}:waiting")}):
            yield False
            return
        with db.session() as running:
            hold_for_transaction(running, name, wait)
            waiting.commit()   # ends the waiting lock's transaction: the next caller may queue behind us
            yield True
