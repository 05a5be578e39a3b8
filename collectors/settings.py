from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from storage.types import Duration, Strict

DEFAULT_USER_AGENT = "repwatch/0.1 (+https://github.com/repwatch/repwatch; reputation monitoring)"


class HttpSettings(Strict):
    """How every HTTP collector behaves on the wire. One section for all sources; sources may not loosen it."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=5_000_000, gt=0, description="responses larger than this are refused")
    max_redirects: int = Field(default=5, ge=0, le=20)
    # read_timeout bounds the wait for each chunk, so a server sending a byte a second never trips it;
    # this bounds the whole fetch (connect, redirects, headers and body) whatever the server does.
    fetch_deadline: Duration = Field(default=timedelta(seconds=30),
                                     description="longest one fetch may take in total, from connect to the last byte")

    # Feeds, RSSHub routes and JSON APIs of a run are fetched side by side: `concurrency` fetches in
    # flight at most, and at most `per_host` of them to any one host (Scrapy's CONCURRENT_REQUESTS and
    # CONCURRENT_REQUESTS_PER_DOMAIN, with the same defaults), so many sources on one server never hit
    # it with more than that. A fetch waiting for its host's turn does not use up its fetch_deadline.
    concurrency: int = Field(default=16, ge=1, le=64, description="fetches in flight at once in a run")
    per_host: int = Field(default=8, ge=1, le=64, description="fetches in flight to one host at once")

    @field_validator("fetch_deadline")
    @classmethod
    def _deadline(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(minutes=10):
            raise ValueError("expected a duration above 0s and at most 10m, e.g. 30s")
        return value
