"""Option groups shared by several collector kinds, so the same key means the same thing everywhere."""
from __future__ import annotations

from datetime import timedelta
from typing import Optional

from pydantic import Field

from storage.types import Duration, Strict, TimeZoneName


class MappingOptions(Strict):
    """How raw values become mention fields (see collectors/fields.py)."""

    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="zone of dates written without one")
    rating_scale: float = Field(default=5.0, gt=0, description="the source's top rating, e.g. 50 or 10")
    date_format: Optional[str] = Field(default=None, description="strptime format when dates are unusual")



class Paging(Strict):
    refresh_pages: int = Field(default=1, ge=0, description="pages always re-read, even when their items are "
                               "stored, so engagement counts of recent posts are refreshed")


class Politeness(Strict):
    """Pace and patience towards one site. The global `http:` section sets timeouts and size caps."""

    delay: Duration = Field(default=timedelta(seconds=1), description="pause between requests to the site")
    retries: int = Field(default=2, ge=0, le=10, description="retries after a transient failure")
    retry_backoff: Duration = Field(default=timedelta(seconds=2),
                                    description="first retry waits this long, doubling each time")
    max_retry_after: Duration = Field(default=timedelta(minutes=2),
                                      description="longest Retry-After we wait within a run; longer waits "
                                                  "end the run and the next scheduled run tries again")
