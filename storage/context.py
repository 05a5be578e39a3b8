"""What every stage of one pass shares, passed as one value instead of three loose arguments."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class RunContext:
    """`now`: the moment the pass runs as (aware; stored and compared in UTC, injected so tests travel in
    time). `tz`: the team's timezone, for whatever is read by people (quiet hours, daily bins, labels).
    `base_url`: the dashboard's address, for links in alerts; None when there is no dashboard."""
    now: datetime
    tz: ZoneInfo = field(default=UTC)
    base_url: str | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("RunContext.now must be timezone-aware (UTC)")
        object.__setattr__(self, "now", self.now.astimezone(timezone.utc))

    def at(self, now: datetime) -> "RunContext":
        """The same context at another moment (a scheduler tick, a replay)."""
        return RunContext(now, self.tz, self.base_url)
