"""When a source or job runs: a 5-field cron expression or an interval, with optional jitter."""
from __future__ import annotations

from datetime import timedelta
from typing import Optional

from pydantic import model_validator

from storage.types import Duration, Strict


class Schedule(Strict):
    cron: Optional[str] = None
    every: Optional[Duration] = None
    jitter: Duration = timedelta(0)
    timezone: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        # `schedule: "*/15 * * * *"` is shorthand for `schedule: {cron: "*/15 * * * *"}`
        if isinstance(value, str):
            return {"cron": value}
        return value

    @model_validator(mode="after")
    def _one_of(self):
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron (a 5-field expression) or every (an interval such as 15m)")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} must have 5 fields: minute hour day month weekday")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError("every must be a positive interval")
        return self
