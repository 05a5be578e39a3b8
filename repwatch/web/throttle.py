"""Failed-login throttling: after N failures for one user name or one client address within the
window, further attempts are refused until the window has passed.

Counting both keys stops a guesser hammering one account and one address spraying many accounts.
The counts live in the serving process (one `repwatch serve`); a restart forgets them, which at
worst gives a guesser one more window."""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from repwatch.clock import Clock


class LoginThrottle:
    MAX_KEYS = 10_000  # bounded memory when someone sprays random names

    def __init__(self, clock: Clock, max_failures: int, window: timedelta):
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, address: str) -> list[str]:
        return [f"user:{name.strip().casefold()}", f"addr:{address}"]

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
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    # the window must pass since the failure that crossed the limit
                    end = times[-self.max_failures] + self.window
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

    def succeeded(self, name: str) -> None:
        """A correct password clears the user's count (not the address's: it may be shared by a spray)."""
        with self._lock:
            self._failures.pop(self.keys(name, "")[0], None)
