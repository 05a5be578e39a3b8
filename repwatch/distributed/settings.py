"""The `distributed:` section of schedules.yaml. It only matters when REPWATCH_BROKER_URL is set.

Every machine reads the same schedules.yaml, so the enqueuing side (scheduler, `repwatch run`) and
the workers agree on queue names, limits and retry policy without sending any of it over the wire."""
from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from storage.types import Duration, Strict


class DistributedSettings(Strict):
    queue_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$",
                              description="prepended to the queue names collect, analyze and alerts")
    collect_time_limit: Duration = Field(default=timedelta(minutes=10), description="hard limit for one source")
    analyze_time_limit: Duration = Field(default=timedelta(minutes=5), description="hard limit for one batch")
    alerts_time_limit: Duration = Field(default=timedelta(minutes=5),
                                        description="hard limit for one alert evaluation or one digest")
    analyze_batch: int = Field(default=200, ge=1, le=5000, description="mentions per analyze task")
    max_retries: int = Field(default=8, ge=0, le=100, description="retries of a task on a transient error")
    retry_backoff_max: Duration = Field(default=timedelta(minutes=5),
                                        description="longest wait between two retries of a task")
    publish_retry_for: Duration = Field(default=timedelta(minutes=5),
                                        description="how long enqueuing keeps retrying while the broker is down")
    alerts_lock_timeout: Duration = Field(default=timedelta(seconds=60),
                                          description="longest wait for another worker's alert evaluation")

    @model_validator(mode="after")
    def _positive(self):
        for name in ("collect_time_limit", "analyze_time_limit", "alerts_time_limit", "publish_retry_for",
                     "alerts_lock_timeout"):
            if getattr(self, name) < timedelta(seconds=1):
                raise ValueError(f"{name} must be at least 1s")
        return self

    def soft_limit(self, hard: timedelta) -> float:
        """The soft limit raises inside the task first, so a collector records a failed run instead of
        being killed with nothing written; the hard limit is the backstop."""
        seconds = hard.total_seconds()
        return max(seconds - max(5.0, seconds * 0.1), seconds * 0.5)
