from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base
from storage.vocabulary import event_time, event_time_sql


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

    analysis: Mapped[Optional["Analysis"]] = relationship(back_populates="mention", uselist=False)

    @hybrid_property
    def happened_at(self) -> datetime:
        """The one event-time rule (storage.vocabulary.event_time), in Python and in SQL."""
        return event_time(self.published_at, self.collected_at)

    @happened_at.inplace.expression
    @classmethod
    def _happened_at_sql(cls):
        return event_time_sql(cls.published_at, cls.collected_at)


class Analysis(Base):
    __tablename__ = "analysis"

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), unique=True)
    lang: Mapped[Optional[str]] = mapped_column(String(10))
    sentiment: Mapped[float] = mapped_column(Float)       # 0..1, 1 = positive; the repwatch model
    snownlp: Mapped[Optional[float]] = mapped_column(Float)  # SnowNLP's raw score, kept as the baseline
    negative: Mapped[bool] = mapped_column(Boolean)
    complaint: Mapped[bool] = mapped_column(Boolean, index=True)
    categories: Mapped[list] = mapped_column(default=list)
    severity: Mapped[str] = mapped_column(String(10), index=True)
    signals: Mapped[list] = mapped_column(default=list)
    targets: Mapped[list] = mapped_column(default=list)     # watch targets the text names
    model_version: Mapped[str] = mapped_column(String(60))
    # The learned models' view (issue 15): the calibrated probability that the text is a complaint, and the
    # confidence of each category in `categories`. None: no model read the text (other languages, no
    # letters) or it was analysed before migration 0008.
    complaint_score: Mapped[Optional[float]] = mapped_column(Float)
    confidence: Mapped[Optional[dict]] = mapped_column()
    analyzed_at: Mapped[datetime] = mapped_column(server_default=func.now())

    mention: Mapped[Mention] = relationship(back_populates="analysis")
