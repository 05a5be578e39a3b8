"""The `alerts:` section of schedules.yaml. Every key is documented in docs/alerts.md."""
from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Optional

from pydantic import Field, field_validator, model_validator

from alerts.incidents.detect import DetectorSettings
from storage.types import Duration, Strict
from storage.vocabulary import Category, Severity


class Sla(Strict):
    first_response: Duration
    resolution: Duration

    @model_validator(mode="after")
    def _order(self):
        if self.resolution < self.first_response:
            raise ValueError("resolution must not be shorter than first_response")
        return self


def _default_sla() -> dict[Severity, Sla]:
    # DOMAIN.md: urgent means hours, not days.
    return {
        "urgent": Sla(first_response=timedelta(hours=1), resolution=timedelta(hours=24)),
        "important": Sla(first_response=timedelta(hours=4), resolution=timedelta(hours=72)),
        "general": Sla(first_response=timedelta(hours=24), resolution=timedelta(days=7)),
    }


class Route(Strict):
    department: Optional[str] = None
    assignee: Optional[str] = None


class IncidentSettings(Strict):
    """Grouping by meaning (alerts/incidents/grouping.py): jieba TF-IDF, anchor terms, an inverted index."""

    min_severity: Severity = Field(default="general", description="lowest graded severity that joins an incident")
    threshold: float = Field(default=0.3, gt=0, lt=1, description="cosine similarity with an incident's centroid or first post "
                             "to join it (tuned on held-out Weibo cascades and AFQMC, bench/incidents.py)")
    duplicate: float = Field(default=0.8, gt=0, le=1, description="cosine with the incident's first post at which "
                             "a post is a near-duplicate or repost and joins at once")
    window: Duration = Field(default=timedelta(days=30), description="an incident quiet for longer is not joined, "
                             "not even by a near-duplicate")
    meaning_window: Duration = Field(default=timedelta(days=7), description="an incident quiet for longer is "
                                     "joined only by near-duplicates, no longer by posts in other words")
    cover: float = Field(default=0.2, ge=0, le=1, description="share of a post's weight on terms the incident "
                         "holds at which it joins, when one shared term is an anchor (anchor_idf); 0 turns it off")
    anchor_idf: float = Field(default=8.0, gt=0, description="a shared term at least this rare (IDF), or a "
                              "hashtag, anchors a post to an incident")
    encoder: bool = Field(default=True, description="compute each complaint's sentence vector (multilingual-e5-small) "
                          "before grouping, when the analyzer did not; off: grouping on words alone")
    meaning: float = Field(default=0.45, gt=0, le=2, description="cosine of centred sentence vectors (post, incident "
                           "centroid) at which a post joins by meaning; above 1 turns it off (CED tune split)")
    floor: float = Field(default=0.3, ge=0, le=1, description="cosine of sentence vectors a join on words needs too, "
                         "when both sides have vectors (keeps apart posts that share only a generic word)")
    shingle: int = Field(default=3, ge=1, le=10, description="characters per n-gram of the MinHash baseline "
                         "(bench/incidents.py only)")
    num_perm: int = Field(default=64, ge=16, le=512, description="MinHash permutations of the baseline (bench only)")


class EngagementSettings(Strict):
    """Reposts, comments and likes growing between collections (EngagementSnapshot rows)."""

    reposts: float = Field(default=3.0, ge=0, description="weight of one repost")
    comments: float = Field(default=2.0, ge=0, description="weight of one comment")
    likes: float = Field(default=1.0, ge=0, description="weight of one like")
    important_per_hour: float = Field(default=100.0, gt=0)
    urgent_per_hour: float = Field(default=1000.0, gt=0)


class ReachSettings(Strict):
    """Followers of the authors of an incident's posts."""

    important: int = Field(default=10_000, ge=0)
    urgent: int = Field(default=1_000_000, ge=0)


class SpreadSettings(Strict):
    bin: Duration = Field(default=timedelta(hours=1), description="width of a count bin")
    lateness: Duration = Field(default=timedelta(minutes=10), description="a bin is judged this long after it ends")
    history: Duration = Field(default=timedelta(days=28), description="how far back a new series starts")
    incident_prior: float = Field(default=0.02, gt=0, description="expected new posts per bin for a fresh incident")
    incident_idle: Duration = Field(default=timedelta(days=7), description="stop tracking an incident quiet this long")
    raise_to: Severity = Field(default="urgent", description="severity of an incident that spreads (DOMAIN.md: "
                               "a fast-growing incident is urgent)")
    engagement: EngagementSettings = EngagementSettings()
    reach: ReachSettings = ReachSettings()

    @field_validator("bin")
    @classmethod
    def _bin(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5) or timedelta(days=1) % value:
            raise ValueError("bin must divide a day evenly and be at least 5m (e.g. 15m, 30m, 1h, 2h)")
        return value


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class QuietHours(Strict):
    start: str = Field(description="HH:MM, local time (the top-level timezone)")
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("expected a time of day like 22:00")
        return value

    def bounds(self) -> tuple[time, time]:
        (start_h, start_m), (end_h, end_m) = (map(int, v.split(":")) for v in (self.start, self.end))
        return time(start_h, start_m), time(end_h, end_m)


class DeliverySettings(Strict):
    """What happens after detection, after Prometheus Alertmanager."""

    group_wait: Duration = Field(default=timedelta(0), description="hold the first alert of a group this long, "
                                 "so alerts about one incident arriving together go out as one message")
    repeat_interval: Duration = Field(default=timedelta(hours=4), description="a still-firing alert is sent "
                                      "again at most this often")
    quiet_hours: Optional[QuietHours] = Field(default=None, description="non-urgent alerts wait until the end")
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff: Duration = Field(default=timedelta(minutes=5), description="wait after a failed attempt; "
                                    "doubles each time")


class AlertSettings(Strict):
    open_ticket_at: Severity = Field(default="important", description="lowest severity that opens a ticket")
    reopen_within: Duration = Field(default=timedelta(days=14), description="a closed ticket is reopened when its "
                                    "incident recurs within this time; later, a new ticket is opened")
    sla: dict[Severity, Sla] = Field(default_factory=_default_sla)
    routing: dict[Category, Route] = Field(default_factory=dict)
    default_route: Route = Route(department="客服中心")
    notify: Optional[list[str]] = Field(default=None, description="notifier names to use; default all")
    incidents: IncidentSettings = IncidentSettings()
    detect: DetectorSettings = DetectorSettings()
    spread: SpreadSettings = SpreadSettings()
    delivery: DeliverySettings = DeliverySettings()

    @model_validator(mode="after")
    def _complete_sla(self):
        merged: dict[Severity, Sla] = {**_default_sla(), **self.sla}
        object.__setattr__(self, "sla", merged)
        return self
