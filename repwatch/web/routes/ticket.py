"""One ticket: evidence timeline, volume against baseline, audit trail, and the actions an agent takes.

Every action is a POST form with the CSRF token, answered by a redirect back to the ticket (so a
reload never repeats it) with a flash message saying what happened."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from alerts import TRANSITIONS, Change, is_dismissed, other_tickets, related, replies
from repwatch.web import actions
from repwatch.web.charts import bar_line_chart
from repwatch.web.deps import agent, csrf, principal
from repwatch.web.queries.evidence import detector_alarms, evidence, incident_volume
from repwatch.web.queries.queue import is_breached, next_due
from repwatch.web.render import flash, page
from storage.models import Incident, IncidentMention, Mention, Ticket
from storage.corrections import latest_labels
from storage.vocabulary import CATEGORIES, SEVERITIES

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)

VERDICTS = {"": None, "complaint": True, "not_complaint": False}
SILENCE_CHOICES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24),
                   "3d": timedelta(days=3), "7d": timedelta(days=7)}


def _ticket(s, ticket_id: int) -> Ticket:
    t = s.get(Ticket, ticket_id) if 0 < ticket_id < 2**31 else None
    if t is None:
        raise HTTPException(404, f"没有这个工单 No ticket #{ticket_id}")
    return t


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: int, template: str = ""):
    """`?template=delivery.en` fills the reply box from that template (default: the ticket's category, zh)."""
    state = request.app.state
    now = state.clock.now()
    with state.db.session() as s:
        t = _ticket(s, ticket_id)
        incident = s.get(Incident, t.incident_id)
        items = evidence(s, t.incident_id)
        volume = incident_volume(s, incident, [i.when for i in items], state.tz)
        fmt = "%m-%d %H:%M" if volume.bin_size < timedelta(days=1) else "%m-%d"
        chart = bar_line_chart(volume.bins, volume.counts, volume.expected, tz=state.tz, time_fmt=fmt,
                               bar_name="帖子数 posts", line_name="预期 expected (history)",
                               caption="事件声量与预期基线 Incident volume vs expected baseline")
        due, due_kind = next_due(t, now)
        labels = latest_labels(s, [i.mention.id for i in items])
        try:
            chosen, draft = replies.draft(s, t, template[:60] or None, now=now, tz=state.tz)
        except replies.ReplyError:
            chosen, draft = replies.draft(s, t, None, now=now, tz=state.tz)
        reply_events = [e for e in t.events if e.kind == "reply"]
        others = other_tickets(s, t)
        return page(request, "ticket.html", t=t, incident=incident, related=related(s, incident), items=items,
                    chart=chart, volume=volume,
                    alarms=detector_alarms(s, t.incident_id), events=list(t.events), due=due, due_kind=due_kind,
                    breached=is_breached(t, now), moves=TRANSITIONS.get(t.state, ()),
                    silences=list(SILENCE_CHOICES), can_act=request.state.principal.can("agent"),
                    categories=CATEGORIES, severities=SEVERITIES, dismissed=is_dismissed(s, t),
                    labels=labels, reply_template=chosen.key, reply_draft=draft,
                    reply_templates=sorted(replies.templates()), replied=bool(reply_events),
                    earlier=[o for o in others if o.earlier], later=[o for o in others if not o.earlier])


def _act(request: Request, ticket_id: int, action, done: str):
    """Run one action in its own unit of work; a refused action rolls back and says why."""
    state = request.app.state
    try:
        with state.db.session() as s:
            action(s, _ticket(s, ticket_id), request.state.principal, state.clock.now())
        flash(request, done)
    except actions.ActionError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/{ticket_id}/assign", dependencies=[agent, csrf])
def assign(request: Request, ticket_id: int, assignee: str = Form(""), department: str = Form(""),
           note: str = Form("")):
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_assign(
        s, t, who, now, assignee=assignee, department=department, note=note), "已分派 Assigned.")


@router.post("/tickets/{ticket_id}/move", dependencies=[agent, csrf])
def move(request: Request, ticket_id: int, state: str = Form(...), note: str = Form("")):
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_move(s, t, who, now, state=state, note=note),
                "状态已更新 State changed.")


