"""Read endpoints: the queue, a ticket with its evidence and audit trail, incidents, mention search."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exists, select

from repwatch.web.api.convert import event_out, mention_out, ticket_out
from repwatch.web.api.schemas import (CorrectionOut, Counters, IncidentDetail, IncidentOut, Me, MentionPage, Sentiment,
                                      SilenceOut, State, TicketDetail, TicketList)
from storage.vocabulary import Category, Severity
from repwatch.web.queries.evidence import evidence
from repwatch.web.queries.queue import QueueFilters, counters, queue
from repwatch.web.queries.search import MentionFilters, search
from repwatch.web.routes.explore import clean_query
from storage.models import Correction, Incident, Silence, Source, Ticket

router = APIRouter(tags=["read"])
View = Literal["mine", "unassigned", "breaching-soon", "soon"]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _utc(value: datetime | None, name: str) -> datetime | None:
    """Naive times are taken as UTC; times that cannot be expressed in UTC are a 422, not a crash."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise RequestValidationError([{"type": "value_error", "loc": ("query", name),
                                       "msg": "time out of range", "input": str(value)}]) from None


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(request: Request):
    who = request.state.principal
    return Me(name=who.name, role=who.role, via_token=who.via_token)


@router.get("/tickets", response_model=TicketList, summary="The queue: open tickets, most urgent first")
def list_tickets(request: Request, state: Annotated[list[State], Query()] = [],  # noqa: B006
                 severity: Annotated[list[Severity], Query()] = [],  # noqa: B006
                 category: Annotated[list[Category], Query()] = [],  # noqa: B006
                 department: Annotated[Optional[str], Query(max_length=200)] = None,
                 source: Annotated[Optional[int], Query(ge=1, le=2**31 - 1, description="source id")] = None,
                 breached: bool = False,
                 view: Annotated[Optional[View], Query(
                     description="mine: assigned to the caller; unassigned: no assignee; breaching-soon (or soon, "
                                 "as in the queue page's URL): the next SLA due time within 2 hours")] = None,
                 assignee: Annotated[Optional[str], Query(max_length=200, description="exactly this person")] = None,
                 target: Annotated[Optional[str], Query(max_length=200, description="watch target of the incident")] = None,
                 day_from: Annotated[Optional[date], Query(
                     alias="from", description="local day (team's timezone) the ticket's clock started on or after: "
                                               "opened, or reopened; as the reports count tickets")] = None,
                 day_to: Annotated[Optional[date], Query(alias="to", description="... on or before (included)")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """The same filters as the queue page (/), by the same code (repwatch/web/queries/queue.py): a state list
    with `closed` in it shows closed tickets too; without states, every open one."""
    app = request.app.state
    now = app.clock.now()
    if day_from and day_to and day_from > day_to:
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "from"),
                                       "msg": f"from {day_from} is after to {day_to}", "input": str(day_from)}])
    f = QueueFilters(state=list(state), severity=list(severity), category=list(category),
                     department=clean_query(department or "") or None, source=source, breached=breached,
                     view="soon" if view == "breaching-soon" else view, me=request.state.principal.name,
                     assignee=clean_query(assignee or "") or None, target=clean_query(target or "") or None,
                     day_from=day_from, day_to=day_to, tz=app.tz)
    with app.db.session() as s:
        rows = queue(s, f, now)[:limit]
        return TicketList(counts=Counters(**counters(s, now, app.tz)), items=[ticket_out(r.ticket, now) for r in rows])


@router.get("/tickets/{ticket_id}", response_model=TicketDetail, summary="A ticket, its evidence and audit trail")
def get_ticket(request: Request, ticket_id: Id):
    app = request.app.state
    with app.db.session() as s:
        t = s.get(Ticket, ticket_id)
        if t is None:
            raise HTTPException(404, f"no ticket #{ticket_id}")
        return TicketDetail(ticket=ticket_out(t, app.clock.now()),
                            incident=IncidentOut.model_validate(s.get(Incident, t.incident_id)),
                            events=[event_out(e) for e in t.events],
                            evidence=[mention_out(i.mention, i.source, i.analysis) for i in evidence(s, t.incident_id)])


@router.get("/incidents", response_model=list[IncidentOut], summary="Incidents, most recent activity first")
def list_incidents(request: Request, status: Literal["open", "all"] = "open",
                   untracked: Annotated[bool, Query(description="only those without an open ticket")] = False,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   offset: Annotated[int, Query(ge=0, le=100_000)] = 0):
    stmt = select(Incident)
    if status == "open":
        stmt = stmt.where(Incident.status == "open")
    if untracked:
        stmt = stmt.where(~exists().where(Ticket.open_incident_id == Incident.id))
    with request.app.state.db.session() as s:
        rows = s.scalars(stmt.order_by(Incident.last_seen.desc(), Incident.id.desc()).limit(limit).offset(offset))
        return [IncidentOut.model_validate(i) for i in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, summary="An incident and its mentions")
def get_incident(request: Request, incident_id: Id):
    with request.app.state.db.session() as s:
        incident = s.get(Incident, incident_id)
        if incident is None:
            raise HTTPException(404, f"no incident #{incident_id}")
        open_ticket = s.scalar(select(Ticket.id).where(Ticket.open_incident_id == incident.id))
        return IncidentDetail(incident=IncidentOut.model_validate(incident), open_ticket_id=open_ticket,
                              mentions=[mention_out(i.mention, i.source, i.analysis) for i in evidence(s, incident.id)])


@router.get("/mentions", response_model=MentionPage, summary="Search mentions: full text and filters")
def list_mentions(request: Request, q: Annotated[str, Query(max_length=200, description="words; all must match")] = "",
                  since: Optional[datetime] = None, until: Optional[datetime] = None,
                  source: Annotated[Optional[str], Query(max_length=200, description="source name")] = None,
                  sentiment: Optional[Sentiment] = None, category: Optional[Category] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[int, Query(ge=0, le=100_000)] = 0):
    with request.app.state.db.session() as s:
        source_id = None
        if source:
            source_id = s.scalar(select(Source.id).where(Source.name == clean_query(source)))
            if source_id is None:
                return MentionPage(total=0, items=[])
        f = MentionFilters(q=clean_query(q), since=_utc(since, "since"), until=_utc(until, "until"),
                           source=source_id, sentiment=sentiment, category=category)
        rows, total = search(s, f, limit=limit, offset=offset)
        return MentionPage(total=total, items=[mention_out(m, src, a) for m, src, a in rows])


@router.get("/silences", response_model=list[SilenceOut], summary="Silences still in force")
def list_silences(request: Request):
    app = request.app.state
    with app.db.session() as s:
        rows = s.scalars(select(Silence).where(Silence.ends_at > app.clock.now()).order_by(Silence.ends_at))
        return [SilenceOut.model_validate(r) for r in rows]


@router.get("/corrections", response_model=list[CorrectionOut], summary="The team's corrections, newest first")
def list_corrections(request: Request, ticket: Annotated[Optional[int], Query(ge=1, le=2**31 - 1)] = None,
                     mention: Annotated[Optional[int], Query(ge=1, le=2**31 - 1)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     offset: Annotated[int, Query(ge=0, le=100_000)] = 0):
    stmt = select(Correction)
    if ticket is not None:
        stmt = stmt.where(Correction.ticket_id == ticket)
    if mention is not None:
        stmt = stmt.where(Correction.mention_id == mention)
    with request.app.state.db.session() as s:
        rows = s.scalars(stmt.order_by(Correction.at.desc(), Correction.id.desc()).limit(limit).offset(offset))
        return [CorrectionOut.model_validate(r) for r in rows]
