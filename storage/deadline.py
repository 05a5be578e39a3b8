"""One rule for "this call gets N seconds in all", shared by every network call that a slow peer could hold
(feed and API fetches, notifier requests, SMTP conversations).

Socket timeouts bound each read, not the whole: a server that answers a byte a second never trips them.
So the call runs in a worker thread and the caller waits at most `seconds`. The worker gets a `cancel`
event and stops at its next chunk once the caller has given up; `on_give_up` can also cut it off at once
(e.g. shut its socket down). It lives in storage because every stage may import it."""
from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside the worker when it notices that the caller gave up."""


class DeadlinePassed(Exception):
    """The call did not finish within its deadline."""


def call_within(seconds: float, work: Callable[[threading.Event], T], *, name: str = "repwatch-deadline",
                on_give_up: Callable[[], None] | None = None) -> T:
    """`work(cancel)`'s result, or its exception, within `seconds`; DeadlinePassed otherwise."""
    cancel = threading.Event()
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = work(cancel)
        except BaseException as exc:   # handed to the caller's thread
            out["error"] = exc

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive() or isinstance(out.get("error"), Cancelled):
        cancel.set()
        if on_give_up is not None:
            on_give_up()
        raise DeadlinePassed(f"no complete answer within {seconds:g}s")
    if "error" in out:
        raise out["error"]
    return out["value"]
