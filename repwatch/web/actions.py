"""What a team member can do to a ticket, shared by the pages and the JSON API so both leave the same
audit trail. State changes go through alerts.tickets (move/assign/record); every action is a
TicketEvent with the actor's name."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts import (
    AlertError, Change, IllegalTransition, ReplyError, assign, correct_mention, correct_ticket, merge_tickets, move,
    record, replies, silences
)
from repwatch.assignees import UnknownAssignee, check_assignee
from repwatch.exceptions import RepwatchError
from repwatch.web.users import Principal
from storage.models import Correction, Mention, Silence, Ticket

MAX_NOTE = 4000
MAX_NAME = 200
SILENCE_MIN, SILENCE_MAX = timedelta(minutes=10), timedelta(days=90)
FOLLOW_UP_STATES = ("resolved", "followed_up")


class ActionError(RepwatchError):
    """The action cannot be done as asked; the message tells the person why."""


def actor(who: Principal) -> str:
    return f"{'api' if who.via_token else 'web'}:{who.name}"


def _clean(value: str | None, limit: int, what: str) -> str | None:
    value = (value or "").replace("\x00", "").strip()
    if len(value) > limit:
        raise ActionError(f"{what} is too long ({len(value)} characters; at most {limit})")
    return value or None


def do_assign(s: Session, t: Ticket, who: Principal, now: datetime, *, assignee: str | None,
              department: str | None, note: str | None = None, alert_settings=None) -> None:
    """Assign to a person (a user, or a person the routing config names: repwatch/assignees.py) and/or
    a department."""
    assignee, department = _clean(assignee, MAX_NAME, "assignee"), _clean(department, MAX_NAME, "department")
    if not assignee and not department:
        raise ActionError("name a person (assignee) or a department to assign to")
    if t.state == "closed":
        raise ActionError(f"ticket #{t.id} is closed; reopen it before assigning")
    try:
        check_assignee(s, assignee, alert_settings, current=t.assignee)
    except UnknownAssignee as exc:
        raise ActionError(str(exc)) from None
    assign(s, t, assignee=assignee, department=department, actor=actor(who), now=now,
           note=_clean(note, MAX_NOTE, "note"))


def do_move(s: Session, t: Ticket, who: Principal, now: datetime, *, state: str, note: str | None = None) -> None:
    try:
        move(s, t, state, actor=actor(who), now=now, note=_clean(note, MAX_NOTE, "note"))
    except IllegalTransition as exc:
        raise ActionError(str(exc)) from None


def do_note(s: Session, t: Ticket, who: Principal, now: datetime, *, note: str | None) -> None:
    note = _clean(note, MAX_NOTE, "note")
    if not note:
        raise ActionError("the note is empty")
    t.updated_at = now
    record(s, t, at=now, actor=actor(who), kind="note", note=note)


def do_follow_up(s: Session, t: Ticket, who: Principal, now: datetime, *, satisfied: bool,
                 note: str | None = None) -> None:
    """回访: record whether the customer is satisfied; a resolved ticket becomes followed_up."""
    if t.state not in FOLLOW_UP_STATES:
        raise ActionError(f"ticket #{t.id} is {t.state}; the follow-up result is recorded once it is resolved")
    t.follow_up_satisfied = satisfied
    t.updated_at = now
    record(s, t, at=now, actor=actor(who), kind="follow_up", note=_clean(note, MAX_NOTE, "note"),
           detail={"satisfied": satisfied})
    if t.state == "resolved":
        move(s, t, "followed_up", actor=actor(who), now=now)


def do_reply(s: Session, t: Ticket, who: Principal, now: datetime, *, text: str | None,
             template: str | None = None) -> None:
    """The answer given to the customer (drafted from a reply template, edited by the agent), recorded on
    the ticket as a `reply` event; the first one is the ticket's first response."""
    if template:
        try:
            template = replies.resolve(template, t).key
        except ReplyError as exc:
            raise ActionError(str(exc)) from None
    try:
        replies.reply(s, t, text or "", actor=actor(who), now=now, template=template or None)
    except ReplyError as exc:
        raise ActionError(str(exc)) from None


def do_merge(s: Session, t: Ticket, who: Principal, now: datetime, *, into: int, reason: str | None = None,
             settings=None) -> Ticket:
    """Merge this duplicate ticket into ticket `into` (alerts.incidents.merge.merge_tickets): audit trail on both."""
    try:
        return merge_tickets(s, t.id, into, actor=actor(who), now=now, settings=settings,
                             reason=_clean(reason, MAX_NOTE, "reason"))
    except AlertError as exc:
        raise ActionError(str(exc)) from None


def check_silence_length(duration: timedelta) -> None:
    if not SILENCE_MIN <= duration <= SILENCE_MAX:
        raise ActionError("a silence lasts between 10 minutes and 90 days")


def do_silence(s: Session, t: Ticket, who: Principal, now: datetime, *, duration: timedelta,
               comment: str | None = None) -> Silence:
    """Mute notifications for this ticket's incident until now + duration (the ticket stays open)."""
    silence = create_silence(s, who, now, target=None, incident_id=t.incident_id, duration=duration, comment=comment)
    t.updated_at = now
    record(s, t, at=now, actor=actor(who), kind="silence", note=silence.comment,
           detail={"silence_id": silence.id, "until": silence.ends_at.isoformat()})
    return silence


def create_silence(s: Session, who: Principal, now: datetime, *, target: str | None, incident_id: int | None,
                   duration: timedelta, comment: str | None) -> Silence:
    """A Silence row through alerts.silences, the same rules the `repwatch silence add` command uses."""
    check_silence_length(duration)
    try:
        return silences.add(s, now=now, ends_at=now + duration, created_by=who.name,
                            target=_clean(target, MAX_NAME, "target"), incident_id=incident_id,
                            comment=_clean(comment, MAX_NOTE, "comment"))
    except AlertError as exc:
        raise ActionError(str(exc)) from None


def expire_silence(s: Session, silence_id: int, now: datetime) -> Silence:
    try:
        return silences.expire(s, silence_id, now)
    except AlertError as exc:
        raise ActionError(str(exc)) from None


def do_correct(s: Session, t: Ticket, who: Principal, now: datetime, *, settings, change: Change) -> list[Correction]:
    """Correct a ticket (not a complaint / is a complaint / categories / severity): labels every post of
    its incident and re-routes the ticket at once (alerts/tickets/corrections.py)."""
    try:
        return correct_ticket(s, t, change, settings, actor=actor(who), now=now)
    except AlertError as exc:
        raise ActionError(str(exc)) from None


def do_correct_mention(s: Session, m: Mention, who: Principal, now: datetime, *, change: Change,
                       settings=None) -> Correction:
    """Label one post; noted in the audit trail of the ticket it is evidence for. With the alert settings,
    a missed complaint (in no incident) gets its incident and ticket at once."""
    try:
        return correct_mention(s, m, change, actor=actor(who), now=now, settings=settings)
    except AlertError as exc:
        raise ActionError(str(exc)) from None
