from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base


class Incident(Base):
    """Mentions about the same issue, across sources, grouped under one natural key."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    target: Mapped[Optional[str]] = mapped_column(String(200), index=True)
    category: Mapped[Optional[str]] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)           # the representative text
    severity: Mapped[str] = mapped_column(String(10))
    signals: Mapped[list[str]] = mapped_column(default=list)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    mention_count: Mapped[int] = mapped_column(default=0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    signature: Mapped[Optional[list]]                  # MinHash values (grouping before migration 0003)
    terms: Mapped[Optional[dict]]                      # grouping state: centroid and first-post terms (alerts/incidents/grouping.py)
    label: Mapped[Optional[str]] = mapped_column(String(300))   # key terms, e.g. 拉肚子 · 过期三明治 · 门店
    # sum of its posts' centred unit sentence vectors, float32 bytes (alerts/incidents/grouping.py; migration 0011)
    centroid: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    merged_into: Mapped[Optional[int]]                 # the incident this one was merged into (status "merged")
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    mentions: Mapped[list["IncidentMention"]] = relationship(back_populates="incident", cascade="all, delete-orphan")
    tickets: Mapped[list["Ticket"]] = relationship(back_populates="incident")


class MentionVector(Base):
    """A complaint's sentence vector (multilingual-e5-small, unit length, float16: 768 bytes), computed once
    when it is grouped, so a restart, a merge or a move-out rebuilds centroids without encoding again."""

    __tablename__ = "mention_vector"

    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[str] = mapped_column(String(60))     # the encoder's version (sentence vectors of two models do not compare)


class IncidentMention(Base):
    __tablename__ = "incident_mention"
    __table_args__ = (UniqueConstraint("incident_id", "mention_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())

    incident: Mapped[Incident] = relationship(back_populates="mentions")


class Ticket(Base):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    # Equals incident_id while the ticket is open and NULL once closed: a unique column that
    # enforces "one open ticket per incident" on every backend (NULLs never collide).
    open_incident_id: Mapped[Optional[int]] = mapped_column(unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(default=3)
    category: Mapped[Optional[str]] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    department: Mapped[Optional[str]] = mapped_column(String(200))
    assignee: Mapped[Optional[str]] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_due: Mapped[Optional[datetime]]
    resolution_due: Mapped[Optional[datetime]]
    first_response_at: Mapped[Optional[datetime]]
    resolved_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    # Set while the ticket waits for the customer (waiting_customer): the SLA clock is stopped from then,
    # and on resuming both due times move later by the time spent waiting (alerts/tickets/sla.py).
    paused_at: Mapped[Optional[datetime]]
    escalation_level: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    follow_up_satisfied: Mapped[Optional[bool]] = mapped_column(Boolean)
    external_refs: Mapped[dict] = mapped_column(default=dict)

    incident: Mapped[Incident] = relationship(back_populates="tickets")
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """The audit trail. `event_key`, when set, makes a write idempotent (attach mention 42 once)."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    event_key: Mapped[Optional[str]] = mapped_column(String(300), unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[Optional[str]] = mapped_column(String(20))
    to_state: Mapped[Optional[str]] = mapped_column(String(20))
    note: Mapped[Optional[str]] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Notification(Base):
    """The notification log: one row per (what, to whom). A key already here is never sent again."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))      # ticket | health | digest | escalation
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), index=True)    # pending | sent | failed | silenced
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[Optional[datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    summary: Mapped[Optional[str]] = mapped_column(Text)
    # The alert itself, so a delivery that failed is rebuilt and retried on a later run.
    payload: Mapped[dict] = mapped_column(default=dict)
    group_key: Mapped[Optional[str]] = mapped_column(String(300))
    due_at: Mapped[Optional[datetime]]                 # group_wait, quiet hours and retry backoff
    sends: Mapped[int] = mapped_column(default=0)      # deliveries so far (repeat_interval re-sends)


class Silence(Base):
    __tablename__ = "silence"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[Optional[str]] = mapped_column(String(200))
    incident_id: Mapped[Optional[int]] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[Optional[str]] = mapped_column(Text)


class DetectorState(Base):
    """Saved state, so a restart resumes where it stopped: the online spread detectors, the engagement
    cursor, and the chat robots' send windows (`rate:<hash of the URL>`, alerts/dispatch.py)."""

    __tablename__ = "detector_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    state: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class SpreadAlarm(Base):
    __tablename__ = "spread_alarm"
    __table_args__ = (UniqueConstraint("series", "bin_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(300))
    bin_start: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    incident_id: Mapped[Optional[int]] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    detail: Mapped[dict] = mapped_column(default=dict)
