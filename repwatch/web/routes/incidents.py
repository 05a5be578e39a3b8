"""The incidents page: every open incident with what it is about (label), its size and trend, category,
severity and ticket; an agent opens a ticket from it, merges it into another, moves a mention out, or
dismisses it with a reason. Every action is a POST form with the CSRF token, answered by a redirect."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from alerts import AlertError
from repwatch.web.actions import actor
from repwatch.web.deps import agent, csrf, principal
from repwatch.web.render import flash, page
from storage.models import Incident, IncidentMention, Mention, Ticket

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)
DAY = timedelta(days=1)


def _rows(s, now, limit: int = 300) -> list[dict]:
    incidents = list(s.scalars(select(Incident).where(Incident.status == "open")
                               .order_by(Incident.last_seen.desc(), Incident.id.desc()).limit(limit)))
    ids = [i.id for i in incidents] or [-1]
    recent: dict[int, list[int]] = {}
    happened = Mention.happened_at
    for incident_id, when in s.execute(select(IncidentMention.incident_id, happened)
                                       .join(Mention, Mention.id == IncidentMention.mention_id)
                                       .where(IncidentMention.incident_id.in_(ids), happened >= now - 2 * DAY)):
        pair = recent.setdefault(incident_id, [0, 0])
        pair[0 if when >= now - DAY else 1] += 1
    tickets = dict(s.execute(select(Ticket.incident_id, func.max(Ticket.id)).where(Ticket.incident_id.in_(ids))
                             .group_by(Ticket.incident_id)).all())
    open_ids = set(s.scalars(select(Ticket.open_incident_id).where(Ticket.open_incident_id.in_(ids))))
    return [dict(incident=i, last_day=recent.get(i.id, [0, 0])[0], day_before=recent.get(i.id, [0, 0])[1],
                 ticket=tickets.get(i.id), ticket_open=i.id in open_ids) for i in incidents]


@router.get("/incidents")
def incidents_page(request: Request):
    state = request.app.state
    with state.db.session() as s:
        return page(request, "incidents.html", rows=_rows(s, state.clock.now()),
                    can_act=request.state.principal.can("agent"))


def _act(request: Request, action, done: str):
    state = request.app.state
    try:
        with state.db.session() as s:
            message = action(s, actor(request.state.principal), state.clock.now())
        flash(request, message or done)
    except AlertError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/incidents", status_code=303)


def _number(value: str, what: str) -> int:
    value = (value or "").strip().lstrip("#")
    if not value.isdigit() or len(value) > 9:
        raise HTTPException(400, f"{what} must be a number")
    return int(value)


@router.post("/incidents/{incident_id}/ticket", dependencies=[agent, csrf])
def open_ticket(request: Request, incident_id: int):
    """Open a ticket for an incident, with the alert a ticket opened by the pipeline sends: logged in
    the notification log in the ticket's own transaction, then delivered at once (a failed delivery
    stays pending and the next `repwatch run` retries it, as for any pipeline alert)."""
    from alerts import TicketChanges, attach_evidence, ensure_ticket
    from repwatch.pipeline import deliver_pending, queue_alerts

    state = request.app.state
    config, now = state.config, state.clock.now()
    try:
        with state.db.session() as s:
            incident = s.get(Incident, incident_id)
            if incident is None or incident.status != "open":
                raise AlertError(f"no open incident #{incident_id}")
            who = actor(request.state.principal)
            changes = TicketChanges()
            ticket = ensure_ticket(s, incident, config.alerts, now, base_url=config.base_url, changes=changes,
                                   force=True, reason=f"opened from the incidents page by {who}")
            assert ticket is not None   # force=True always gives one
            attach_evidence(s, changes.alerts, now, config.tz)   # the top posts, as a pipeline pass attaches them
            queue_alerts(s, config, changes.alerts, now)
            message = f"工单 #{ticket.id} Ticket #{ticket.id} for incident #{incident_id}."
    except AlertError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/incidents", status_code=303)
    if changes.alerts:
        report = deliver_pending(state.db, config, now)
        if report.failed or report.retry_later:
            message += " 通知稍后重试 The notification will be retried by the next run."
    flash(request, message)
    return RedirectResponse("/incidents", status_code=303)


@router.post("/incidents/{incident_id}/merge", dependencies=[agent, csrf])
def merge(request: Request, incident_id: int, into: str = Form(...), reason: str = Form("")):
    from alerts import merge_incidents as do_merge

    into_id = _number(into, "into")
    return _act(request, lambda s, who, now: do_merge(s, incident_id, into_id, actor=who, now=now,
                                                      reason=reason.strip()[:4000] or None) and None,
                f"已合并 Incident #{incident_id} merged into #{into_id}.")


@router.post("/incidents/{incident_id}/move-out", dependencies=[agent, csrf])
def move_out(request: Request, incident_id: int, mention: str = Form(...), reason: str = Form("")):
    from alerts import move_out as do_move_out

    mention_id = _number(mention, "mention")
    return _act(request, lambda s, who, now: f"已移出 Mention {mention_id} moved out to incident #" + str(
        do_move_out(s, incident_id, mention_id, actor=who, now=now, reason=reason.strip()[:4000] or None).id) + ".",
        "")


@router.post("/incidents/{incident_id}/dismiss", dependencies=[agent, csrf])
def dismiss(request: Request, incident_id: int, reason: str = Form("")):
    from alerts import dismiss_incident as do_dismiss

    return _act(request, lambda s, who, now: do_dismiss(s, incident_id, actor=who, now=now,
                                                        reason=reason.strip()[:4000]) and None,
                f"已忽略 Incident #{incident_id} dismissed.")
