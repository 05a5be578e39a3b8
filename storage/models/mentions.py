from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, String, Text, UniqueConstraint, event, func, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base
from storage.vocabulary import event_time


def _happened_default(context) -> datetime:
    """happened_at for an INSERT that did not give it (ORM objects, other writers): the event-time rule
    over the row's own values. A row that leaves collected_at to the server default (now) gets now."""
    params = context.get_current_parameters()
    collected = params.get("collected_at") or datetime.now(timezone.utc)
    return event_time(params.get("published_at"), collected)


class Mention(Base):
    """One collected post, review or imported record."""

    __tablename__ = "mention"
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[Optional[str]] = mapped_column(Text)
    # sha256 of the normalised text: finds the same post reposted on another source.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    duplicate_of_id: Mapped[Optional[int]] = mapped_column(ForeignKey("mention.id", ondelete="SET NULL"))
    author: Mapped[Optional[str]] = mapped_column(String(300))
    author_followers: Mapped[Optional[int]] = mapped_column(BigInteger)
    title: Mapped[Optional[str]] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[Optional[str]] = mapped_column(String(10))
    published_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    collected_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    rating: Mapped[Optional[float]] = mapped_column(Float)
    likes: Mapped[Optional[int]]
    reposts: Mapped[Optional[int]]
    comments: Mapped[Optional[int]]
    raw: Mapped[dict] = mapped_column(default=dict)
    # When the post happened (storage.vocabulary.event_time), stored so that queries by event time use
    # an index. Filled on every insert (from the row's own published_at and collected_at) and kept in
    # step when either changes; nullable only because SQLite cannot add a NOT NULL column in place.
    happened_at: Mapped[datetime] = mapped_column(nullable=True, index=True, default=_happened_default)

    analysis: Mapped[Optional["Analysis"]] = relationship(back_populates="mention", uselist=False)


@event.listens_for(Mention, "before_update")
def _keep_happened_at(_mapper, _conn, mention: Mention) -> None:
    """An ORM change to either time moves the event time with it."""
    state = inspect(mention)
    if state.attrs.published_at.history.has_changes() or state.attrs.collected_at.history.has_changes():
        mention.happened_at = event_time(mention.published_at, mention.collected_at)


class Analysis(Base):
    __tablename__ = "analysis"

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), unique=True)
    lang: Mapped[Optional[str]] = mapped_column(String(10))
    sentiment: Mapped[float] = mapped_column(Float)       # 0..1, 1 = positive; the repwatch model
    snownlp: Mapped[Optional[float]] = mapped_column(Float)  # SnowNLP's raw score, kept as the baseline
    negative: Mapped[bool] = mapped_column(Boolean)
    complaint: Mapped[bool] = mapped_column(Boolean, index=True)
    categories: Mapped[list[str]] = mapped_column(default=list)
    severity: Mapped[str] = mapped_column(String(10), index=True)
    signals: Mapped[list[str]] = mapped_column(default=list)
    targets: Mapped[list[str]] = mapped_column(default=list)     # watch targets the text names
    model_version: Mapped[str] = mapped_column(String(60))
    # The learned models' view (issue 15): the calibrated probability that the text is a complaint, and the
    # confidence of each category in `categories`. None: no model read the text (other languages, no
    # letters) or it was analysed before migration 0008.
    complaint_score: Mapped[Optional[float]] = mapped_column(Float)
    confidence: Mapped[Optional[dict]] = mapped_column()
    analyzed_at: Mapped[datetime] = mapped_column(server_default=func.now())

    mention: Mapped[Mention] = relationship(back_populates="analysis")
