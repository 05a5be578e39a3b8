"""Ticket actions over the API: the same functions as the page forms, so the audit trail is identical.
Agents and admins only. A refused action (an illegal state change) is 409 with the reason."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Iterator, Optional, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import Change, replies
from repwatch.web import actions
from repwatch.web.api.convert import event_out, ticket_out
from repwatch.web.api.schemas import (ActionResult, AssignIn, CorrectionIn, CorrectionOut, CorrectionResult, FollowUpIn,
                                      MergeIn, MergeResult, MoveIn, NoteIn, ReplyDraft, ReplyIn, SilenceIn)
from repwatch.web.deps import agent, csrf
from storage.models import Mention, Ticket, TicketEvent
from storage.types import parse_duration

router = APIRouter(tags=["actions"], dependencies=[agent, csrf],
                   responses={403: {"description": "needs the agent role, or a CSRF token for cookie sessions"},
                              404: {"description": "no such ticket"},
                              409: {"description": "the action is not possible in the ticket's state"}})
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Row = TypeVar("Row", Ticket, Mention)


@contextmanager
def _acting_on(request: Request, model: type[Row], row_id: int) -> Iterator[tuple[Session, Row]]:
    """Every action route's frame: the ticket (or post) in one unit of work, 404 when there is none; an
    ActionError raised inside is 409 with its reason, and the unit of work rolls back whatever the action wrote."""
    with request.app.state.db.session() as s:
        row = s.get(model, row_id)
        if row is None:
            raise HTTPException(404, f"no {model.__tablename__} #{row_id}")
        try:
            yield s, row
        except actions.ActionError as exc:
            raise HTTPException(409, str(exc)) from None


def _run(request: Request, ticket_id: int, action) -> ActionResult:
    now = request.app.state.clock.now()
    with _acting_on(request, Ticket, ticket_id) as (s, t):
        last = s.scalar(select(TicketEvent.id).where(TicketEvent.ticket_id == t.id)
                        .order_by(TicketEvent.id.desc()).limit(1)) or 0
        action(s, t, request.state.principal, now)
        s.flush()
        # the first event this action wrote (an assign may also write the move it implies)
        event = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.id > last)
                         .order_by(TicketEvent.id).limit(1))
        return ActionResult(ticket=ticket_out(t, now), event=event_out(event))


@router.post("/tickets/{ticket_id}/assign", response_model=ActionResult, summary="Assign to a person and/or department")
def assign(request: Request, ticket_id: Id, body: AssignIn):
    """`assignee` must be a user or a person the routing config names; an unknown name is refused (409)
    with the names that exist."""
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_assign(
        s, t, who, now, assignee=body.assignee, department=body.department, note=body.note,
        alert_settings=request.app.state.config.alerts))


@router.post("/tickets/{ticket_id}/move", response_model=ActionResult, summary="Move to another state")
def move(request: Request, ticket_id: Id, body: MoveIn):
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_move(s, t, who, now, state=body.state,
                                                                           note=body.note))


@router.post("/tickets/{ticket_id}/notes", response_model=ActionResult, summary="Add a note to the audit trail")
def note(request: Request, ticket_id: Id, body: NoteIn):
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_note(s, t, who, now, note=body.note))


@router.post("/tickets/{ticket_id}/reply", response_model=ActionResult,
             summary="Record the reply given to the customer (the first one is the first response)")
def reply(request: Request, ticket_id: Id, body: ReplyIn):
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_reply(
        s, t, who, now, text=body.text, template=body.template))


@router.get("/tickets/{ticket_id}/reply-draft", response_model=ReplyDraft,
            summary="A reply drafted from a template (category.lang; default: the ticket's category in Chinese)")
def reply_draft(request: Request, ticket_id: Id, template: Annotated[Optional[str], Query(max_length=60)] = None):
    app = request.app.state
    with _acting_on(request, Ticket, ticket_id) as (s, t):
        try:
            chosen, text = replies.draft(s, t, template, now=app.clock.now(), tz=app.tz)
        except replies.ReplyError as exc:
            raise HTTPException(422, str(exc)) from None
        return ReplyDraft(template=chosen.key, text=text, templates=sorted(replies.templates()))


@router.post("/tickets/{ticket_id}/merge", response_model=MergeResult,
             summary="Merge this duplicate ticket into another (the same as `repwatch ticket merge` and the page)")
def merge(request: Request, ticket_id: Id, body: MergeIn):
    """Through alerts.merge.merge_tickets, like the CLI and the ticket page. 404 when either ticket does not
    exist; 409 when the merge is not possible (a ticket into itself, a closed ticket) with the reason."""
    app = request.app.state
    now = app.clock.now()
    with _acting_on(request, Ticket, ticket_id) as (s, t):
        if s.get(Ticket, body.into) is None:
            raise HTTPException(404, f"no ticket #{body.into} to merge into")
        last = s.scalar(select(TicketEvent.id).order_by(TicketEvent.id.desc()).limit(1)) or 0
        keep = actions.do_merge(s, t, request.state.principal, now, into=body.into, reason=body.reason,
                                settings=app.config.alerts)
        s.flush()
        event = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == keep.id, TicketEvent.id > last,
                                                   TicketEvent.kind == "merged").order_by(TicketEvent.id).limit(1))
        s.refresh(t)
        return MergeResult(ticket=ticket_out(keep, now), merged=ticket_out(t, now), event=event_out(event))


@router.post("/tickets/{ticket_id}/follow-up", response_model=ActionResult,
             summary="Record the follow-up result (customer satisfied or not)")
def follow_up(request: Request, ticket_id: Id, body: FollowUpIn):
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_follow_up(
        s, t, who, now, satisfied=body.satisfied, note=body.note))


@router.post("/tickets/{ticket_id}/silence", response_model=ActionResult,
             summary="Silence notifications for the ticket's incident")
def silence(request: Request, ticket_id: Id, body: SilenceIn):
    length: timedelta = parse_duration(body.duration)
    return _run(request, ticket_id, lambda s, t, who, now: actions.do_silence(
        s, t, who, now, duration=length, comment=body.comment))



def _change(body: CorrectionIn) -> Change:
    return Change(complaint=body.complaint, categories=None if body.categories is None else tuple(body.categories),
                  severity=body.severity, reason=body.reason)


@router.post("/tickets/{ticket_id}/correction", response_model=CorrectionResult,
             summary="Correct a ticket: not a complaint, is a complaint, categories, severity (re-routes at once)")
def correct(request: Request, ticket_id: Id, body: CorrectionIn):
    app = request.app.state
    now = app.clock.now()
    with _acting_on(request, Ticket, ticket_id) as (s, t):
        rows = actions.do_correct(s, t, request.state.principal, now, settings=app.config.alerts,
                                  change=_change(body))
        s.flush()
        event = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "correction")
                         .order_by(TicketEvent.id.desc()).limit(1))
        return CorrectionResult(ticket=ticket_out(t, now), event=event_out(event), corrections=len(rows))


@router.post("/mentions/{mention_id}/correction", response_model=CorrectionOut,
             summary="Label one post: (not) a complaint, its categories or severity (training data); a missed "
                     "complaint gets a ticket at once")
def correct_mention(request: Request, mention_id: Id, body: CorrectionIn):
    app = request.app.state
    with _acting_on(request, Mention, mention_id) as (s, m):
        row = actions.do_correct_mention(s, m, request.state.principal, app.clock.now(), change=_change(body),
                                         settings=app.config.alerts)
        s.flush()
        return CorrectionOut.model_validate(row)
