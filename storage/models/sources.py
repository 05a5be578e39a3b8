from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base


class Source(Base):
    """A configured source, with its fetch state and health. Rows are created from schedules.yaml by name."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Conditional GET and cursors: collector-owned state that survives restarts.
    etag: Mapped[Optional[str]] = mapped_column(String(500))
    last_modified: Mapped[Optional[str]] = mapped_column(String(100))
    state: Mapped[dict] = mapped_column(default=dict)
    # Health
    last_run_at: Mapped[Optional[datetime]]
    last_success_at: Mapped[Optional[datetime]]
    last_item_at: Mapped[Optional[datetime]]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    error_counts: Mapped[dict] = mapped_column(default=dict)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    health: Mapped[str] = mapped_column(String(20), default="unknown")
    typical_items: Mapped[Optional[float]]
    # Paused by an admin from the sources page: `repwatch run` and the scheduler skip it until resumed
    # (`enabled: false` in the config is the permanent switch; this one needs no config change).
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    paused_by: Mapped[Optional[str]] = mapped_column(String(200))
    paused_at: Mapped[Optional[datetime]]

    runs: Mapped[list["CollectionRun"]] = relationship(back_populates="source", cascade="all, delete-orphan")


class CollectionRun(Base):
    __tablename__ = "collection_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[Optional[datetime]]
    # ok | not_modified | partial | failed | running
    status: Mapped[str] = mapped_column(String(20), default="running")
    new_count: Mapped[int] = mapped_column(default=0)
    duplicate_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    http_status: Mapped[Optional[int]]
    error_kind: Mapped[Optional[str]] = mapped_column(String(60))
    error: Mapped[Optional[str]] = mapped_column(Text)
    problems: Mapped[list] = mapped_column(default=list)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer)

    source: Mapped[Source] = relationship(back_populates="runs")


class EngagementSnapshot(Base):
    """Engagement counts as seen at one collection. Kept, never overwritten, so alerts see velocity."""

    __tablename__ = "engagement_snapshot"
    __table_args__ = (UniqueConstraint("mention_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime]
    likes: Mapped[Optional[int]]
    reposts: Mapped[Optional[int]]
    comments: Mapped[Optional[int]]
    author_followers: Mapped[Optional[int]]


class ImportedFile(Base):
    """An export file already loaded by the `import` collector, keyed by content hash."""

    __tablename__ = "imported_file"
    __table_args__ = (UniqueConstraint("source_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(500))
    rows_ok: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[datetime] = mapped_column(server_default=func.now())