@router.post("/tickets/{ticket_id}/note", dependencies=[agent, csrf])
def note(request: Request, ticket_id: int, note: str = Form("")):
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_note(s, t, who, now, note=note),
                "备注已添加 Note added.")


@router.post("/tickets/{ticket_id}/reply", dependencies=[agent, csrf])
def reply(request: Request, ticket_id: int, text: str = Form(""), template: str = Form("")):
    """The reply given to the customer, recorded on the ticket (the first one is the first response)."""
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_reply(
        s, t, who, now, text=text, template=template[:60] or None), "答复已记录 Reply recorded.")


@router.post("/tickets/{ticket_id}/merge", dependencies=[agent, csrf])
def merge(request: Request, ticket_id: int, into: int = Form(..., ge=1, le=2**31 - 1), reason: str = Form("")):
    """Merge this (duplicate) ticket into ticket `into`; the page shown next is the surviving ticket."""
    state = request.app.state
    try:
        with state.db.session() as s:
            actions.do_merge(s, _ticket(s, ticket_id), request.state.principal, state.clock.now(), into=into,
                             reason=reason, settings=state.config.alerts)
        flash(request, f"已合并到 #{into} Merged into #{into}.")
        return RedirectResponse(f"/tickets/{into}", status_code=303)
    except actions.ActionError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/{ticket_id}/follow-up", dependencies=[agent, csrf])
def follow_up(request: Request, ticket_id: int, satisfied: str = Form(...), note: str = Form("")):
    if satisfied not in ("yes", "no"):
        raise HTTPException(400, "satisfied must be yes or no")
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_follow_up(
        s, t, who, now, satisfied=satisfied == "yes", note=note), "回访结果已记录 Follow-up recorded.")


@router.post("/tickets/{ticket_id}/silence", dependencies=[agent, csrf])
def silence(request: Request, ticket_id: int, duration: str = Form(...), comment: str = Form("")):
    if duration not in SILENCE_CHOICES:
        raise HTTPException(400, f"duration must be one of {', '.join(SILENCE_CHOICES)}")
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_silence(
        s, t, who, now, duration=SILENCE_CHOICES[duration], comment=comment), "已静默 Silenced.")


def _change(verdict: str, categories: list[str], severity: str, reason: str) -> Change:
    if verdict not in VERDICTS:
        raise HTTPException(400, "verdict must be complaint, not_complaint or empty")
    if severity and severity not in SEVERITIES:
        raise HTTPException(400, f"severity must be one of {', '.join(SEVERITIES)}")
    return Change(complaint=VERDICTS[verdict], categories=tuple(categories) or None, severity=severity or None,
                  reason=reason)


@router.post("/tickets/{ticket_id}/correct", dependencies=[agent, csrf])
def correct(request: Request, ticket_id: int, verdict: str = Form(""), categories: list[str] = Form([]),
            severity: str = Form(""), reason: str = Form("")):
    """更正: not a complaint (closes the ticket as dismissed), is a complaint, other categories or severity."""
    change = _change(verdict, categories, severity, reason)
    settings = request.app.state.config.alerts
    return _act(request, ticket_id, lambda s, t, who, now: actions.do_correct(
        s, t, who, now, settings=settings, change=change), "已更正，路由已更新 Corrected; routing updated.")


@router.post("/tickets/{ticket_id}/mentions/{mention_id}/correct", dependencies=[agent, csrf])
def correct_mention(request: Request, ticket_id: int, mention_id: int, verdict: str = Form(""),
                    reason: str = Form("")):
    """Label one post of the ticket's evidence as (not) a complaint."""
    change = _change(verdict, [], "", reason)

    def action(s, t, who, now):
        m = s.get(Mention, mention_id) if 0 < mention_id < 2**31 else None
        linked = m is not None and s.scalar(select(IncidentMention.id).where(
            IncidentMention.incident_id == t.incident_id, IncidentMention.mention_id == m.id)) is not None
        if m is None or not linked:
            raise HTTPException(404, f"post #{mention_id} is not evidence of ticket #{t.id}")
        actions.do_correct_mention(s, m, who, now, change=change)

    return _act(request, ticket_id, action, "已标注 Post labelled.")
