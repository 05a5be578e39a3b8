from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class RunLock(Base):
    """A named lease in the database: stops two cron runs overlapping; a dead holder's lease expires."""

    __tablename__ = "run_lock"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Heartbeat(Base):
    __tablename__ = "heartbeat"

    component: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[datetime]
    detail: Mapped[dict] = mapped_column(default=dict)
    pid: Mapped[Optional[int]]
