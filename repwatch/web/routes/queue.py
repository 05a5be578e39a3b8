"""The queue page (/): what is burning now. `?fragment=1` returns just the counters and the table,
which static/app.js fetches to refresh the page in place."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from alerts.tickets import STATES
from repwatch.web.deps import principal
from repwatch.web.labels import CATEGORIES, SEVERITIES
from repwatch.web.queries.queue import QueueFilters, counters, filter_choices, queue, untracked_incidents
from repwatch.web.render import page

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)


def queue_filters(state: list[str] = Query([]), severity: list[str] = Query([]), category: list[str] = Query([]),
                  department: str = Query("", max_length=200), source: str = Query(""),
                  breached: str = Query("")) -> QueueFilters:
    """Lenient on purpose: an unknown value in a bookmarked URL is dropped, not an error page."""
    return QueueFilters(
        state=[s for s in state if s in STATES], severity=[s for s in severity if s in SEVERITIES],
        category=[c for c in category if c in CATEGORIES], department=department.strip() or None,
        source=int(source) if source.isdigit() and len(source) < 10 else None,
        breached=breached in ("1", "true", "on", "yes"))


@router.get("/")
def queue_page(request: Request, f: QueueFilters = Depends(queue_filters), fragment: str = Query("")):
    state = request.app.state
    now = state.clock.now()
    with state.db.session() as s:
        rows = queue(s, f, now)
        context = dict(rows=rows, counts=counters(s, now, state.tz), filters=f, choices=filter_choices(s),
                       untracked=untracked_incidents(s), states=STATES, severities=SEVERITIES,
                       categories=CATEGORIES)
        if fragment:
            return page(request, "_queue_body.html", **context)
        return page(request, "queue.html", **context)
