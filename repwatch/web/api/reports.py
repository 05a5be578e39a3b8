"""GET /api/reports: the manager's figures over a period (alerts/reports.py, the same as /reports and
`repwatch report --format json`)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Optional

from fastapi import APIRouter, HTTPException, Query, Request

from alerts.reports import build_report, period

router = APIRouter(tags=["read"])
MAX_DAYS = 400


@router.get("/reports", summary="Report over local days: response and resolution times, SLA share, "
            "satisfaction, categories over time, repeat complainants, sources, watch targets")
def get_report(request: Request,
               since: Annotated[Optional[date], Query(description="first local day (team's timezone)")] = None,
               until: Annotated[Optional[date], Query(description="last local day, included")] = None) -> dict:
    app = request.app.state
    now = app.clock.now()
    try:
        start, end = period(since, until, app.tz, now)
    except (ValueError, OverflowError) as exc:
        raise HTTPException(422, f"bad period: {exc}") from None
    if (end - start).days > MAX_DAYS:
        raise HTTPException(422, f"a report covers at most {MAX_DAYS} days")
    with app.db.session() as s:
        return build_report(s, start, end, now=now, tz=app.tz,
                            targets=[(w.name, w.kind) for w in app.config.watch]).as_json()
