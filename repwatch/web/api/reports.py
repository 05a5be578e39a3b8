"""GET /api/reports: the manager's figures over a period (alerts/reports.py, the same as /reports and
`repwatch report --format json`)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError

from alerts import build_report, period

router = APIRouter(tags=["read"])
MAX_DAYS = 400


def _invalid(msg: str, value) -> None:
    """A 422 in the API's usual validation-error shape (the OpenAPI document promises it)."""
    raise RequestValidationError([{"type": "value_error", "loc": ("query", "since"), "msg": msg,
                                   "input": str(value)}])


@router.get("/reports", summary="Report over local days: response and resolution times, SLA share, "
            "satisfaction, categories over time, repeat complainants, sources, watch targets")
def get_report(request: Request,
               since: Annotated[Optional[date], Query(description="first local day (team's timezone)")] = None,
               until: Annotated[Optional[date], Query(description="last local day, included")] = None,
               per: Annotated[Optional[Literal["day", "week"]], Query(description="trend bins; default day up "
                                                                      "to 62 days, week beyond")] = None) -> dict:
    app = request.app.state
    now = app.clock.now()
    try:
        start, end = period(since, until, app.tz, now)
    except (ValueError, OverflowError) as exc:
        _invalid(f"bad period: {exc}", since)
    if (end - start).days > MAX_DAYS:
        _invalid(f"a report covers at most {MAX_DAYS} days", since)
    with app.db.session() as s:
        return build_report(s, start, end, now=now, tz=app.tz,
                            targets=[(w.name, w.kind) for w in app.config.watch], per=per).as_json()
