"""One rule for "this call gets N seconds in all", shared by every network call that a slow peer could hold
(feed and API fetches, notifier requests, SMTP conversations).

Socket timeouts bound each read, not the whole: a server that answers a byte a second never trips them.
So the call runs in a worker thread and the caller waits at most `seconds`. The worker gets a `cancel`
event and stops at its next chunk once the caller has given up; `on_give_up` can also cut it off at once
(e.g. shut its socket down). It lives in storage because every stage may import it.

Workers are kept and reused: starting a thread cost more CPU than a whole 304 fetch on loopback (issue
18). A worker whose caller gave up finishes (or notices `cancel`) first, then waits for the next call."""
from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside the worker when it notices that the caller gave up."""


class DeadlinePassed(Exception):
    """The call did not finish within its deadline."""


IDLE_WORKERS = 32   # idle workers kept for reuse at most; more exit when their call is done


class _Worker:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="repwatch-deadline", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.jobs.get()()
            with _idle_lock:
                if len(_idle) >= IDLE_WORKERS:
                    return
                _idle.append(self)


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _forget_workers() -> None:   # a forked child has none of its parent's threads
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def call_within(seconds: float, work: Callable[[threading.Event], T], *,
                on_give_up: Callable[[], None] | None = None) -> T:
    """`work(cancel)`'s result, or its exception, within `seconds`; DeadlinePassed otherwise."""
    cancel = threading.Event()
    done = threading.Event()
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work(cancel)
        except BaseException as exc:   # handed to the caller's thread
            out["error"] = exc
        finally:
            done.set()

    with _idle_lock:
        worker = _idle.pop() if _idle else None
    (worker or _Worker()).jobs.put(run)
    if not done.wait(seconds) or isinstance(out.get("error"), Cancelled):
        cancel.set()
        if on_give_up is not None:
            on_give_up()
        raise DeadlinePassed(f"no complete answer within {seconds:g}s")
    if "error" in out:
        raise out["error"]
    return out["value"]
