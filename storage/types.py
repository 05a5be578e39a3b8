"""Small value types shared by every stage's settings (durations, strict models).

They live in storage because it is the one package every stage may import."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '4h', '7d', '2w', or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 4h or 7d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        parts = value.split()
        total = 0.0
        # allow '1h 30m'
        for part in parts or [value]:
            m = _DURATION.match(part)
            if not m:
                raise ValueError(f"expected a duration like 30s, 15m, 4h or 7d, got {value!r}")
            total += float(m.group(1)) * _UNITS[m.group(2)]
        return timedelta(seconds=total)
    raise ValueError(f"expected a duration like 30s, 15m, 4h or 7d, got {type(value).__name__}")


def format_duration(td: timedelta) -> str:
    seconds = int(td.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


def check_timezone(name: str) -> str:
    """An IANA zone name ('Asia/Shanghai', 'UTC'); anything else is a config error that says so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as Asia/Shanghai or UTC") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(check_timezone)]


class Strict(BaseModel):
    """Base for every settings model: unknown keys are errors (Alertmanager's UnmarshalStrict)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
