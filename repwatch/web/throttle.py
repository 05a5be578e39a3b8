"""Failed-login throttling, per account *and* address: after N failures for one user name from one
client address within the window, that name is refused from that address until the window has
passed. Counting the pair, not the address alone, keeps one guesser behind an office NAT or a
proxy from locking out everyone else there; counting it, not the name alone, keeps a stranger
from locking a colleague out by typing wrong passwords for her name.

A spray of many names from one address is still stopped, by a second, larger limit on the address
(`per_address`). The counts live in the serving process (one `repwatch serve`); a restart forgets
them, which at worst gives a guesser one more window. Behind a reverse proxy the address is the
one the proxy reports (docs/dashboard.md says how to set that up)."""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from repwatch.clock import Clock


class LoginThrottle:
    MAX_KEYS = 10_000  # bounded memory when someone sprays random names

    def __init__(self, clock: Clock, max_failures: int, window: timedelta, per_address: int | None = None):
        self.clock = clock
        self.max_failures = max_failures
        self.per_address = per_address or max_failures * 10
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, address: str) -> list[str]:
        return [f"pair:{address}\x00{name.strip().casefold()}", f"addr:{address}"]

    def _limit(self, key: str) -> int:
        return self.per_address if key.startswith("addr:") else self.max_failures

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def blocked_until(self, name: str, address: str) -> datetime | None:
        """When attempts may resume, or None if this attempt may go ahead."""
        now = self.clock.now()
        with self._lock:
            until = None
            for key in self.keys(name, address):
                times, limit = self._recent(key, now), self._limit(key)
                if len(times) >= limit:
                    # the window must pass since the failure that crossed the limit
                    end = times[-limit] + self.window
                    until = end if until is None else max(until, end)
            return until

    def failed(self, name: str, address: str) -> None:
        now = self.clock.now()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
            for key in self.keys(name, address):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times

    def succeeded(self, name: str, address: str) -> None:
        """A correct password clears this name's count from this address (not the address's own
        count: a sprayer who knows one password must not reset it)."""
        with self._lock:
            self._failures.pop(self.keys(name, address)[0], None)
