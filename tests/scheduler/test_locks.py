"""The run lock: one holder at a time, renewals, release, and take-over of a dead holder's lock."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from repwatch.clock import FrozenClock
from repwatch.locks import Lease, LeaseKeeper, holder_is_dead, live_lock
from storage.models import RunLock

LEASE = timedelta(minutes=5)
OTHER_HOST = "build-7.example.internal:4242:abcd1234"   # a holder we cannot check: only its lease counts


def rows(db) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(r.name, r.holder) for r in s.scalars(select(RunLock))]


def test_second_contender_is_refused_while_the_lease_is_live(db, clock):
    first = Lease(db, "run", clock, LEASE, holder=OTHER_HOST)
    second = Lease(db, "run", clock, LEASE)
    assert first.acquire()
    clock.advance(timedelta(minutes=4))
    assert not second.acquire()
    assert rows(db) == [("run", OTHER_HOST)]


def test_expired_lease_of_a_silent_holder_is_taken_over(db, clock):
    crashed = Lease(db, "run", clock, LEASE, holder=OTHER_HOST)
    assert crashed.acquire()
    clock.advance(LEASE + timedelta(seconds=1))
    successor = Lease(db, "run", clock, LEASE)
    assert successor.acquire()
    assert successor.taken_over is not None and successor.taken_over.holder == OTHER_HOST
    assert rows(db) == [("run", successor.holder)]
    # the old holder, if it was only slow, learns it lost the lock instead of carrying on blindly
    assert crashed.renew() is False


def test_lease_renewed_by_a_live_holder_is_never_taken_over(db, clock):
    holder = Lease(db, "run", clock, LEASE, holder=OTHER_HOST)
    assert holder.acquire()
    for _ in range(5):                                # 20 minutes of work, renewed every 4
        clock.advance(timedelta(minutes=4))
        assert holder.renew()
        assert not Lease(db, "run", clock, LEASE).acquire()


def test_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(db, clock):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = f"{socket.gethostname()}:{int(proc.stdout)}:deadbeef"
    assert holder_is_dead(dead)
    assert Lease(db, "run", clock, LEASE, holder=dead).acquire()
    successor = Lease(db, "run", clock, LEASE)
    assert successor.acquire()                        # no waiting for the lease
    assert successor.taken_over.holder == dead


def test_a_live_process_on_this_host_is_not_presumed_dead():
    assert not holder_is_dead(f"{socket.gethostname()}:{os.getpid()}:x")
    assert not holder_is_dead(OTHER_HOST)


def test_release_frees_the_lock_and_only_removes_our_own_row(db, clock):
    lease = Lease(db, "run", clock, LEASE)
    assert lease.acquire()
    lease.release()
    assert rows(db) == []
    assert Lease(db, "run", clock, LEASE, holder=OTHER_HOST).acquire()
    lease.release()                                   # not held any more: must not delete the other's lock
    assert rows(db) == [("run", OTHER_HOST)]


def test_two_contenders_for_an_expired_lock_never_both_win(db, clock):
    assert Lease(db, "run", clock, LEASE, holder=OTHER_HOST).acquire()
    clock.advance(LEASE * 2)
    a, b = Lease(db, "run", clock, LEASE), Lease(db, "run", clock, LEASE)
    results = [a.acquire(), b.acquire()]
    assert results == [True, False]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RunLock)) == 1


def test_live_lock_ignores_expired_and_dead_holders(db, clock):
    assert Lease(db, "scheduler", clock, LEASE, holder=OTHER_HOST).acquire()
    assert live_lock(db, "scheduler", clock.now()).holder == OTHER_HOST
    assert live_lock(db, "scheduler", clock.now() + LEASE + timedelta(seconds=1)) is None


def test_keeper_reports_a_lost_lock(db, clock):
    """The keeper's renew loop, run once by hand: a taken-over lease sets `lost`."""
    mine = Lease(db, "run", clock, LEASE)
    assert mine.acquire()
    clock.advance(LEASE * 2)
    assert Lease(db, "run", FrozenClock(clock.now()), LEASE).acquire()
    keeper = LeaseKeeper(mine, every=timedelta(0))
    keeper._stop.wait = lambda _t, _calls=iter([False, True]): next(_calls)   # one iteration, no sleeping
    keeper._loop()
    assert keeper.lost.is_set()
