from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Correction(Base):
    """A team member's verdict on one mention: is it a complaint, about what, how severe.

    One row per mention per correction. A correction made on a ticket writes one row for each post in
    its incident (same `ticket_id`, `at` and `actor`), so the training export and the precision report
    work per mention. Each row holds the *whole* label after the correction (what the agent changed,
    applied on top of the mention's previous label), plus the model's prediction stored at that moment,
    so "latest correction per mention wins" and "prediction vs correction" need no other table.
    `changed` names the fields the agent actually set."""

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[Optional[int]] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    # the label after this correction
    complaint: Mapped[bool] = mapped_column(Boolean)
    categories: Mapped[list] = mapped_column(default=list)
    severity: Mapped[Optional[str]] = mapped_column(String(10))
    changed: Mapped[list] = mapped_column(default=list)      # "complaint", "categories", "severity"
    reason: Mapped[Optional[str]] = mapped_column(Text)
    # the model's stored prediction (the mention's Analysis) when the correction was made
    predicted: Mapped[dict] = mapped_column(default=dict)
