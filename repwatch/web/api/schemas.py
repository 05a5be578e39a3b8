"""The JSON API's request and response shapes; they are also its OpenAPI document."""
from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, tzinfo
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from storage.vocabulary import Category, Severity
from storage.vocabulary import TicketState as State

Sentiment = Literal["negative", "positive", "complaint"]
SilenceLength = Literal["1h", "4h", "24h", "3d", "7d", "14d", "30d"]


def _storable(value: str) -> str:
    """Text a database can hold: NUL is dropped (PostgreSQL refuses it); lone surrogates, which are not
    valid Unicode and cannot be encoded, are refused."""
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]

# The team's timezone for the request being answered (set by repwatch.web.app's TeamClock middleware):
# every time in a JSON answer is ISO-8601 with the team's offset, "2026-12-01T13:45:00+08:00", the same
# wall-clock time the pages and the CLI show. Outside a request (none set) times stay in UTC.
TEAM_TZ: ContextVar[Optional[tzinfo]] = ContextVar("repwatch_team_tz", default=None)


def _team_time(value: datetime) -> str:
    from storage.timefmt import local_time

    return local_time(value, TEAM_TZ.get(), "iso")


When = Annotated[datetime, PlainSerializer(_team_time, return_type=str, when_used="json"),
                 WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TicketOut(Out):
    id: int
    incident_id: int
    state: str
    severity: str
    priority: int
    category: Optional[str]
    title: str
    department: Optional[str]
    assignee: Optional[str]
    opened_at: When
    updated_at: When
    first_response_due: Optional[When]
    resolution_due: Optional[When]
    first_response_at: Optional[When]
    resolved_at: Optional[When]
    closed_at: Optional[When]
    escalation_level: int
    reopen_count: int
    follow_up_satisfied: Optional[bool]
    sla_breached: bool = False
    next_due: Optional[When] = None


class EventOut(Out):
    id: int
    at: When
    actor: str
    kind: str
    from_state: Optional[str]
    to_state: Optional[str]
    note: Optional[str]
    detail: dict


class MentionOut(BaseModel):
    id: int
    source: Optional[str]
    url: Optional[str] = Field(description="the post's address, only when it is http(s)")
    author: Optional[str]
    author_followers: Optional[int]
    title: Optional[str]
    text: str
    published_at: Optional[When]
    collected_at: When
    likes: Optional[int]
    reposts: Optional[int]
    comments: Optional[int]
    sentiment: Optional[float]
    negative: Optional[bool]
    complaint: Optional[bool]
    severity: Optional[str]
    categories: list[str]
    signals: list[str]
    complaint_score: Optional[float] = Field(
        default=None, description="the complaint model's calibrated probability that the post is a complaint; "
                                  "null when no model read it (other languages, or analysed before it was stored)")
    confidence: dict[str, float] = Field(
        default_factory=dict, description="the category model's confidence for each of `categories`")


class IncidentOut(Out):
    id: int
    key: str
    target: Optional[str]
    category: Optional[str]
    title: str
    severity: str
    signals: list
    first_seen: When
    last_seen: When
    mention_count: int
    reach: int
    status: str


class Counters(BaseModel):
    open: int
    urgent: int
    important: int
    general: int
    breached: int
    unassigned: int
    new: int
    opened_today: int


class TicketList(BaseModel):
    counts: Counters
    items: list[TicketOut]


class TicketDetail(BaseModel):
    ticket: TicketOut
    incident: IncidentOut
    events: list[EventOut]
    evidence: list[MentionOut]


class IncidentDetail(BaseModel):
    incident: IncidentOut
    open_ticket_id: Optional[int]
    mentions: list[MentionOut]


class MentionPage(BaseModel):
    total: int
    items: list[MentionOut]


class Me(BaseModel):
    name: str
    role: str
    via_token: bool


class AssignIn(BaseModel):
    assignee: Optional[Annotated[Text, Field(max_length=200)]] = None
    department: Optional[Annotated[Text, Field(max_length=200)]] = None
    note: Optional[Annotated[Text, Field(max_length=4000)]] = None


class MoveIn(BaseModel):
    state: State
    note: Optional[Annotated[Text, Field(max_length=4000)]] = None


class NoteIn(BaseModel):
    note: Annotated[Text, Field(min_length=1, max_length=4000)]


class ReplyIn(BaseModel):
    """The answer given to the customer, as sent (copy it to the platform yourself); the first reply is the
    ticket's first response."""
    text: Annotated[Text, Field(min_length=1, max_length=8000)]
    template: Optional[Annotated[str, Field(max_length=60)]] = Field(
        None, description="the reply template it was drafted from, e.g. delivery.zh")


class ReplyDraft(BaseModel):
    template: str = Field(description="category.lang, e.g. delivery.zh")
    text: str
    templates: list[str] = Field(description="every template there is")


class MergeIn(BaseModel):
    """Merge this ticket, a duplicate, into ticket `into`: the evidence joins `into`, this ticket is closed,
    both audit trails say so, and `into` takes the worse severity and the sooner due times."""
    into: Annotated[int, Field(ge=1, le=2**31 - 1, description="the ticket that stays")]
    reason: Optional[Annotated[Text, Field(max_length=4000)]] = Field(
        None, description="why they are one complaint; kept in both audit trails")


class FollowUpIn(BaseModel):
    satisfied: bool = Field(description="回访: is the customer satisfied with the outcome")
    note: Optional[Annotated[Text, Field(max_length=4000)]] = None


class SilenceIn(BaseModel):
    duration: SilenceLength = "24h"
    comment: Optional[Annotated[Text, Field(max_length=4000)]] = None


class SilenceOut(Out):
    id: int
    target: Optional[str]
    incident_id: Optional[int]
    starts_at: When
    ends_at: When
    created_by: str
    comment: Optional[str]


class ActionResult(BaseModel):
    ticket: TicketOut
    event: Optional[EventOut] = Field(description="the audit-trail entry this action wrote")


class MergeResult(BaseModel):
    ticket: TicketOut = Field(description="the ticket that stays (`into`), as it is after the merge")
    merged: TicketOut = Field(description="the duplicate, now closed")
    event: Optional[EventOut] = Field(description="the `merged` entry in the staying ticket's audit trail")


class CorrectionIn(BaseModel):
    """更正: leave a field out to keep it. Categories or a severity imply "is a complaint"; saying it is not
    a complaint closes the ticket as dismissed."""

    complaint: Optional[bool] = Field(default=None, description="is it a complaint (投诉) at all")
    categories: Optional[Annotated[list[Category], Field(min_length=1, max_length=7)]] = Field(
        default=None, description="the right categories; the first one routes the ticket")
    severity: Optional[Severity] = None
    reason: Optional[Annotated[Text, Field(max_length=4000)]] = None


class CorrectionOut(Out):
    id: int
    mention_id: Optional[int]
    ticket_id: Optional[int]
    at: When
    actor: str
    complaint: bool
    categories: list[str]
    severity: Optional[str]
    changed: list[str]
    reason: Optional[str]
    predicted: dict = Field(description="the model's stored prediction when the correction was made")


class CorrectionResult(ActionResult):
    corrections: int = Field(description="posts labelled by this correction (one per post of the incident)")
