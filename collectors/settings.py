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

    @field_validator("fetch_deadline")
    @classmethod
    def _deadline(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(minutes=10):
            raise ValueError("expected a duration above 0s and at most 10m, e.g. 30s")
        return value
