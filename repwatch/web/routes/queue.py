"""The queue page (/): what is burning now. `?fragment=1` returns just the counters and the table,
which static/app.js fetches to refresh the page in place.

Views ("mine", "unassigned", "breaching soon"), filters, saved views per user, and bulk actions on the
selected tickets (assign, move, close: the same actions, through repwatch/web/actions.py, as on the
ticket page, so each ticket gets the same audit trail)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from storage.vocabulary import TICKET_STATES as STATES
from repwatch.web import actions
from repwatch.web.deps import agent, csrf, principal
from repwatch.web.labels import CATEGORIES, SEVERITIES
from repwatch.web.queries.queue import (VIEWS, QueueFilters, counters, filter_choices, queue,
                                        untracked_incidents)
from repwatch.web.render import flash, page
from storage.models import SavedView, Ticket

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)

MAX_BULK = 200
MAX_VIEWS = 30
BULK_ACTIONS = ("assign", "move", "close")


def queue_filters(request: Request, state: list[str] = Query([]), severity: list[str] = Query([]),
                  category: list[str] = Query([]), department: str = Query("", max_length=200),
                  source: str = Query(""), breached: str = Query(""), assignee: str = Query("", max_length=200),
                  target: str = Query("", max_length=200), view: str = Query(""),
                  day_from: str = Query("", alias="from", max_length=20),
                  day_to: str = Query("", alias="to", max_length=20)) -> QueueFilters:
    """Lenient on purpose: an unknown value in a bookmarked URL is dropped, not an error page. `from` and
    `to` are local days (the team's timezone) the tickets' clocks started in, as the reports count them."""
    return QueueFilters(
        state=[s for s in state if s in STATES], severity=[s for s in severity if s in SEVERITIES],
        category=[c for c in category if c in CATEGORIES], department=department.strip() or None,
        source=int(source) if source.isdigit() and len(source) < 10 else None,
        breached=breached in ("1", "true", "on", "yes"), assignee=assignee.strip() or None,
        target=target.strip() or None, view=view if view in VIEWS else None,
        me=request.state.principal.name, day_from=_day(day_from), day_to=_day(day_to), tz=request.app.state.tz)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _back(to: str) -> str:
    """Only a path on this site (never //evil.example or https://...) is followed back."""
    return to if to.startswith("/") and not to.startswith("//") and "\\" not in to else "/"


@router.get("/")
def queue_page(request: Request, f: QueueFilters = Depends(queue_filters), fragment: str = Query("")):
    state = request.app.state
    now = state.clock.now()
    who = request.state.principal
    with state.db.session() as s:
        rows = queue(s, f, now)
        saved = list(s.scalars(select(SavedView).where(SavedView.user_id == who.id).order_by(SavedView.name)))
        context = dict(rows=rows, counts=counters(s, now, state.tz), filters=f,
                       choices=filter_choices(s, state.config.alerts), untracked=untracked_incidents(s),
                       states=STATES, severities=SEVERITIES, categories=CATEGORIES, views=VIEWS,
                       saved=saved, query=f.query_string(), can_act=who.can("agent"),
                       bulk_states=[st for st in STATES if st != "closed"])
        if fragment:
            return page(request, "_queue_body.html", **context)
        return page(request, "queue.html", **context)


@router.post("/queue/bulk", dependencies=[agent, csrf])
def bulk(request: Request, ticket: list[int] = Form([]), action: str = Form(""), assignee: str = Form(""),
         department: str = Form(""), state: str = Form(""), back: str = Form("/")):
    """One action on every selected ticket, each in its own unit of work: a ticket that refuses (closed,
    a move its state does not allow) is named in the message and the others go ahead."""
    app = request.app.state
    ids = sorted({t for t in ticket if 0 < t < 2**31})
    if action not in BULK_ACTIONS:
        flash(request, "选择一个操作 Choose an action: assign, move or close", "error")
    elif not ids:
        flash(request, "没有选中工单 No tickets selected", "error")
    elif len(ids) > MAX_BULK:
        flash(request, f"at most {MAX_BULK} tickets at once", "error")
    else:
        done, refused = [], []
        for ticket_id in ids:
            try:
                with app.db.session() as s:
                    t = s.get(Ticket, ticket_id)
                    if t is None:
                        raise actions.ActionError(f"no ticket #{ticket_id}")
                    who, now = request.state.principal, app.clock.now()
                    if action == "assign":
                        actions.do_assign(s, t, who, now, assignee=assignee, department=department,
                                          alert_settings=app.config.alerts)
                    else:
                        actions.do_move(s, t, who, now, state="closed" if action == "close" else state)
                done.append(ticket_id)
            except actions.ActionError as exc:
                refused.append(f"#{ticket_id}: {exc}")
        if done:
            flash(request, f"已处理 Done ({action}): " + ", ".join(f"#{i}" for i in done))
        if refused:
            flash(request, "未处理 Refused: " + "; ".join(refused), "error")
    return RedirectResponse(_back(back), status_code=303)


@router.post("/queue/views", dependencies=[csrf])
def save_view(request: Request, name: str = Form(""), query: str = Form("")):
    """Save the current filters under a name, for this user; the same name again replaces it."""
    name, query = name.strip()[:100], query.strip().lstrip("?")[:2000]
    who = request.state.principal
    if not name:
        flash(request, "给视图起个名字 Name the view", "error")
        return RedirectResponse("/?" + query if query else "/", status_code=303)
    with request.app.state.db.session() as s:
        view = s.scalar(select(SavedView).where(SavedView.user_id == who.id, SavedView.name == name))
        count = len(list(s.scalars(select(SavedView.id).where(SavedView.user_id == who.id))))
        if view is None and count >= MAX_VIEWS:
            flash(request, f"at most {MAX_VIEWS} saved views; delete one first", "error")
        elif view is None:
            s.add(SavedView(user_id=who.id, name=name, query=query))
            flash(request, f"已保存视图 Saved view “{name}”")
        else:
            view.query = query
            flash(request, f"已更新视图 Updated view “{name}”")
    return RedirectResponse("/?" + query if query else "/", status_code=303)


@router.post("/queue/views/{view_id}/delete", dependencies=[csrf])
def delete_view(request: Request, view_id: int):
    with request.app.state.db.session() as s:
        view = s.get(SavedView, view_id) if 0 < view_id < 2**31 else None
        if view is not None and view.user_id == request.state.principal.id:   # only one's own
            s.delete(view)
            flash(request, f"已删除视图 Deleted view “{view.name}”")
    return RedirectResponse("/", status_code=303)
