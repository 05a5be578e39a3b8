"""The reports page (/reports) and its CSV (/reports.csv): the manager's figures over a period, from
alerts/reports.py (the same as `repwatch report` and GET /api/reports). Charts and table rows click
through to the queue with the filters of the tickets behind each figure and the same period (`from`/`to`:
the local days the tickets' clocks started in); a trend bar, to its own day or week."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from alerts import REPORT_GROUPINGS as GROUPINGS, build_report, period
from repwatch.web.charts import linked_hbars, stacked_bars
from repwatch.web.deps import principal
from repwatch.web.render import page
from storage.vocabulary import label

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)
MAX_DAYS = 400


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def report_for(request: Request, since: date | None, until: date | None, per: str | None = None):
    """The report over local days [since, until]; lenient like the queue: a bad or reversed date in a
    bookmarked URL falls back to the default period, and a period is at most MAX_DAYS."""
    state = request.app.state
    now = state.clock.now()
    if since and until and (since > until or (until - since).days >= MAX_DAYS):
        since = None
    if since and not until and (now.astimezone(state.tz).date() - since).days >= MAX_DAYS:
        since = None
    try:
        start, end = period(since, until, state.tz, now)
    except ValueError:
        start, end = period(None, until, state.tz, now)
    targets = [(w.name, w.kind) for w in state.config.watch]
    with state.db.session() as s:
        return build_report(s, start, end, now=now, tz=state.tz, targets=targets,
                            per=per if per in ("day", "week") else None)


def _pair(kind: str, key: str) -> str:
    zh, en = label(kind, key, "zh"), label(kind, key, "en")
    return zh if zh == en else f"{zh} {en}"


@router.get("/reports")
def reports_page(request: Request, since: str = Query("", max_length=20), until: str = Query("", max_length=20),
                 per: str = Query("", max_length=10)):
    r = report_for(request, _day(since), _day(until), per)
    tz = request.app.state.tz
    last_day = (r.until.astimezone(tz) - timedelta(days=1)).date()
    cats = r.groups["category"]
    first_chart = linked_hbars([(f"{g.label_zh} {g.label_en}", g.first_response.median_hours or 0, g.link)
                                for g in cats if g.first_response.count],
                               unit=" h", caption="首次响应时间中位数 Median time to first response (hours), by category")
    resolve_chart = linked_hbars([(f"{g.label_zh} {g.label_en}", g.resolution.median_hours or 0, g.link)
                                  for g in cats if g.resolution.count], unit=" h", css="bar slow",
                                 caption="解决时间中位数 Median time to resolution (hours), by category")
    fmt = "%m-%d"
    over_time = stacked_bars([d.strftime(fmt) for d in r.bins],
                             [(_pair("category", c), counts, r.link(category=c), r.bin_links(category=c))
                              for c, counts in r.by_category_over_time.items()],
                             caption="投诉类别趋势 Complaints (tickets) by category over time", width=1200)
    sources = linked_hbars([(s.name, s.complaints, s.link) for s in r.top_sources], css="bar src",
                           caption="投诉来源 Top sources of complaints")
    return page(request, "reports.html", r=r, since=r.since.astimezone(tz).date(), last_day=last_day,
                tzname=tz.key, first_chart=first_chart, resolve_chart=resolve_chart, over_time=over_time,
                source_chart=sources, groupings=GROUPINGS, pair=_pair,
                per=per if per in ("day", "week") else "")


@router.get("/reports.csv")
def reports_csv(request: Request, since: str = Query("", max_length=20), until: str = Query("", max_length=20)):
    r = report_for(request, _day(since), _day(until))
    rows = r.rows()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    tz = request.app.state.tz
    name = f"repwatch-report-{r.since.astimezone(tz):%Y%m%d}-{(r.until.astimezone(tz) - timedelta(days=1)):%Y%m%d}.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
