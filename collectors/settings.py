from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from storage.types import Duration, Strict

DEFAULT_USER_AGENT = "repwatch/0.1 (+https://github.com/repwatch/repwatch; reputation monitoring)"


class HttpSettings(Strict):
    """How every HTTP collector behaves on the wire. One section for all sources; sources may not loosen it."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=5_000_000, gt=0, description="responses larger than this are refused")
    max_redirects: int = Field(default=5, ge=0, le=20)
