"""One clock for people: every time a person reads (CLI, dashboard, API JSON, alert text) is shown in the
team's timezone (the config's top-level `timezone`) and says which zone it is in.

Times are stored and computed in UTC (storage.models.base.UTCDateTime); only this function turns them
into text. It lives in storage/ because every stage may import storage/ and nothing else: the CLI and the
dashboard (repwatch/) and the notifiers (alerts/) all call it, so a ticket's due time reads the same
everywhere: "2026-12-01 13:45 CST" on a terminal and a page, "2026-12-01T13:45:00+08:00" in JSON.

The label is the zone's abbreviation when it has one made of letters (CST, UTC, JST, CET), else the
UTC offset (+08:00 for Asia/Singapore, whose abbreviation is "+08")."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import overload
from zoneinfo import ZoneInfo

# style -> strftime pattern; "iso" is ISO-8601 with the offset, for machines
STYLES: dict[str, str | None] = {
    "datetime": "%Y-%m-%d %H:%M",        # 2026-12-01 13:45 CST
    "seconds": "%Y-%m-%d %H:%M:%S",      # 2026-12-01 13:45:07 CST
    "short": "%m-%d %H:%M",              # 12-01 13:45 CST (tables, where the year is obvious)
    "time": "%H:%M",                     # 13:45 CST
    "iso": None,                         # 2026-12-01T13:45:00+08:00
}


def zone(tz: tzinfo | str | None) -> tzinfo:
    """A tzinfo from a zone name, a tzinfo, or None (UTC)."""
    if tz is None:
        return timezone.utc
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def zone_label(local: datetime) -> str:
    """The zone's name as people write it for this moment (CST, or CDT in summer where it applies),
    or the offset when the zone has no alphabetic abbreviation."""
    abbr = local.tzname() or ""
    if abbr.isalpha():
        return abbr
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@overload
def local_time(value: datetime | None, tz: tzinfo | str | None, style: str = ..., *, missing: str = ...,
               fmt: str | None = ...) -> str: ...
@overload
def local_time(value: datetime | None, tz: tzinfo | str | None, style: str = ..., *, missing: None,
               fmt: str | None = ...) -> str | None: ...


def local_time(value: datetime | None, tz: tzinfo | str | None, style: str = "datetime", *,
               missing: str | None = "-", fmt: str | None = None) -> str | None:
    """`value` (an aware datetime; a naive one is taken as UTC, as the database stores it) in the team's
    timezone `tz`, labelled with the zone: `style` is one of STYLES, or `fmt` a strftime pattern for the
    date and time part. `missing` stands in for None (None itself for JSON: pass missing=None)."""
    if value is None:
        return missing
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(zone(tz))
    if style == "iso" and fmt is None:
        return local.isoformat()
    pattern = fmt or STYLES[style] or "%Y-%m-%d %H:%M"
    return f"{local.strftime(pattern)} {zone_label(local)}"
