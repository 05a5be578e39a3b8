"""Mentions search (/mentions) and the overview charts (/overview)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from repwatch.web.charts import bar_line_chart, hbars
from repwatch.web import actions
from repwatch.web.deps import agent, csrf, principal
from repwatch.web.labels import CATEGORIES, CATEGORY
from repwatch.web.queries.search import SENTIMENTS, MentionFilters, search
from repwatch.web.queries.stats import default_window, overview
from repwatch.web.render import flash, page
from repwatch.web.security import safe_next
from storage.corrections import latest_labels
from storage.models import Mention, Source
from storage.vocabulary import SEVERITIES

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)
PAGE_SIZE = 50
RANGES = {"24h": 1, "3d": 3, "7d": 7, "30d": 30, "90d": 90}


def parse_day(value: str, tz, *, end: bool = False) -> datetime | None:
    """'2026-11-20' as the start (or, for `end`, the end) of that local day; anything else is ignored."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start + timedelta(days=1) if end else start


def clean_query(q: str) -> str:
    # NUL and other control characters cannot be stored or matched (PostgreSQL rejects NUL outright)
    return "".join(ch for ch in q if ch >= " " or ch in "\t").strip()


@router.get("/mentions")
def mentions_page(request: Request, q: str = Query("", max_length=200), since: str = Query("", max_length=20),
                  until: str = Query("", max_length=20), source: str = Query("", max_length=10),
                  sentiment: str = Query("", max_length=20), category: str = Query("", max_length=20),
                  page_no: int = Query(1, alias="page", ge=1, le=1000)):
    state = request.app.state
    f = MentionFilters(q=clean_query(q), since=parse_day(since, state.tz), until=parse_day(until, state.tz, end=True),
                       source=int(source) if source.isdigit() else None,
                       sentiment=sentiment if sentiment in SENTIMENTS else None,
                       category=category if category in CATEGORIES else None)
    with state.db.session() as s:
        rows, total = search(s, f, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        sources = list(s.execute(select(Source.id, Source.name).order_by(Source.name)))
        labels = latest_labels(s, [m.id for m, _, _ in rows])
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return page(request, "mentions.html", rows=rows, total=total, f=f, sources=sources, labels=labels,
                    can_act=request.state.principal.can("agent"), here=here, severities=SEVERITIES,
                    raw=dict(q=q, since=since, until=until, source=source, sentiment=sentiment, category=category),
                    page_no=page_no, pages=max(1, -(-total // PAGE_SIZE)), categories=CATEGORIES,
                    sentiments=SENTIMENTS)


@router.post("/mentions/{mention_id}/correct", dependencies=[agent, csrf])
def correct_mention(request: Request, mention_id: int, verdict: str = Form(""), categories: list[str] = Form([]),
                    severity: str = Form(""), reason: str = Form(""), next: str = Form("/mentions")):
    """Label a post from the search results; a missed complaint gets its incident and ticket at once."""
    from alerts import Change

    if verdict not in ("complaint", "not_complaint"):
        raise HTTPException(400, "verdict must be complaint or not_complaint")
    if severity and severity not in SEVERITIES:
        raise HTTPException(400, f"severity must be one of {', '.join(SEVERITIES)}")
    change = Change(complaint=verdict == "complaint", categories=tuple(c for c in categories if c) or None,
                    severity=severity or None, reason=reason)
    state = request.app.state
    try:
        with state.db.session() as s:
            m = s.get(Mention, mention_id) if 0 < mention_id < 2**31 else None
            if m is None:
                raise HTTPException(404, f"没有这条帖子 No post #{mention_id}")
            row = actions.do_correct_mention(s, m, request.state.principal, state.clock.now(), change=change,
                                             settings=state.config.alerts)
            done = (f"已标注，工单 #{row.ticket_id} Labelled; ticket #{row.ticket_id}" if row.ticket_id
                    else "已标注 Post labelled.")
        flash(request, done)
    except actions.ActionError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/overview")
def overview_page(request: Request, range: str = Query("7d", max_length=5)):
    state = request.app.state
    days = RANGES.get(range, 7)
    with state.db.session() as s:
        since, until = default_window(s, state.clock.now(), days)
        o = overview(s, since, until, state.tz)
    fmt = "%m-%d %H:%M" if o.bin_size < timedelta(days=1) else "%m-%d"
    volume = bar_line_chart(o.bins, o.volume, o.negative_share, tz=state.tz, time_fmt=fmt, bar_name="声量 mentions",
                            line_name="负面占比 negative share", line_share=True,
                            caption="声量与负面占比 Volume and negative share", width=1200)
    categories = hbars([(f"{CATEGORY[k]} {k}", n) for k, n in o.categories], caption="投诉类别 Complaint categories",
                       css="bar cat")
    sources = hbars([(name, n) for name, n, _ in o.sources], caption="来源 Top sources", css="bar src")
    return page(request, "overview.html", o=o, volume_chart=volume, category_chart=categories,
                source_chart=sources, range=range if range in RANGES else "7d", ranges=list(RANGES))
